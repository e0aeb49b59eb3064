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
from companion.media import abstreams
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
        ab = wants_ab(svc.config, track)
    # A premium release without the stream-mark key fails here, before any encoding (a config error).
    ab_key = abstreams.stream_key(svc.config) if ab else None
    # Untagged encodes stay under <work>/release/cache between jobs, so a change of tags re-tags
    # without re-encoding; `scripthammer cache prune` trims it.
    release_dir = svc.config.work_dir / "release"
    release_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"source-{track_id}-", dir=release_dir) as folder:
        src = fetch_source(svc.store, source_key, Path(folder))
        settings = PipelineSettings.from_config(svc.config)
        manifest = run_release(src, svc.store, release_dir, tags, settings,
                               progress=_scaled(progress, 0.9) if ab_key else progress, filename=filename)
        ab_doc = None
        if ab_key is not None:
            ab_doc = release_ab(svc, src, filename, manifest, ab_key, release_dir, progress)
    with svc.db.session() as s:
        track = catalog.get_track(s, track_id)
        catalog.apply_manifest(s, track, manifest, manifest_key(manifest["cache_key"]))
        track.ab_hls_key = ab_doc["master_key"] if ab_doc else None
    return {"cached": bool(manifest.get("cached")), "renditions": len(manifest["renditions"]),
            "hls_variants": len((manifest.get("hls") or {}).get("variants", [])),
            "ab_variants": len(ab_doc["variants"]) if ab_doc else 0,
            "loudness": manifest.get("loudness")}


def _scaled(progress: ProgressFn | None, factor: float) -> ProgressFn | None:
    """``progress`` with its percentages scaled (the pipeline's 100 is the release's 90 when A/B follows)."""
    if progress is None:
        return None
    return lambda pct, stage: progress(int(pct * factor), stage)


def wants_ab(config, track: Track) -> bool:
    """Does this release make A/B stream variants? Premium tracks, while ``Config.ab_streams`` is on
    (public tracks and previews are served unmarked)."""
    return bool(getattr(config, "ab_streams", False)) and track.release_state == "premium"


def release_ab(svc, src: Path, filename: str | None, manifest: dict, key: bytes, release_dir: Path,
               progress: ProgressFn | None = None) -> dict | None:
    """The A/B variants of the manifest's ladder (made once; the stored ones afterwards). None when
    the recording is too short to mark (under 3 s): such a track is served its plain ladder."""
    from companion.media import stages as st
    from companion.rights.watermark import WatermarkError

    def report(pct: int, stage: str) -> None:
        if progress is not None:
            progress(90 + pct // 10, stage)

    if progress is not None:
        progress(90, "ab")
    marked = set(svc.config.ab_ladder)  # the rungs premium listeners get (Config.ab_bitrates; default all)
    ladder = {**manifest["hls"], "variants": [v for v in manifest["hls"]["variants"]
                                              if int(v["bitrate"]) // 1000 in marked] or manifest["hls"]["variants"]}
    known = abstreams.stored_ab(svc.store, abstreams.ab_digest(ladder, key))
    if known is not None:
        return known
    source = st.probe_source(src, filename or src.name, manifest["source"]["sha256"])
    try:
        return abstreams.make_ab(svc.store, src, ladder, source.fmt, key, release_dir / "ab", report,
                                 workers=svc.config.encode_workers)
    except WatermarkError:
        log.info("recording too short for A/B stream marks: serving its plain ladder")
        return None


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
