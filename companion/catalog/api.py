"""Albums, tracks, renditions and uploads."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from companion.app import services
from companion.band.auth import current_identity, require, require_track_scope
from companion.catalog import service
from companion.catalog.models import RELEASE_STATES, Album, Track
from companion.errors import InvalidInput, PayloadTooLarge
from companion.storage.api import media_url

blp = Blueprint("catalog", __name__, url_prefix="/api", description="Albums, tracks, renditions and uploads.")


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
    url = fields.String()


class PeaksSchema(Schema):
    samples_per_pixel = fields.Integer()
    length = fields.Integer()
    url = fields.String()


class ErrorInfoSchema(Schema):
    code = fields.String()
    message = fields.String()


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
    peaks = fields.List(fields.Nested(PeaksSchema))
    renditions = fields.List(fields.Nested(RenditionSchema))
    error = fields.Nested(ErrorInfoSchema, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TrackCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    album_id = fields.Integer(load_default=None)
    track_number = fields.Integer(load_default=None, validate=validate.Range(min=1, max=999))
    year = fields.Integer(load_default=None, validate=validate.Range(min=1900, max=2999))
    description = fields.String(load_default="", validate=validate.Length(max=20000))
    release_state = fields.String(load_default="draft", validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(load_default="ScriptHammer", validate=validate.Length(min=1, max=200))


class TrackUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    album_id = fields.Integer(allow_none=True)
    track_number = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=999))
    year = fields.Integer(allow_none=True, validate=validate.Range(min=1900, max=2999))
    description = fields.String(validate=validate.Length(max=20000))
    release_state = fields.String(validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(validate=validate.Length(min=1, max=200))


class AlbumSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    artist = fields.String()
    year = fields.Integer(allow_none=True)
    description = fields.String()
    release_state = fields.String()
    cover_url = fields.String(allow_none=True)
    tracks = fields.List(fields.Nested(TrackSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AlbumCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    year = fields.Integer(load_default=None, validate=validate.Range(min=1900, max=2999))
    description = fields.String(load_default="", validate=validate.Length(max=20000))
    release_state = fields.String(load_default="draft", validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(load_default="ScriptHammer", validate=validate.Length(min=1, max=200))


class AlbumUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    year = fields.Integer(allow_none=True, validate=validate.Range(min=1900, max=2999))
    description = fields.String(validate=validate.Length(max=20000))
    release_state = fields.String(validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(validate=validate.Length(min=1, max=200))


class TrackListArgs(Schema):
    album_id = fields.Integer(load_default=None)
    release_state = fields.String(load_default=None, validate=validate.OneOf(RELEASE_STATES))
    status = fields.String(load_default=None)


class UploadAcceptedSchema(Schema):
    job_id = fields.String()
    job_url = fields.String()
    track = fields.Nested(TrackSchema)


TAGGED_FIELDS = {"title", "artist", "album_id", "track_number", "year"}


def _may_see_private() -> bool:
    return current_identity().has("band.read_private")


def track_out(t: Track) -> dict:
    hidden_downloads = t.release_state == "premium" and not _may_see_private()
    renditions = []
    for r in t.renditions:
        renditions.append({
            "name": r.name, "kind": r.kind, "format": r.format, "codec": r.codec, "container": r.container,
            "mime": r.mime, "extension": r.extension, "bitrate": r.bitrate, "sample_rate": r.sample_rate,
            "channels": r.channels, "bit_depth": r.bit_depth, "duration": r.duration, "size": r.size,
            "sha256": r.sha256, "normalized": r.normalized, "gain_db": r.gain_db,
            "url": None if (hidden_downloads and r.kind != "preview") else media_url(r.key),
        })
    preview = next((r for r in t.renditions if r.kind == "preview"), None)
    return {
        "id": t.id, "slug": t.slug, "title": t.title, "artist": t.artist, "album_id": t.album_id,
        "album_title": t.album.title if t.album else None, "track_number": t.track_number, "year": t.year,
        "description": t.description, "release_state": t.release_state, "status": t.status,
        "duration": t.duration, "sample_rate": t.sample_rate, "channels": t.channels, "bit_depth": t.bit_depth,
        "source_format": t.source_format,
        "loudness": {"integrated_lufs": t.loudness_lufs, "range_lu": t.loudness_range_lu,
                     "true_peak_dbtp": t.true_peak_dbtp, "stream_gain_db": t.stream_gain_db},
        "hls_url": None if (hidden_downloads or not t.hls_key) else media_url(t.hls_key),
        "preview_url": media_url(preview.key) if preview else None,
        "cover_url": media_url(t.cover_key) if t.cover_key else (
            media_url(t.album.cover_key) if t.album and t.album.cover_key else None),
        "peaks": [{"samples_per_pixel": p["samples_per_pixel"], "length": p.get("length"),
                   "url": media_url(p["key"])} for p in (t.peaks or [])],
        "renditions": renditions,
        "error": {"code": t.error_code, "message": t.error_message} if t.error_code else None,
        "created_at": t.created_at, "updated_at": t.updated_at,
    }


def album_out(a: Album, tracks: list[Track]) -> dict:
    return {"id": a.id, "slug": a.slug, "title": a.title, "artist": a.artist, "year": a.year,
            "description": a.description, "release_state": a.release_state,
            "cover_url": media_url(a.cover_key) if a.cover_key else None,
            "tracks": [track_out(t) for t in tracks], "created_at": a.created_at, "updated_at": a.updated_at}


def _visible_tracks(tracks):
    private = _may_see_private()
    return [t for t in tracks if private or t.release_state in service.PUBLIC_STATES]


@blp.route("/albums")
class Albums(MethodView):
    @blp.response(200, AlbumSchema(many=True))
    def get(self):
        """Albums with their tracks (drafts and unreleased ones only for the band)."""
        with services().db.session() as s:
            q = sa.select(Album).order_by(Album.year.is_(None), Album.year.desc(), Album.id)
            if not _may_see_private():
                q = q.where(Album.release_state.in_(service.PUBLIC_STATES))
            return [album_out(a, _visible_tracks(a.tracks)) for a in s.scalars(q)]

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @blp.arguments(AlbumCreateSchema)
    @blp.response(201, AlbumSchema)
    def post(self, body):
        """Create an album. Needs catalog.write."""
        require("catalog.write")
        with services().db.session() as s:
            a = service.create_album(s, **body)
            return album_out(a, [])


@blp.route("/albums/<int:album_id>")
class AlbumItem(MethodView):
    @blp.response(200, AlbumSchema)
    def get(self, album_id):
        """One album with its tracks in order."""
        with services().db.session() as s:
            a = service.get_album(s, album_id, private=_may_see_private())
            return album_out(a, _visible_tracks(a.tracks))

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @blp.arguments(AlbumUpdateSchema)
    @blp.response(200, AlbumSchema)
    def patch(self, body, album_id):
        """Change an album's fields. Needs catalog.write."""
        require("catalog.write")
        with services().db.session() as s:
            a = service.get_album(s, album_id)
            service.update_fields(a, body)
            s.flush()
            return album_out(a, a.tracks)


