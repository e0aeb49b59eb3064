"""The generate job: the band writes a piece on a new branch (one commit per member), with progress.

Params of the job row: a :class:`companion.algorithms.service.GenerationRequest`. Retry-safe: the
branch is named when the job is queued, and an attempt that failed part-way is written afresh.
"""
from __future__ import annotations

from companion.algorithms.service import GenerationRequest, run_generation
from companion.models import import_models
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services


def generate_job(job_id: str) -> dict:
    import_models()  # a fresh worker process: the job row's foreign keys name other rooms' tables
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        with svc.db.session() as s:
            req = GenerationRequest.from_params(dict(s.get(Job, job_id).params))
        result = run_generation(svc, req, progress=lambda pct, stage: set_progress(svc, job_id, pct, stage))
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result
