"""The release job: an uploaded recording -> masters, downloads, HLS ladder, preview, peaks, tags."""
from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from companion.catalog import service as catalog
from companion.catalog.models import Track
from companion.media.pipeline import PipelineSettings, run_release
from companion.media.tags import Tags
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services

log = logging.getLogger("scripthammer.jobs.release")


def tags_for(svc, track: Track) -> Tags:
    from companion.demo import demo_cover_png

    cover_key = track.cover_key or (track.album.cover_key if track.album else None)
    cover = svc.store.get_bytes(cover_key) if cover_key else demo_cover_png(track.title)
    mime = "image/jpeg" if cover[:3] == b"\xff\xd8\xff" else "image/png"
    album = track.album
    total = len(album.tracks) if album else None
    return Tags(title=track.title, artist=track.artist, album=album.title if album else None,
                album_artist=album.artist if album else track.artist, track_number=track.track_number,
                track_total=total, year=track.year or (album.year if album else None), track_id=str(track.id),
                cover=cover, cover_mime=mime)


def _record_on_track(session, job, code, message) -> None:
    track = session.get(Track, job.track_id) if job.track_id else None
    if track is not None:
        track.status, track.error_code, track.error_message = "failed", code, message


def release_track(job_id: str) -> dict:
    """Run the release pipeline for the job's track. Idempotent: unchanged input does no encoding."""
    svc = services()
    result: dict = {}
    with running(svc, job_id, on_failure=_record_on_track):
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            track = s.get(Track, job.track_id)
            source_key = job.params.get("source_key") or track.source_key
            tags = tags_for(svc, track)
        # The pipeline keeps untagged encodes under <work>/release/cache between jobs, so a change of
        # tags re-tags without re-encoding; `scripthammer cache prune` trims it.
        release_dir = svc.config.work_dir / "release"
        release_dir.mkdir(parents=True, exist_ok=True)
        fetched = Path(tempfile.mkdtemp(prefix=f"source-{job_id[:8]}-", dir=release_dir))
        try:
            src = svc.store.local_path(source_key)
            if src is None:
                src = fetched / Path(source_key).name
                svc.store.download(source_key, src)
            manifest = run_release(src, svc.store, release_dir, tags, PipelineSettings.from_config(svc.config),
                                   progress=lambda pct, stage: set_progress(svc, job_id, pct, stage),
                                   filename=track.source_filename)
        finally:
            shutil.rmtree(fetched, ignore_errors=True)
        with svc.db.session() as s:
            track = s.get(Track, job.track_id)
            catalog.apply_manifest(s, track, manifest, manifest.get("manifest_key"))
            job = s.get(Job, job_id)
            result = {"cached": bool(manifest.get("cached")), "renditions": len(manifest["renditions"]),
                      "hls_variants": len((manifest.get("hls") or {}).get("variants", [])),
                      "loudness": manifest.get("loudness")}
            job.result = result
    _sync_wordpress(svc, job.track_id)
    return result


def _sync_wordpress(svc, track_id: int | None) -> None:
    """A track already published on WordPress gets its new renditions there (best effort: the
    release itself has succeeded; a failed sync is logged and the next publish repairs it)."""
    if not track_id or not svc.config.wp_url or not svc.config.wp_shared_secret:
        return
    import sqlalchemy as sa

    from companion.wordpress.models import Publication

    with svc.db.session() as s:
        published = s.scalars(sa.select(Publication.id).where(
            Publication.kind == "track", Publication.item_id == track_id,
            Publication.wp_post_id.is_not(None))).first()
    if published is None:
        return
    try:
        from companion.wordpress.callbacks import sync_track

        sync_track(svc, track_id)
    except Exception:  # noqa: BLE001 - logged; the release stands
        log.warning("could not sync track %s to WordPress", track_id, exc_info=True)
