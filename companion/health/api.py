"""Health: database, Redis, storage and workers, with queue depth."""
from __future__ import annotations

import shutil
import time

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from companion import schema_fields as fields

from companion import __version__
from companion.services import current as services

blp = Blueprint("health", __name__, url_prefix="/api/health", description="Is everything the companion needs up?")


class CheckSchema(Schema):
    ok = fields.Boolean()
    detail = fields.String()
    ms = fields.Float()


class HealthSchema(Schema):
    ok = fields.Boolean()
    version = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema))
    queue = fields.Dict()


def _check(fn) -> dict:
    t0 = time.perf_counter()
    try:
        detail = fn() or "ok"
        ok = True
    except Exception as exc:  # every failure is a finding, not a crash
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return {"ok": ok, "detail": str(detail), "ms": round((time.perf_counter() - t0) * 1000, 2)}


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Something the companion needs is down.")
    def get(self):
        """Database, Redis, object store, ffmpeg and workers; 503 when any is down."""
        svc = services()
        queue_info: dict = {}

        def workers():
            from rq import Worker

            qs = svc.queues()
            ws = [w for w in Worker.all(connection=svc.redis) if {q.name for q in w.queues} & {q.name for q in qs}]
            kinds = {q.name: q.name.rsplit(":", 1)[1] for q in qs}
            unworked = [kinds[q.name] for q in qs if not any(q.name in {wq.name for wq in w.queues} for w in ws)]
            queue_info.update({"name": svc.config.queue_name, "depth": sum(q.count for q in qs),
                               "failed": sum(q.failed_job_registry.count for q in qs),
                               "started": sum(q.started_job_registry.count for q in qs), "workers": len(ws),
                               "queues": {kinds[q.name]: q.count for q in qs}, "unworked": unworked})
            if not ws:
                raise RuntimeError("no RQ worker is running: uploads will wait in the queue")
            if unworked:
                raise RuntimeError(f"no RQ worker takes the queue(s) {', '.join(unworked)}")
            return f"{len(ws)} worker(s)"

        def ffmpeg():
            if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
                raise RuntimeError("ffmpeg/ffprobe not found on PATH")
            return "ffmpeg found"

        checks = {
            "database": _check(svc.db.ping),
            "redis": _check(lambda: svc.redis.ping() and "pong"),
            "storage": _check(lambda: svc.store.ping() or svc.store.name),
            "ffmpeg": _check(ffmpeg),
        }
        checks["workers"] = _check(workers) if checks["redis"]["ok"] else {
            "ok": False, "detail": "Redis is down", "ms": 0.0}
        ok = all(c["ok"] for c in checks.values())
        return {"ok": ok, "version": __version__, "checks": checks, "queue": queue_info}, (200 if ok else 503)
