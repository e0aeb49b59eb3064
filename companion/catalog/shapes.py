"""The JSON shapes of tracks and albums, built for one caller (the API, the embed pages, uploads).

What a caller sees of a track depends on who they are (companion/access/policy.py):

- every URL is plain for a public object and signed (bound to the object, the caller and an
  expiry) for anything else; a caller who may not have an object gets no URL and no entry;
- renditions list only what the caller may fetch: the band gets everything (masters too); a
  listener who may download gets the downloads and the preview; anyone else only the preview.
  Nothing of a hidden rendition is shown (no name, no hash, no key: a key rebuilt from a
  hash was hole 1 of issue 9);
- ``hls_url`` only for those who may hear the track in full (a premium track's: the master
  playlist of its A/B marked variants, signed for the caller, whose playlists are built per caller);
- ``access`` says what this caller has and, when locked, where to buy it;
- errors of a failed release are for the band.
"""
from __future__ import annotations

from marshmallow import Schema
from companion import schema_fields as fields

from companion.access.delivery import PUBLIC_VIEWS, Viewer
from companion.catalog.covers import cover_key_of
from companion.catalog.models import Album, Track
from companion.catalog.service import get_track
from companion.errors import NotFound


class LoudnessSchema(Schema):
    integrated_lufs = fields.Float(allow_none=True)
    range_lu = fields.Float(allow_none=True)
    true_peak_dbtp = fields.Float(allow_none=True)
    stream_gain_db = fields.Float(allow_none=True, metadata={"description": "gain applied to the stream ladder"})


class RenditionSchema(Schema):
    name = fields.String(metadata={"description": "e.g. mp3-320, mp3-v0, flac, aac, vorbis, alac, wav, aiff, opus"})
    kind = fields.String(metadata={"description": "master, download or preview"})
    format = fields.String()
    codec = fields.String()
    container = fields.String()
    mime = fields.String()
    extension = fields.String()
    bitrate = fields.Integer(allow_none=True)
    sample_rate = fields.Integer(allow_none=True)
    channels = fields.Integer(allow_none=True)
    bit_depth = fields.Integer(allow_none=True)
    duration = fields.Float(allow_none=True)
    size = fields.Integer()
    sha256 = fields.String()
    normalized = fields.Boolean()
    gain_db = fields.Float(allow_none=True)
    url = fields.String(metadata={"description": "plain for public files, else signed for this caller and expiring"})


class PeaksSchema(Schema):
    samples_per_pixel = fields.Integer()
    length = fields.Integer(allow_none=True)
    url = fields.String()


class ErrorInfoSchema(Schema):
    code = fields.String()
    message = fields.String()


class AccessSchema(Schema):
    stream = fields.String(metadata={"description": "full, preview or none: what this caller hears"})
    download = fields.Boolean(metadata={"description": "may this caller download the formats"})
    why = fields.String(metadata={"description": "band, guest, public, entitled or locked"})
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "when this answer's signed URLs expire"})
    buy_url = fields.String(allow_none=True, metadata={"description": "where to buy it (the item's or its album's)"})


class TrackSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    artist = fields.String()
    album_id = fields.Integer(allow_none=True)
    album_title = fields.String(allow_none=True)
    track_number = fields.Integer(allow_none=True)
    year = fields.Integer(allow_none=True)
    description = fields.String()
    release_state = fields.String()
    status = fields.String(metadata={"description": "empty, processing, ready or failed"})
    duration = fields.Float(allow_none=True)
    sample_rate = fields.Integer(allow_none=True)
    channels = fields.Integer(allow_none=True)
    bit_depth = fields.Integer(allow_none=True)
    source_format = fields.String(allow_none=True)
    loudness = fields.Nested(LoudnessSchema)
    hls_url = fields.String(allow_none=True)
    preview_url = fields.String(allow_none=True)
    cover_url = fields.String(allow_none=True)
    buy_url = fields.String(allow_none=True)
    peaks = fields.List(fields.Nested(PeaksSchema))
    renditions = fields.List(fields.Nested(RenditionSchema))
    access = fields.Nested(AccessSchema)
    error = fields.Nested(ErrorInfoSchema, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AlbumSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    artist = fields.String()
    year = fields.Integer(allow_none=True)
    description = fields.String()
    release_state = fields.String()
    cover_url = fields.String(allow_none=True)
    buy_url = fields.String(allow_none=True)
    tracks = fields.List(fields.Nested(TrackSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _listed(kind: str, stream: str, download: bool, masters: bool) -> bool:
    """Is a rendition of ``kind`` listed for a caller with this standing?"""
    if kind == "master":
        return masters
    if kind == "preview":
        return stream != "none"
    return download


def stream_key_of(t: Track) -> str | None:
    """The master playlist a caller who hears ``t`` in full is given: a premium track's A/B variants
    (each listener's playlist picks its own sequence: docs/watermark.md), else its ladder. A public
    track's stream is the plain ladder, for everyone."""
    from companion.access import policy

    if t.ab_hls_key and not policy.is_public("stream", t.release_state):
        return t.ab_hls_key
    return t.hls_key


def track_out(t: Track, viewer: Viewer | None = None) -> dict:
    """The track as ``viewer`` (default: the current request's caller) may see it."""
    viewer = viewer or Viewer.for_request()
    level = viewer.level(t)
    state = t.release_state
    stream_s, download_s = viewer.stream_expiry(t), viewer.download_seconds
    signed: list[int] = []

    def url(key: str | None, role: str, seconds: int) -> str | None:
        u = viewer.url(key, role, state, seconds=seconds)
        if u and "sig=" in u:
            signed.append(seconds)
        return u

    renditions = []
    for r in t.renditions:
        if not _listed(r.kind, level.stream, level.download, level.masters):
            continue
        link = url(r.key, r.kind, stream_s if r.kind == "preview" else download_s)
        if link is None:
            continue
        renditions.append({
            "name": r.name, "kind": r.kind, "format": r.format, "codec": r.codec, "container": r.container,
            "mime": r.mime, "extension": r.extension, "bitrate": r.bitrate, "sample_rate": r.sample_rate,
            "channels": r.channels, "bit_depth": r.bit_depth, "duration": r.duration, "size": r.size,
            "sha256": r.sha256, "normalized": r.normalized, "gain_db": r.gain_db, "url": link,
        })
    preview = next((r for r in t.renditions if r.kind == "preview"), None)
    full = level.stream == "full"
    buy_url = t.buy_url or (t.album.buy_url if t.album else None)
    return {
        "id": t.id, "slug": t.slug, "title": t.title, "artist": t.artist, "album_id": t.album_id,
        "album_title": t.album.title if t.album else None, "track_number": t.track_number, "year": t.year,
        "description": t.description, "release_state": state, "status": t.status,
        "duration": t.duration, "sample_rate": t.sample_rate, "channels": t.channels, "bit_depth": t.bit_depth,
        "source_format": t.source_format,
        "loudness": {"integrated_lufs": t.loudness_lufs, "range_lu": t.loudness_range_lu,
                     "true_peak_dbtp": t.true_peak_dbtp, "stream_gain_db": t.stream_gain_db},
        "hls_url": url(stream_key_of(t), "stream", stream_s) if full else None,
        "preview_url": url(preview.key, "preview", stream_s) if preview else None,
        "cover_url": url(cover_key_of(t), "cover", stream_s),
        "buy_url": buy_url,
        "peaks": [{"samples_per_pixel": p["samples_per_pixel"], "length": p.get("length"),
                   "url": url(p["key"], "peaks", stream_s)} for p in (t.peaks or [])],
        "renditions": renditions,
        "access": {"stream": level.stream, "download": level.download, "why": level.why,
                   "expires_at": viewer.expires_at(min(signed)) if signed else None,
                   "buy_url": buy_url if level.why == "locked" else None},
        "error": {"code": t.error_code, "message": t.error_message} if (t.error_code and viewer.band) else None,
        "created_at": t.created_at, "updated_at": t.updated_at,
    }


def visible_tracks(tracks, viewer: Viewer) -> list[Track]:
    return [t for t in tracks if viewer.sees_track(t)]


def album_out(a: Album, tracks: list[Track], viewer: Viewer | None = None) -> dict:
    """The album with ``tracks`` (already filtered to what the viewer sees), as ``viewer`` may see it."""
    viewer = viewer or Viewer.for_request()
    return {"id": a.id, "slug": a.slug, "title": a.title, "artist": a.artist, "year": a.year,
            "description": a.description, "release_state": a.release_state,
            "cover_url": viewer.url(a.cover_key, "cover", a.release_state, seconds=viewer.stream_seconds),
            "buy_url": a.buy_url,
            "tracks": [track_out(t, viewer) for t in tracks], "created_at": a.created_at, "updated_at": a.updated_at}


def track_view(svc, track_id: int, viewer: Viewer) -> tuple[dict, str | None]:
    """(The track as ``viewer`` sees it, its stream key), or NotFound when they may not see it.

    An anonymous caller's view of a released track is the same for every anonymous caller on the same
    address, so this process remembers it for ``Config.public_key_cache_seconds`` (PUBLIC_VIEWS, forgotten
    at once by a change flushed here): the track JSON and its embed page, the hot reads after segments,
    then cost no database round trip. Treat the returned dict as read-only."""
    anonymous = not viewer.ident.authenticated
    cache_key = (track_id, viewer.base_url)
    if anonymous:
        hit = PUBLIC_VIEWS.get(cache_key)
        if hit is not None:
            return hit
    with svc.db.session() as s:
        t = get_track(s, track_id, for_view=True)
        if not viewer.sees_track(t):
            raise NotFound(f"no track {track_id}", code="track_not_found")
        out = (track_out(t, viewer), t.hls_key)
    if anonymous:
        PUBLIC_VIEWS.remember(cache_key, svc.config.public_key_cache_seconds, out)
    return out
