"""From a render to a track: the mixdown goes through the release pipeline like an upload, and the
render's SHF bundle (built by the SHF room) becomes a download of the track once the release is done
(the release replaces the track's renditions)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

SHF_RENDITION = "shf"
#: the SHF media type (companion.shf.spec.MEDIA_TYPE, equal by test: the render room does not import
#: the SHF room, which builds on it)
SHF_MIME = "application/vnd.scripthammer.shf+zip"


def attach_shf(session, track_id: int, key: str, size: int, sha256: str, duration: float | None = None) -> bool:
    """Add (or update) the track's ``shf`` download rendition. Returns True when it changed anything."""
    from companion.catalog.models import Rendition, Track

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
                                      container="zip", mime=SHF_MIME, extension="shf", size=size, key=key,
                                      sha256=sha256, duration=duration, normalized=False))
    return True


def publish_render(svc, manifest: dict, title: str, track_id: int | None, created_by: str | None, filename: str,
                   on_track: Callable[[int], None] = lambda track_id: None,
                   version: tuple[str, str] | None = None) -> tuple[int, str]:
    """Hand the render's mixdown to the release pipeline, into ``track_id`` or a new track (``on_track``
    hears its id before anything else happens, so a retry can reuse it). ``version`` (composition id,
    commit): the track is linked to it before its release, so its files carry the version's credits.
    Returns (track id, release job id)."""
    from companion.catalog import service as catalog
    from companion.catalog.uploads import accept_upload

    if track_id is None:
        with svc.db.session() as s:
            track_id = catalog.create_track(s, title=title).id
        on_track(track_id)
    if version is not None:
        with svc.db.session() as s:
            track = catalog.get_track(s, track_id)
            track.composition_id, track.composition_commit = version
    key = manifest["mixdown"]["key"]
    work = Path(tempfile.mkdtemp(prefix="publish-", dir=svc.config.work_dir))
    try:
        src = svc.store.local_path(key)
        if src is None:
            src = work / "mixdown.wav"
            svc.store.download(key, src)
        job_id, _ = accept_upload(svc, track_id, Path(src), filename, manifest["mixdown"]["sha256"], created_by)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return track_id, job_id
