"""From a render to a track: the mixdown goes through the release pipeline, the SHF becomes a download.

The release job replaces a track's renditions with its manifest's, so the SHF rendition is
attached after it (:func:`attach_shf`, idempotent) by a job that depends on the release job.
"""
from __future__ import annotations

from pathlib import Path

from companion.catalog.models import Rendition, Track
from companion.shf.spec import MEDIA_TYPE

SHF_RENDITION = "shf"


def attach_shf(session, track_id: int, key: str, size: int, sha256: str, duration: float | None = None) -> bool:
    """Add (or update) the track's ``shf`` download rendition. Returns True when it changed anything."""
    track = session.get(Track, track_id)
    if track is None:
        return False
    for r in track.renditions:
        if r.name == SHF_RENDITION:
            if r.key == key:
                return False
            r.key, r.size, r.sha256, r.duration = key, size, sha256, duration
            return True
    track.renditions.append(Rendition(name=SHF_RENDITION, kind="download", format="shf", codec="flac",
                                      container="zip", mime=MEDIA_TYPE, extension="shf", size=size, key=key,
                                      sha256=sha256, duration=duration, normalized=False))
    return True


def publish_mixdown(svc, mixdown: Path, title: str, track_id: int | None, created_by: str | None,
                    filename: str) -> tuple[int, str]:
    """Create the track if needed and hand the mixdown to the release pipeline; (track id, release job id)."""
    from companion.catalog import service as catalog
    from companion.catalog.uploads import accept_upload
    from companion.storage.base import sha256_file

    if track_id is None:
        with svc.db.session() as s:
            track_id = catalog.create_track(s, title=title).id
    job_id, _ = accept_upload(svc, track_id, mixdown, filename, sha256_file(mixdown), created_by)
    return track_id, job_id
