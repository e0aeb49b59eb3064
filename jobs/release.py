"""The release job: a track's recording -> masters, downloads, HLS ladder, preview, peaks, tags.

Thin: the job id in, one domain call (:func:`companion.media.release.release_track`), progress
on the job row; a track already on WordPress is synced only when the release succeeded.
"""
from __future__ import annotations

from companion.media import release
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services


def _record_on_track(session, job, code, message) -> None:
    release.record_failure(session, job.track_id, code, message)


def release_track(job_id: str) -> dict:
    """Run the release pipeline for the job's track. Idempotent: unchanged input does no encoding."""
    svc = services()
    result: dict = {}
    with running(svc, job_id, on_failure=_record_on_track) as outcome:
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            track_id, source_key = job.track_id, job.params.get("source_key")
        result = release.release_track(svc, track_id, source_key,
                                       progress=lambda pct, stage: set_progress(svc, job_id, pct, stage))
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    if outcome.ok:  # a failed release must not touch the published post
        release.sync_published(svc, track_id)
    return result
