"""The watermark job: make one buyer's marked copy of a track (embedded once, then cached)."""
from __future__ import annotations

from companion.rights import service
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services


def mark_download(job_id: str) -> dict:
    """Embed the delivery's mark and store the encoded file (params: delivery_id). Idempotent: a second
    run finds the cached copy."""
    svc = services()
    result: dict = {}
    with running(svc, job_id) as outcome:
        with svc.db.session() as s:
            delivery_id = int((s.get(Job, job_id).params or {})["delivery_id"])
        key = service.mark_delivery(svc, delivery_id, progress=lambda pct, stage: set_progress(svc, job_id, pct, stage))
        result = {"delivery_id": delivery_id, "key": key}
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result if outcome.ok else {}
