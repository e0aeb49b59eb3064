"""Health: database, Redis, storage and workers, with queue depth."""
from __future__ import annotations

import shutil
import time

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from companion import __version__
from companion.app import services

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

            ws = Worker.all(connection=svc.redis)
            q = svc.queue()
            queue_info.update({"name": q.name, "depth": q.count, "failed": q.failed_job_registry.count,
                               "started": q.started_job_registry.count, "workers": len(ws)})
            if not ws:
                raise RuntimeError("no RQ worker is running: uploads will wait in the queue")
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
