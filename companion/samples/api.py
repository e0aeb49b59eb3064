"""REST endpoints of the sample library: list, add (whole or sliced), replace, retire, history, audition.

Who is asking is checked before anything else: anonymous callers get 401 and callers who are not
band members 403 before the query is read; the instrument's rule (its member and the leader) is
checked from the query or the URL before the body is read. Metadata travels in the query string,
the file as a multipart ``file`` field or as the raw body with ``?filename=``.
"""
from __future__ import annotations

import functools

from flask import Response, redirect, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from companion.band.auth import current_identity, require
from companion.errors import Forbidden, InvalidInput, Unauthorized
from companion.services import current as services
from companion.uploads import received

from . import service as S
from .models import STATES

blp = Blueprint("samples", __name__, url_prefix="/api/samples",
                description="The sample library: content-addressed samples and SoundFonts per instrument and "
                            "articulation, with licences, versions and a history of commits.")

AUDIO_BODY = {
    "description": "The sample: multipart/form-data with a 'file' field, or the raw bytes with ?filename=name.ext "
                   "(WAV, AIFF, FLAC or SF2).",
    "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


# --------------------------------------------------------------------------- schemas

class SampleVersionSchema(Schema):
    version = fields.Integer()
    sha256 = fields.String()
    key = fields.String()
    size = fields.Integer()
    format = fields.String(metadata={"description": "wav, aiff, flac or sf2"})
    sample_rate = fields.Integer()
    channels = fields.Integer()
    frames = fields.Integer()
    duration = fields.Float()
    bit_depth = fields.Integer(allow_none=True)
    subtype = fields.String()
    root = fields.Integer(metadata={"description": "MIDI key the sample sounds at its own rate"})
    low = fields.Integer()
    high = fields.Integer()
    velocity_low = fields.Integer()
    velocity_high = fields.Integer()
    licence = fields.String()
    source = fields.String()
    details = fields.Dict()
    created_by = fields.String()
    created_at = fields.DateTime()


class SampleSchema(Schema):
    id = fields.Integer()
    ref = fields.String(metadata={"description": "instrument/articulation/name"})
    instrument = fields.String()
    articulation = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "sample or soundfont"})
    state = fields.String(metadata={"description": "active or retired"})
    version = fields.Integer(metadata={"description": "the current version"})
    current = fields.Nested(SampleVersionSchema)
    versions = fields.List(fields.Nested(SampleVersionSchema))
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SampleChangeSchema(Schema):
    action = fields.String(metadata={"description": "add, replace or retire"})
    sample_id = fields.Integer()
    ref = fields.String()
    version = fields.Integer()
    sha256 = fields.String()


class SampleCommitSchema(Schema):
    id = fields.Integer()
    digest = fields.String(metadata={"description": "sha256 over the parent's digest, author, time, message, changes"})
    parent = fields.String(allow_none=True)
    author = fields.String()
    message = fields.String()
    created_at = fields.DateTime()
    changes = fields.List(fields.Nested(SampleChangeSchema))


class SampleListArgs(Schema):
    instrument = fields.String()
    articulation = fields.String()
    licence = fields.String()
    kind = fields.String(validate=validate.OneOf(("sample", "soundfont")))
    state = fields.String(load_default="active", validate=validate.OneOf((*STATES, "all")))


class SampleHistoryArgs(Schema):
    instrument = fields.String()
    sample = fields.Integer()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


_key = fields.String(metadata={"description": "MIDI key 0..127 or a pitch like C4"})


class SampleMetaArgs(Schema):
    filename = fields.String(validate=validate.Length(max=200))
    licence = fields.String(metadata={"description": "required: e.g. CC0-1.0, CC-BY-4.0, 'own recording'"})
    source = fields.String(metadata={"description": "required: who recorded it or where it came from"})
    message = fields.String(load_default="", validate=validate.Length(max=4000))
    root = _key
    low = _key
    high = _key
    velocity_low = fields.Integer(load_default=0, validate=validate.Range(0, 127))
    velocity_high = fields.Integer(load_default=127, validate=validate.Range(0, 127))