@blp.route("/tracks")
class Tracks(MethodView):
    @blp.arguments(TrackListArgs, location="query")
    @blp.response(200, TrackSchema(many=True))
    def get(self, args):
        """Tracks with their renditions (drafts and unreleased ones only for the band)."""
        with services().db.session() as s:
            q = sa.select(Track).order_by(Track.album_id, Track.track_number, Track.id)
            if args["album_id"] is not None:
                q = q.where(Track.album_id == args["album_id"])
            if args["release_state"]:
                q = q.where(Track.release_state == args["release_state"])
            if args["status"]:
                q = q.where(Track.status == args["status"])
            return [track_out(t) for t in _visible_tracks(s.scalars(q))]

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @blp.arguments(TrackCreateSchema)
    @blp.response(201, TrackSchema)
    def post(self, body):
        """Create a track (then upload its recording). Needs catalog.write."""
        require("catalog.write")
        with services().db.session() as s:
            return track_out(service.create_track(s, **body))


@blp.route("/tracks/<int:track_id>")
class TrackItem(MethodView):
    @blp.response(200, TrackSchema)
    def get(self, track_id):
        """One track with its renditions, HLS, preview, peaks and loudness."""
        with services().db.session() as s:
            return track_out(service.get_track(s, track_id, private=_may_see_private()))

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @blp.arguments(TrackUpdateSchema)
    @blp.response(200, TrackSchema)
    def patch(self, body, track_id):
        """Change a track's fields (title, album, order, release state...). Needs catalog.write."""
        ident = require("catalog.write")
        svc = services()
        with svc.db.session() as s:
            t = service.get_track(s, track_id)
            if body.get("album_id") is not None:
                service.get_album(s, body["album_id"])
            retag = any(k in TAGGED_FIELDS and getattr(t, k) != v for k, v in body.items())
            service.update_fields(t, body)
            s.flush()
            job = None
            if retag and t.source_key and t.status in ("ready", "failed"):
                # The files' tags say the old title/album/number: release again (re-tags, no re-encode).
                from companion.tasks.service import create_job

                job = create_job(s, kind="release", track_id=t.id, params={"source_key": t.source_key,
                                                                          "reason": "tags changed"},
                                 created_by=ident.member_id or ident.name)
                previous_status, t.status = t.status, "processing"
            out = track_out(t)
        if job is not None:
            from companion.tasks.service import submit

            def undo(session) -> None:  # the edit stands; the files keep their old tags until the next release
                session.get(Track, track_id).status = previous_status

            submit(svc, job, "jobs.release.release_track", undo=undo)
        return out


