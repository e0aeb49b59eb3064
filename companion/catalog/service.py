"""Catalog operations shared by the API, the CLI and jobs."""
from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from companion.catalog.models import RELEASE_STATES, Album, Rendition, Track
from companion.errors import Conflict, InvalidInput, NotFound

PUBLIC_STATES = ("public", "premium")


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "untitled"


def unique_slug(session: Session, model, base: str) -> str:
    slug, n = base, 2
    while session.scalars(sa.select(model.id).where(model.slug == slug)).first() is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def get_album(session: Session, album_id: int, *, private: bool = True) -> Album:
    album = session.get(Album, album_id)
    if album is None or (not private and album.release_state not in PUBLIC_STATES):
        raise NotFound(f"no album {album_id}", code="album_not_found")
    return album


#: what showing a track reads besides its row (track_out): one query with joins, not three round trips
TRACK_VIEW = (joinedload(Track.album), joinedload(Track.renditions))


def get_track(session: Session, track_id: int, *, private: bool = True, for_view: bool = False) -> Track:
    """The track (``private``: whatever its release state); ``for_view`` loads its album and renditions
    in the same query, for :func:`companion.catalog.shapes.track_out`."""
    track = session.get(Track, track_id, options=TRACK_VIEW if for_view else None)
    if track is None or (not private and track.release_state not in PUBLIC_STATES):
        raise NotFound(f"no track {track_id}", code="track_not_found")
    return track


def _check_state(state: str | None) -> None:
    if state is not None and state not in RELEASE_STATES:
        raise InvalidInput(f"release_state must be one of {', '.join(RELEASE_STATES)}",
                           code="bad_release_state", details={"release_state": state})


def create_album(session: Session, *, title: str, year: int | None = None, description: str = "",
                 release_state: str = "draft", artist: str = "ScriptHammer", slug: str | None = None,
                 buy_url: str | None = None) -> Album:
    _check_state(release_state)
    album = Album(title=title, year=year, description=description, release_state=release_state, artist=artist,
                  slug=unique_slug(session, Album, slugify(slug or title)), buy_url=buy_url)
    session.add(album)
    session.flush()
    return album


def create_track(session: Session, *, title: str, album_id: int | None = None, track_number: int | None = None,
                 year: int | None = None, description: str = "", release_state: str = "draft",
                 artist: str = "ScriptHammer", slug: str | None = None, buy_url: str | None = None) -> Track:
    _check_state(release_state)
    if album_id is not None:
        get_album(session, album_id)
        if track_number is not None and session.scalars(sa.select(Track.id).where(
                Track.album_id == album_id, Track.track_number == track_number)).first() is not None:
            raise Conflict(f"album {album_id} already has a track {track_number}", code="track_number_taken",
                           details={"album_id": album_id, "track_number": track_number})
    track = Track(title=title, album_id=album_id, track_number=track_number, year=year, description=description,
                  release_state=release_state, artist=artist, buy_url=buy_url,
                  slug=unique_slug(session, Track, slugify(slug or title)))
    session.add(track)
    session.flush()
    return track


def update_fields(obj, changes: dict) -> None:
    _check_state(changes.get("release_state"))
    for k, v in changes.items():
        setattr(obj, k, v)


def apply_manifest(session: Session, track: Track, manifest: dict, manifest_key: str | None = None) -> None:
    """Replace the track's renditions with those of a release manifest (one transaction)."""
    track.renditions.clear()
    session.flush()
    for r in manifest["renditions"]:
        track.renditions.append(Rendition(
            name=r["name"], kind=r["kind"], format=r["format"], codec=r["codec"], container=r["container"],
            mime=r["mime"], extension=r["extension"], bitrate=r.get("bitrate"), sample_rate=r.get("sample_rate"),
            channels=r.get("channels"), bit_depth=r.get("bit_depth"), duration=r.get("duration"), size=r["size"],
            key=r["key"], sha256=r["sha256"], normalized=bool(r.get("normalized")), gain_db=r.get("gain_db")))
    src, loud = manifest["source"], manifest["loudness"]
    track.duration = src.get("duration")
    track.sample_rate, track.channels, track.bit_depth = src.get("sample_rate"), src.get("channels"), src.get("bit_depth")
    track.loudness_lufs = loud.get("integrated_lufs")
    track.loudness_range_lu = loud.get("range_lu")
    track.true_peak_dbtp = loud.get("true_peak_dbtp")
    track.stream_gain_db = manifest.get("stream_gain_db")
    track.hls_key = (manifest.get("hls") or {}).get("master_key")
    track.peaks = manifest.get("peaks") or []
    track.manifest_key = manifest_key or track.manifest_key
    track.status = "ready"
    track.error_code = track.error_message = None
