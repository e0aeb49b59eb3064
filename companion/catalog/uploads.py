"""Accepting an uploaded recording: validate, store the original, queue the release pipeline."""
from __future__ import annotations

from pathlib import Path

from companion.access.delivery import Viewer
from companion.catalog import service
from companion.catalog.shapes import track_out
from companion.media.probe import probe
from companion.storage.base import content_key
from companion.tasks.service import create_job, submit


def accept_upload(svc, track_id: int, path: Path, filename: str, sha256: str, created_by: str | None = None,
                  viewer=None):
    """Validate ``path`` (raises a 4xx error, storing nothing), store it and queue the release job.

    Returns the job id and the track as ``viewer`` sees it (default: as the band sees it, for
    callers outside a request such as the render room's publish job).
    """
    info = probe(path, filename)  # not audio, empty, truncated, lying extension -> typed 4xx error
    key = content_key("uploads", sha256, filename)
    if not svc.store.exists(key):
        svc.store.put_file(key, path)
    viewer = viewer or Viewer.system(svc)

    fields = ("source_key", "source_sha256", "source_filename", "source_format", "duration", "status",
              "error_code", "error_message")
    with svc.db.session() as s:
        track = service.get_track(s, track_id)
        before = {f: getattr(track, f) for f in fields}
        track.source_key, track.source_sha256, track.source_filename = key, sha256, filename
        track.source_format = info.format_name
        track.duration = info.duration
        track.status = "processing"
        track.error_code = track.error_message = None
        job = create_job(s, kind="release", track_id=track_id, params={"source_key": key},
                         created_by=created_by)
        out = track_out(track, viewer)

    def undo(session) -> None:  # the queue refused: the track is as it was
        row = session.get(type(track), track_id)
        for f, v in before.items():
            setattr(row, f, v)

    submit(svc, job, "jobs.release.release_track", undo=undo)
    return job.id, out