class SampleAddArgs(SampleMetaArgs):
    instrument = fields.String(required=True)
    articulation = fields.String(load_default=S.NORMAL)
    name = fields.String(metadata={"description": "default: from the file name; slices get -01, -02..."})
    slice = fields.String(validate=validate.OneOf(("onsets", "points")),
                          metadata={"description": "cut a recording into samples at its onsets or at ?points="})
    points = fields.String(metadata={"description": "cut points in seconds, comma-separated"})
    threshold_db = fields.Float(load_default=30.0, validate=validate.Range(6, 90))
    min_gap_ms = fields.Float(load_default=80.0, validate=validate.Range(5, 10000))
    roots = fields.String(metadata={"description": "one key per slice, comma-separated (e.g. 36,38,42)"})


class SampleRetireSchema(Schema):
    message = fields.String(load_default="", validate=validate.Length(max=4000))


class SampleAuditionArgs(Schema):
    version = fields.Integer(validate=validate.Range(min=1))


# --------------------------------------------------------------------------- who is asking

def band_member() -> S.Actor:
    """The caller as an Actor when it is a band member: 401 for anonymous, 403 for anyone else."""
    ident = current_identity()
    if not ident.authenticated:
        raise Unauthorized("Sign in first: send a bearer token.", code="auth_required")
    if ident.kind != "member" or ident.role not in ("leader", "member"):
        raise Forbidden("Only band members (an instrument's own member, and the leader) change the sample library.",
                        code="not_a_member", details={"role": ident.role})
    return S.Actor.of(ident)


def members_first(check=None):
    """Run before the view parses anything: 401/403 for non-members, then ``check(actor, **view_kwargs)``."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            actor = band_member()
            if check is not None:
                check(actor, **kwargs)
            return fn(*args, **kwargs)
        return wrapper
    return deco


def readers_first(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        require("band.read_private")
        return fn(*args, **kwargs)
    return wrapper


def _may_change_sample(actor: S.Actor, sample_id: int, **_):
    S.require_sample_manager(services().db, actor, sample_id)


# --------------------------------------------------------------------------- views

@blp.route("")
class Samples(MethodView):
    @readers_first
    @blp.arguments(SampleListArgs, location="query")
    @blp.response(200, SampleSchema(many=True))
    def get(self, args):
        """The library's samples (filters: instrument, articulation, licence, kind, state). Band only."""
        return S.list_samples(services().db, **args)

    @blp.doc(security=[{"bearer": []}], requestBody=AUDIO_BODY)
    @members_first()
    @blp.arguments(SampleAddArgs, location="query")
    @blp.response(201, SampleCommitSchema)
    def post(self, args):
        """Add a sample or SoundFont (or the slices of a recording) to an instrument. Its member and the leader."""
        actor = band_member()
        S.require_manager(actor, args["instrument"])
        meta = _meta(args)
        meta.checked(S.get_instrument(args["instrument"]), args.get("filename") or "sample.wav")
        slicing = _slicing(args)
        return _with_upload(lambda path, filename: S.add(
            services(), actor, args["instrument"], path, filename, meta, args["message"], slicing))


@blp.route("/<int:sample_id>")
class SampleItem(MethodView):
    @readers_first
    @blp.response(200, SampleSchema)
    def get(self, sample_id):
        """One sample with all its versions. Band only."""
        return S.get_sample(services().db, sample_id)


@blp.route("/<int:sample_id>/versions")
class SampleVersions(MethodView):
    @blp.doc(security=[{"bearer": []}], requestBody=AUDIO_BODY)
    @members_first(_may_change_sample)
    @blp.arguments(SampleMetaArgs, location="query")
    @blp.response(201, SampleCommitSchema)
    def post(self, args, sample_id):
        """Replace a sample: a new version (licence and source required again). Its member and the leader."""
        actor = band_member()
        meta = _meta(args)
        return _with_upload(lambda path, filename: S.replace(services(), actor, sample_id, path, filename, meta,
                                                             args["message"]))


