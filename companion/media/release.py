"""Releasing a catalog track: its recording from the store, through the pipeline, onto the track.

The release job (``jobs.release.release_track``) reloads its row and calls :func:`release_track`
with ids; the same function runs in a test or the CLI without RQ. After a successful release
the job calls :func:`sync_published`, which brings a track already published on WordPress up to
date; a failed release never gets there.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa

from companion.catalog import service as catalog
from companion.catalog.covers import cover_of
from companion.catalog.models import Track
from companion.errors import Unprocessable
from companion.media.pipeline import PipelineSettings, manifest_key, run_release
from companion.media.tags import Tags
from companion.storage.base import ObjectStore

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, str], None]


def tags_for(store: ObjectStore, track: Track, credits: dict | None = None) -> Tags:
    """What every file of ``track``'s release says about itself (cover: the track's, the album's
    or a generated one); ``credits`` (:func:`companion.rights.credits.tag_credits`): composers,
    performers, ISRC, ISWC and the shares."""
    cover, mime = cover_of(store, track)
    album = track.album
    total = len(album.tracks) if album else None
    c = credits or {}
    return Tags(title=track.title, artist=track.artist, album=album.title if album else None,
                album_artist=album.artist if album else track.artist, track_number=track.track_number,
                track_total=total, year=track.year or (album.year if album else None), track_id=str(track.id),
                cover=cover, cover_mime=mime, composers=tuple(c.get("composers") or ()),
                performers=tuple(tuple(p) for p in (c.get("performers") or ())), isrc=c.get("isrc"),
                iswc=c.get("iswc"), credits=c.get("summary") or None)


def credits_for(svc, session, track: Track) -> dict:
    """The track's credits for its tags (nothing when it sounds no composition version and has no codes)."""
    from companion.compositions.store import Store
    from companion.rights.credits import tag_credits

    return tag_credits(session, Store(svc.config.compositions_dir), svc.band, track)


def fetch_source(store: ObjectStore, key: str, folder: Path) -> Path:
    """A local path of the stored recording: the store's own file, or a download into ``folder``."""
    local = store.local_path(key)
    if local is not None:
        return local
    path = folder / Path(key).name
    store.download(key, path)
    return path


def release_track(svc, track_id: int, source_key: str | None = None,
                  progress: ProgressFn | None = None) -> dict[str, Any]:
    """Release the track's recording (``source_key``, or the track's own): run the pipeline and
    put its renditions, ladder, peaks and loudness on the track, in one transaction.

    Idempotent: an unchanged recording with unchanged tags does no encoding (the pipeline's
    cache). Returns a summary for the job row: cached, renditions, hls_variants, loudness.

    Raises NotFound (no such track), Unprocessable (no recording, or one that cannot be
    released), UnsupportedMedia; anything else is transient (the store, an encoder).
    """
    with svc.db.session() as s:
        track = catalog.get_track(s, track_id)
        source_key = source_key or track.source_key
        if not source_key:
            raise Unprocessable("This track has no recording to release: upload one first.", code="no_source")
        tags, filename = tags_for(svc.store, track, credits_for(svc, s, track)), track.source_filename
    # Untagged encodes stay under <work>/release/cache between jobs, so a change of tags re-tags
    # without re-encoding; `scripthammer cache prune` trims it.
    release_dir = svc.config.work_dir / "release"
    release_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"source-{track_id}-", dir=release_dir) as folder:
        src = fetch_source(svc.store, source_key, Path(folder))
        manifest = run_release(src, svc.store, release_dir, tags, PipelineSettings.from_config(svc.config),
                               progress=progress, filename=filename)
    with svc.db.session() as s:
        catalog.apply_manifest(s, catalog.get_track(s, track_id), manifest, manifest_key(manifest["cache_key"]))
    return {"cached": bool(manifest.get("cached")), "renditions": len(manifest["renditions"]),
            "hls_variants": len((manifest.get("hls") or {}).get("variants", [])),
            "loudness": manifest.get("loudness")}


def record_failure(session, track_id: int | None, code: str, message: str) -> None:
    """Show a release's final failure on its track (``status: failed``, the error's code and message)."""
    track = session.get(Track, track_id) if track_id else None
    if track is not None:
        track.status, track.error_code, track.error_message = "failed", code, message


def sync_published(svc, track_id: int) -> bool:
    """Bring a track already published on WordPress up to date with its new renditions.

    Best effort: the release itself has succeeded; a failed sync is logged and the next publish
    repairs it. Returns True when a sync was attempted."""
    if not svc.config.wp_url or not svc.config.wp_shared_secret:
        return False
    from companion.wordpress.models import Publication

    with svc.db.session() as s:
        published = s.scalars(sa.select(Publication.id).where(
            Publication.kind == "track", Publication.item_id == track_id,
            Publication.wp_post_id.is_not(None))).first()
    if published is None:
        return False
    try:
        from companion.wordpress.callbacks import sync_track

        sync_track(svc, track_id)
    except Exception:  # noqa: BLE001 - logged; the release stands
        log.warning("could not sync track %s to WordPress", track_id, exc_info=True)
    return True