@blp.route("/tracks/<int:track_id>/upload")
class TrackUpload(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}], requestBody={
        "description": "The recording: multipart/form-data with a 'file' field, or the raw bytes with "
                       "?filename=name.ext (WAV, AIFF, FLAC, MP3, Ogg Vorbis/Opus, M4A).",
        "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
    @blp.response(202, UploadAcceptedSchema)
    def post(self, track_id):
        """Upload a recording: it is validated, stored and put through the release pipeline."""
        ident = require("catalog.upload")
        require_track_scope(ident, track_id)
        svc = services()
        with svc.db.session() as s:
            service.get_track(s, track_id)
        from companion.catalog.uploads import accept_upload

        tmp_dir = svc.config.work_dir / "uploads"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="up-")
        os.close(fd)
        try:
            filename, sha = _receive(Path(tmp), svc.config.max_upload_bytes)
            job_id, track = accept_upload(svc, track_id, Path(tmp), filename, sha, created_by=ident.member_id or ident.name)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return {"job_id": job_id, "job_url": f"/api/jobs/{job_id}", "track": track}


def _receive(dest: Path, limit: int) -> tuple[str, str]:
    """Write the request's file to ``dest`` (never more than ``limit`` bytes); its name and SHA-256."""
    h = hashlib.sha256()
    total = 0
    if request.mimetype == "multipart/form-data":
        f = request.files.get("file")
        if f is None or not f.filename:
            raise InvalidInput("Send the recording in a form field named 'file'.", code="file_missing")
        filename, stream = f.filename, f.stream
    else:
        filename = request.args.get("filename") or request.headers.get("X-Filename") or ""
        if not filename:
            raise InvalidInput("Name the file: add ?filename=song.wav (or use a multipart 'file' field).",
                               code="filename_missing")
        stream = request.stream
    filename = os.path.basename(filename.replace("\\", "/"))[:200]
    with open(dest, "wb") as out:
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"The upload is larger than the {limit // (1024 * 1024)} MB this companion accepts.",
                                      details={"limit_bytes": limit})
            h.update(chunk)
            out.write(chunk)
    return filename, h.hexdigest()