@blp.route("/<int:sample_id>/retire")
class SampleRetire(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @members_first(_may_change_sample)
    @blp.arguments(SampleRetireSchema)
    @blp.response(200, SampleCommitSchema)
    def post(self, body, sample_id):
        """Retire a sample (its versions stay for the renders that name them). Its member and the leader."""
        return S.retire(services(), band_member(), sample_id, body["message"])


@blp.route("/history")
class History(MethodView):
    @readers_first
    @blp.arguments(SampleHistoryArgs, location="query")
    @blp.response(200, SampleCommitSchema(many=True))
    def get(self, args):
        """The library's commits, newest first (only an instrument's or a sample's with the filters). Band only."""
        return S.history(services().db, args.get("instrument"), args.get("sample"), args["limit"])


@blp.route("/<int:sample_id>/history")
class SampleHistory(MethodView):
    @readers_first
    @blp.response(200, SampleCommitSchema(many=True))
    def get(self, sample_id):
        """One sample's commits, newest first. Band only."""
        S.get_sample(services().db, sample_id)
        return S.history(services().db, sample_id=sample_id)


@blp.route("/<int:sample_id>/audition")
class Audition(MethodView):
    @readers_first
    @blp.arguments(SampleAuditionArgs, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="audio/wav")
    def get(self, args, sample_id):
        """A few seconds of the sample (a version of it) played through its engine, as WAV. Band only."""
        from .audition import audition

        svc = services()
        version = S.get_version(svc.db, sample_id, args.get("version"))
        key = audition(svc, version, S.get_instrument(version["sample"]["instrument"]))
        return Response(svc.store.get_bytes(key), mimetype="audio/wav",
                        headers={"Cache-Control": "private, max-age=86400"})


@blp.route("/<int:sample_id>/versions/<int:version>/file")
class VersionFile(MethodView):
    @readers_first
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    def get(self, sample_id, version):
        """The bytes of one version of a sample. Band only."""
        svc = services()
        v = S.get_version(svc.db, sample_id, version)
        name = f"{v['sample']['name']}.{v['format']}"
        path = svc.store.local_path(v["key"])
        if path is not None:
            return send_file(path, as_attachment=True, download_name=name, max_age=0)
        return redirect(svc.store.presigned_url(v["key"]), code=302)


# --------------------------------------------------------------------------- helpers

def _meta(args) -> S.SampleMeta:
    return S.SampleMeta(articulation=args.get("articulation") or S.NORMAL, name=args.get("name") or "",
                        licence=args.get("licence") or "", source=args.get("source") or "", root=args.get("root"),
                        low=args.get("low"), high=args.get("high"), velocity_low=args["velocity_low"],
                        velocity_high=args["velocity_high"])


def _numbers(raw: str | None, field: str, kind=float) -> list | None:
    if not raw:
        return None
    try:
        return [kind(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise InvalidInput(f"{field} must be comma-separated numbers.", code="bad_list", details={"field": field}) \
            from None


def _slicing(args) -> S.Slicing | None:
    how = args.get("slice")
    if not how:
        if args.get("points") or args.get("roots"):
            raise InvalidInput("points and roots go with ?slice=points or ?slice=onsets.", code="slice_missing")
        return None
    points = _numbers(args.get("points"), "points")
    if how == "points" and not points:
        raise InvalidInput("?slice=points needs ?points=1.5,3.0,...", code="points_missing")
    if how == "onsets" and points:
        raise InvalidInput("?slice=onsets finds its own cut points: leave out ?points.", code="points_with_onsets")
    roots = [r.strip() for r in args["roots"].split(",") if r.strip()] if args.get("roots") else None
    return S.Slicing(points=points, threshold_db=args["threshold_db"], min_gap_s=args["min_gap_ms"] / 1000.0,
                     roots=roots)


def _with_upload(fn):
    """Receive the request's file into a scratch file, call ``fn(path, filename)``, always clean up."""
    svc = services()
    with received(svc, svc.config.sample_max_bytes, prefix="sample-", what="the sample", example="kick.wav",
                  too_large="The sample is larger than the {mb} MB the library takes.") as up:
        return fn(up.path, up.filename)
