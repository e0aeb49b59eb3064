"""The render job and the SHF attach job that may follow it.

``render_job``: a composition version -> stems and mixdown (cached) -> SHF -> (optionally) a track,
all in :func:`companion.shf.build.render_release`. Params of the job row: composition, commit
(resolved when the job was asked for), settings, publish, title, track_id, stems.
Idempotent: an unchanged version renders nothing (the render cache), the SHF is stored under its
content hash, a track made by an earlier attempt is reused, and the release pipeline caches by its own key.

``attach_shf_job``: after the release job of a published render, the SHF download joins the track.
"""
from __future__ import annotations

from companion.shf.build import RenderRequest, attach_after_release, render_release
from companion.models import import_models
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services


def render_job(job_id: str) -> dict:
    import_models()  # a fresh worker process: the job row's foreign keys name other rooms' tables
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            params, created_by = dict(job.params), job.created_by

        def remember(more: dict) -> None:  # what a retry must reuse (the track made for it)
            with svc.db.session() as s:
                row = s.get(Job, job_id)
                row.params = {**row.params, **more}

        result = render_release(svc, RenderRequest.from_params(params), created_by,
                                progress=lambda pct, stage: set_progress(svc, job_id, pct, stage), remember=remember)
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            job.track_id = result.get("track_id", job.track_id)
            job.result = result
    return result


def attach_shf_job(job_id: str) -> dict:
    """Attach a render's SHF to its track after the release (idempotent)."""
    import_models()  # a fresh worker process: the job row's foreign keys name other rooms' tables
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        result = attach_after_release(svc, job_id, progress=lambda pct, stage: set_progress(svc, job_id, pct, stage))
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result
