"""Albums, tracks, renditions and uploads."""
from __future__ import annotations


import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from companion.access.delivery import Viewer
from companion.access.guard import requires
from companion.services import current as services
from companion.band.auth import current_identity, require, require_track_scope
from companion.catalog import service
from companion.catalog.models import RELEASE_STATES, Album, Track
from companion.catalog.shapes import AlbumSchema, TrackSchema, album_out, track_out, track_view, visible_tracks
from companion.errors import NotFound
from companion.live.followups import recording_published
from companion.uploads import received

blp = Blueprint("catalog", __name__, url_prefix="/api", description="Albums, tracks, renditions and uploads.")


#: Where a fan buys an item (the WooCommerce product WordPress made for it): an http(s) URL.
BUY_URL = validate.And(validate.Length(max=500), validate.URL(schemes={"http", "https"}, require_tld=False))


class TrackCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    album_id = fields.Integer(load_default=None)
    track_number = fields.Integer(load_default=None, validate=validate.Range(min=1, max=999))
    year = fields.Integer(load_default=None, validate=validate.Range(min=1900, max=2999))
    description = fields.String(load_default="", validate=validate.Length(max=20000))
    release_state = fields.String(load_default="draft", validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(load_default="ScriptHammer", validate=validate.Length(min=1, max=200))
    buy_url = fields.String(load_default=None, allow_none=True, validate=BUY_URL)


class TrackUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    album_id = fields.Integer(allow_none=True)
    track_number = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=999))
    year = fields.Integer(allow_none=True, validate=validate.Range(min=1900, max=2999))
    description = fields.String(validate=validate.Length(max=20000))
    release_state = fields.String(validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(validate=validate.Length(min=1, max=200))
    buy_url = fields.String(allow_none=True, validate=BUY_URL)


class AlbumCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    year = fields.Integer(load_default=None, validate=validate.Range(min=1900, max=2999))
    description = fields.String(load_default="", validate=validate.Length(max=20000))
    release_state = fields.String(load_default="draft", validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(load_default="ScriptHammer", validate=validate.Length(min=1, max=200))
    buy_url = fields.String(load_default=None, allow_none=True, validate=BUY_URL)


class AlbumUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    year = fields.Integer(allow_none=True, validate=validate.Range(min=1900, max=2999))
    description = fields.String(validate=validate.Length(max=20000))
    release_state = fields.String(validate=validate.OneOf(RELEASE_STATES))
    artist = fields.String(validate=validate.Length(min=1, max=200))
    buy_url = fields.String(allow_none=True, validate=BUY_URL)


class TrackListArgs(Schema):
    album_id = fields.Integer(load_default=None)
    release_state = fields.String(load_default=None, validate=validate.OneOf(RELEASE_STATES))
    status = fields.String(load_default=None)


class UploadAcceptedSchema(Schema):
    job_id = fields.String()
    job_url = fields.String()
    track = fields.Nested(TrackSchema)


TAGGED_FIELDS = {"title", "artist", "album_id", "track_number", "year"}


def _viewer() -> Viewer:
    return Viewer.for_request()


def _album_for(s, album_id: int, viewer: Viewer) -> Album:
    a = service.get_album(s, album_id)
    if not viewer.sees_album(a):
        raise NotFound(f"no album {album_id}", code="album_not_found")
    return a


@blp.route("/albums")
class Albums(MethodView):
    @blp.response(200, AlbumSchema(many=True))
    def get(self):
        """Albums with their tracks (drafts and unreleased ones only for the band)."""
        viewer = _viewer()
        with services().db.session() as s:
            q = sa.select(Album).order_by(Album.year.is_(None), Album.year.desc(), Album.id)
            return [album_out(a, visible_tracks(a.tracks, viewer), viewer) for a in s.scalars(q)
                    if viewer.sees_album(a)]

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.arguments(AlbumCreateSchema)
    @blp.response(201, AlbumSchema)
    def post(self, body):
        """Create an album. Needs catalog.write."""
        with services().db.session() as s:
            a = service.create_album(s, **body)
            return album_out(a, [], _viewer())


@blp.route("/albums/<int:album_id>")
class AlbumItem(MethodView):
    @blp.response(200, AlbumSchema)
    def get(self, album_id):
        """One album with its tracks in order."""
        viewer = _viewer()
        with services().db.session() as s:
            a = _album_for(s, album_id, viewer)
            return album_out(a, visible_tracks(a.tracks, viewer), viewer)

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.arguments(AlbumUpdateSchema)
    @blp.response(200, AlbumSchema)
    def patch(self, body, album_id):
        """Change an album's fields. Needs catalog.write."""
        viewer = _viewer()
        with services().db.session() as s:
            a = service.get_album(s, album_id)
            service.update_fields(a, body)
            s.flush()
            return album_out(a, visible_tracks(a.tracks, viewer), viewer)


@blp.route("/tracks")
class Tracks(MethodView):
    @blp.arguments(TrackListArgs, location="query")
    @blp.response(200, TrackSchema(many=True))
    def get(self, args):
        """Tracks with their renditions (drafts and unreleased ones only for the band)."""
        viewer = _viewer()
        with services().db.session() as s:
            q = sa.select(Track).order_by(Track.album_id, Track.track_number, Track.id)
            if args["album_id"] is not None:
                q = q.where(Track.album_id == args["album_id"])
            if args["release_state"]:
                q = q.where(Track.release_state == args["release_state"])
            if args["status"]:
                q = q.where(Track.status == args["status"])
            return [track_out(t, viewer) for t in visible_tracks(s.scalars(q), viewer)]

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.arguments(TrackCreateSchema)
    @blp.response(201, TrackSchema)
    def post(self, body):
        """Create a track (then upload its recording). Needs catalog.write."""
        with services().db.session() as s:
            return track_out(service.create_track(s, **body), _viewer())


@blp.route("/tracks/<int:track_id>")
class TrackItem(MethodView):
    @blp.response(200, TrackSchema)
    def get(self, track_id):
        """One track with its renditions, HLS, preview, peaks and loudness."""
        return track_view(services(), track_id, _viewer())[0]

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.arguments(TrackUpdateSchema)
    @blp.response(200, TrackSchema)
    def patch(self, body, track_id):
        """Change a track's fields (title, album, order, release state, buy URL...). Needs catalog.write."""
        ident = current_identity()
        viewer = _viewer()
        svc = services()
        with svc.db.session() as s:
            t = service.get_track(s, track_id)
            if body.get("album_id") is not None:
                service.get_album(s, body["album_id"])
            retag = any(k in TAGGED_FIELDS and getattr(t, k) != v for k, v in body.items())
            released_from = t.release_state
            service.update_fields(t, body)
            s.flush()
            job = None
            # Made premium after its release: its A/B stream variants are made by releasing again (the
            # encodes are cached; only the variants are new). Until then it streams its plain ladder, signed.
            ab_due = (body.get("release_state") == "premium" and svc.config.ab_streams and not t.ab_hls_key
                      and t.source_key and t.status == "ready")
            previous_status = t.status
            if (retag or ab_due) and t.source_key and t.status in ("ready", "failed"):
                # The files' tags say the old title/album/number: release again (re-tags, no re-encode).
                from companion.tasks.service import create_job

                job = create_job(s, kind="release", track_id=t.id, params={
                    "source_key": t.source_key, "reason": "tags changed" if retag else "premium: A/B stream variants"},
                                 created_by=ident.member_id or ident.name)
                if retag:
                    t.status = "processing"
            published = body.get("release_state") in ("public", "premium") and released_from != t.release_state
            out = track_out(t, viewer)
        if published:  # a live session's recording: its performance post now plays it
            recording_published(svc, track_id)
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
        viewer = _viewer()
        svc = services()
        with svc.db.session() as s:
            service.get_track(s, track_id)
        from companion.catalog.uploads import accept_upload

        with received(svc, svc.config.max_upload_bytes, prefix="up-", what="the recording", example="song.wav") as up:
            job_id, track = accept_upload(svc, track_id, up.path, up.filename, up.sha256,
                                          created_by=ident.member_id or ident.name, viewer=viewer)
        return {"job_id": job_id, "job_url": f"/api/jobs/{job_id}", "track": track}


