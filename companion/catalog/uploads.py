"""Accepting an uploaded recording: validate, store the original, queue the release pipeline."""
from __future__ import annotations

from pathlib import Path

from companion.catalog import service
from companion.media.probe import probe
from companion.storage.base import content_key
from companion.tasks.service import create_job, enqueue_job


def accept_upload(svc, track_id: int, path: Path, filename: str, sha256: str, created_by: str | None = None):
    """Validate ``path`` (raises a 4xx error, storing nothing), store it and queue the release job.

    Returns the job id and the track as the API shows it.
    """
    info = probe(path, filename)  # not audio, empty, truncated, lying extension -> typed 4xx error
    key = content_key("uploads", sha256, filename)
    if not svc.store.exists(key):
        svc.store.put_file(key, path)
    from companion.catalog.api import track_out

    with svc.db.session() as s:
        track = service.get_track(s, track_id)
        track.source_key, track.source_sha256, track.source_filename = key, sha256, filename
        track.source_format = info.format_name
        track.duration = info.duration
        track.status = "processing"
        track.error_code = track.error_message = None
        job = create_job(s, kind="release", track_id=track_id, params={"source_key": key},
                         created_by=created_by)
        s.flush()
        # Enqueue inside the transaction: if Redis refuses, nothing about the track changes.
        enqueue_job(svc, job, "jobs.release.release_track")
        return job.id, track_out(track)
