"""REST endpoints for compositions: versions, history, branches, tags, diff, merge, import, export.

Rights (docs/rights.md): every write declares its coarse right with ``@requires`` (or
``@signed_in``) above ``@blp.arguments``, so an anonymous or unentitled caller gets 401/403
before the body is read or validated; imports are then capped at
``Config.composition_import_max_mb`` (413 stating it) before the file is read. Handlers then
only translate HTTP to the plain functions of :mod:`companion.compositions.service`, which
check the content-dependent rights (private pieces, guest scopes, part ownership, merging into
main) and raise the typed errors the app turns into JSON.
"""
from __future__ import annotations

import functools

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from ..band.auth import OPTIONAL_SECURITY, requires, signed_in
from ..schema_fields import MultipartFormParser
from ..errors import InvalidInput, PayloadTooLarge
from . import service as S
from .store import MAIN, Store

blp = Blueprint("compositions", __name__, url_prefix="/api/compositions",
                description="Compositions under version control: versions, history, branches, tags, "
                            "musical diff, three-way merge with conflicts, import and export (MIDI, MusicXML).")
# Imports are one multipart/form-data body (fields and the file): the "form" location of this
# blueprint's parser reads both, so one schema documents and validates the whole body (OpenAPI 3 has
# no formData parameters).
blp.ARGUMENTS_PARSER = MultipartFormParser()


def _ctx():
    from ..band.auth import current_band, current_identity

    config = current_app.config["SCRIPTHAMMER"]
    return Store(config.compositions_dir), current_band(), current_identity()


# --------------------------------------------------------------------------- schemas

class PartSchema(Schema):
    id = fields.String(required=True, metadata={"description": "lowercase id, also the file name parts/<id>.txt"})
    name = fields.String()
    instrument = fields.String()
    program = fields.Integer(allow_none=True, validate=validate.Range(0, 127), metadata={"description": "GM program"})
    channel = fields.Integer(validate=validate.Range(0, 15))
    kind = fields.String(required=True, metadata={"description": "a part kind of the band file (melody, rhythm...)"})
    owner = fields.String(allow_none=True, metadata={"description": "owning member id"})


class CompositionCreateSchema(Schema):
    id = fields.String(metadata={"description": "composition id (default: from the title)"})
    title = fields.String(required=True)
    visibility = fields.String(load_default="private", validate=validate.OneOf(["private", "public"]))
    measures = fields.Integer(load_default=0, validate=validate.Range(0, 100000))
    parts = fields.List(fields.Nested(PartSchema), load_default=list)
    message = fields.String(load_default="")


class CompositionSummarySchema(Schema):
    id = fields.String()
    title = fields.String()
    visibility = fields.String()
    head = fields.String()
    parts = fields.List(fields.String())
    measures = fields.Integer()


class VersionSchema(Schema):
    id = fields.String()
    short = fields.String()
    author = fields.String(metadata={"description": "member id (or guest id) who made the commit"})
    author_name = fields.String()
    time = fields.Integer(metadata={"description": "unix time"})
    message = fields.String()
    parents = fields.List(fields.String())
    measure = fields.Dict(metadata={"description": "with ?measure=: the measure before and after"})


class CompositionSchema(Schema):
    id = fields.String()
    title = fields.String()
    visibility = fields.String()
    version = fields.Nested(VersionSchema)
    measures = fields.Integer()
    parts = fields.List(fields.Dict())
    branches = fields.List(fields.Dict())
    tags = fields.List(fields.Dict())
    format_version = fields.Integer(metadata={"description": "the version's composition format (1 is read and "
                                                            "upgraded to 2 by the next write)"})
    files = fields.Dict(metadata={"description": "with ?text=1: the canonical files at this version"})


class RevQuerySchema(Schema):
    rev = fields.String(load_default=MAIN, metadata={"description": "branch, tag or commit id"})
    text = fields.Boolean(load_default=False)


class CommitSchema(Schema):
    branch = fields.String(load_default=MAIN)
    parent = fields.String(required=True, metadata={"description": "the head the change is based on; 409 if stale"})
    message = fields.String(required=True)
    changes = fields.Dict(required=True, metadata={"description":
        '{"parts": {"<part>": {"measures": {"12": "0 clef=F4 ; 0 C4 1/2 v80 art=staccato ; 0 slur=2 ; ..." | '
        '[event objects: notes {onset, pitch, duration, velocity, articulations, ornaments, ...} or notation '
        '{kind: clef|key|meter|slur|cresc|dim|dyn, onset, value|span}]}} | {"text": "<whole part file>"}}, '
        '"global": {"measures": {...}} | {"text": ...}, "metadata": {"title", "visibility", "measures", "parts"}} '
        '(docs/composition-format.md)'})


class CommitResultSchema(Schema):
    id = fields.String()
    branch = fields.String()
    parent = fields.String()
    touched = fields.List(fields.String())


class HistoryQuerySchema(Schema):
    rev = fields.String(load_default=MAIN)
    part = fields.String(metadata={"description": "only commits that changed this part ('global' for tempo/meter/key)"})
    measure = fields.Integer(validate=validate.Range(min=1), metadata={"description": "with part: only this measure"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class BranchSchema(Schema):
    name = fields.String(required=True)
    head = fields.String(dump_only=True)
    updated_at = fields.Integer(dump_only=True)
    start = fields.String(load_only=True, load_default=MAIN, metadata={"description": "branch, tag or commit to start from"})


class TagSchema(Schema):
    name = fields.String(required=True)
    commit = fields.String(dump_only=True)
    rev = fields.String(load_only=True, load_default=MAIN)
    message = fields.String(load_default="")
    tagger = fields.String(dump_only=True, allow_none=True)


class DiffQuerySchema(Schema):
    from_ = fields.String(data_key="from", required=True, metadata={"description": "branch, tag or commit"})
    to = fields.String(load_default=MAIN)
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "text"]))


class MergeSchema(Schema):
    source = fields.String(required=True, metadata={"description": "the branch (or commit) to merge in"})
    target = fields.String(load_default=MAIN)
    resolutions = fields.Dict(load_default=dict, metadata={"description":
        '{"<conflict id>": "ours" | "theirs" | {"notes": [note objects] or "canonical text"}}'})
    message = fields.String(load_default="")
    expected_target = fields.String(metadata={"description": "the target head you previewed; 409 if it moved"})


class ImportFormSchema(Schema):
    format = fields.String(validate=validate.OneOf(["midi", "musicxml"]), metadata={"description": "default: sniffed"})
    id = fields.String(metadata={"description": "new composition id (POST /import)"})
    title = fields.String(load_default="")
    visibility = fields.String(load_default="private", validate=validate.OneOf(["private", "public"]))
    branch = fields.String(load_default=MAIN)
    parent = fields.String(metadata={"description": "for an existing composition: the head the import replaces"})
    message = fields.String(load_default="")
    file = fields.Raw(required=True, load_only=True,
                      metadata={"type": "string", "format": "binary", "description": "the MIDI or MusicXML file"})


class ImportResultSchema(Schema):
    id = fields.String()
    version = fields.String()
    created = fields.Boolean()


class ExportQuerySchema(Schema):
    rev = fields.String(load_default=MAIN)
    format = fields.String(load_default="midi", validate=validate.OneOf(list(S.FORMATS)))


# --------------------------------------------------------------------------- endpoints

@blp.route("/")
class Compositions(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.response(200, CompositionSummarySchema(many=True))
    def get(self):
        """List the compositions the caller may read."""
        store, band, ident = _ctx()
        if not ident.authenticated:
            from ..errors import Unauthorized
            raise Unauthorized("sign in to list compositions", code="auth_required")
        return S.list_compositions(store, band, ident)

    @requires("compositions.write")
    @blp.arguments(CompositionCreateSchema)
    @blp.response(201, CompositionSummarySchema)
    def post(self, data):
        """Create a composition (empty parts) on a new main branch."""
        store, band, ident = _ctx()
        r = S.create_composition(store, band, ident, data["title"], comp_id=data.get("id"), parts=data["parts"],
                                 visibility=data["visibility"], measures=data["measures"], message=data["message"])
        return {**r, "parts": [p["id"] for p in r["parts"]]}


def _import_limit() -> int:
    return current_app.config["SCRIPTHAMMER"].composition_import_max_bytes


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge.over("A composition import", limit, code="import_too_large")


def capped_import(view):
    """Refuse an import body over ``Config.composition_import_max_mb`` before reading it (413 stating
    the limit); a body without a Content-Length is read at most to the limit."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        limit = _import_limit()
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(limit)
        request.max_content_length = limit
        return view(*args, **kwargs)
    return wrapper


def _upload() -> tuple[bytes, str]:
    f = request.files.get("file")
    if f is None:
        raise InvalidInput("send the file as multipart form field 'file'", code="file_missing")
    limit = _import_limit()
    data = f.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data, f.filename or ""


@blp.route("/import")
class ImportNew(MethodView):
    @requires("compositions.write")
    @capped_import
    @blp.arguments(ImportFormSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, ImportResultSchema)
    def post(self, form):
        """Import a MIDI or MusicXML file as a new composition (malformed input: 422, nothing written)."""
        store, band, ident = _ctx()
        if form.get("id") and store.exists(form["id"]):
            from ..errors import Conflict
            raise Conflict(f"composition {form['id']!r} already exists: import a new version with "
                           f"POST /api/compositions/{form['id']}/import", code="composition_exists")
        data, name = _upload()
        return S.import_file(store, band, ident, data, form.get("format"), name, comp_id=form.get("id"),
                             title=form["title"], message=form["message"], visibility=form["visibility"])


@blp.route("/<comp_id>")
class CompositionItem(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.arguments(RevQuerySchema, location="query")
    @blp.response(200, CompositionSchema)
    def get(self, args, comp_id):
        """A composition at a version (?rev=branch|tag|commit); ?text=1 adds the canonical files."""
        store, band, ident = _ctx()
        return S.get_composition(store, band, ident, comp_id, args["rev"], with_text=args["text"])


@blp.route("/<comp_id>/commits")
class Commits(MethodView):
    @requires("compositions.write")
    @blp.arguments(CommitSchema)
    @blp.response(201, CommitResultSchema)
    def post(self, data, comp_id):
        """Commit a change (whole parts or measures) on a branch, based on ``parent``.

        409 (stale_parent) with the current head if the branch moved; 403 naming the part if
        the change touches a part the caller may not change (nothing is written)."""
        store, band, ident = _ctx()
        return S.commit_change(store, band, ident, comp_id, data["branch"], data["parent"], data["message"],
                               data["changes"])


@blp.route("/<comp_id>/import")
class ImportVersion(MethodView):
    @requires("compositions.write")
    @capped_import
    @blp.arguments(ImportFormSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, ImportResultSchema)
    def post(self, form, comp_id):
        """Import a MIDI or MusicXML file as a new version of an existing composition."""
        store, band, ident = _ctx()
        store.repo(comp_id)
        if not form.get("parent"):
            raise InvalidInput("give the parent (the head this import replaces)", code="parent_missing")
        data, name = _upload()
        return S.import_file(store, band, ident, data, form.get("format"), name, comp_id=comp_id,
                             title=form["title"], branch=form["branch"], parent=form["parent"], message=form["message"])


@blp.route("/<comp_id>/history")
class History(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, VersionSchema(many=True))
    def get(self, args, comp_id):
        """History of a composition, a part (?part=) or one measure of a part (?part=&measure=)."""
        store, band, ident = _ctx()
        return S.history(store, band, ident, comp_id, args["rev"], args.get("part"), args.get("measure"), args["limit"])


@blp.route("/<comp_id>/branches")
class Branches(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.response(200, BranchSchema(many=True))
    def get(self, comp_id):
        """Branches of a composition."""
        store, band, ident = _ctx()
        return S.list_branches(store, band, ident, comp_id)

    @requires("compositions.write")
    @blp.arguments(BranchSchema)
    @blp.response(201, BranchSchema)
    def post(self, data, comp_id):
        """Create a branch from a branch, tag or commit."""
        store, band, ident = _ctx()
        return S.create_branch(store, band, ident, comp_id, data["name"], data["start"])


@blp.route("/<comp_id>/branches/<name>")
class BranchItem(MethodView):
    @requires("compositions.write")
    @blp.response(204)
    def delete(self, comp_id, name):
        """Delete a branch (not main)."""
        store, band, ident = _ctx()
        S.delete_branch(store, band, ident, comp_id, name)


@blp.route("/<comp_id>/tags")
class Tags(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.response(200, TagSchema(many=True))
    def get(self, comp_id):
        """Tags (releases) of a composition."""
        store, band, ident = _ctx()
        return S.list_tags(store, band, ident, comp_id)

    @requires("compositions.write")
    @blp.arguments(TagSchema)
    @blp.response(201, TagSchema)
    def post(self, data, comp_id):
        """Tag a version."""
        store, band, ident = _ctx()
        return S.create_tag(store, band, ident, comp_id, data["name"], data["rev"], data["message"])


@blp.route("/<comp_id>/tags/<name>")
class TagItem(MethodView):
    @requires("compositions.merge")
    @blp.response(204)
    def delete(self, comp_id, name):
        """Delete a tag (those who may merge into main)."""
        store, band, ident = _ctx()
        S.delete_tag(store, band, ident, comp_id, name)


@blp.route("/<comp_id>/diff")
class Diff(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.arguments(DiffQuerySchema, location="query")
    @blp.response(200, description="The musical diff as JSON, or ?format=text for a readable summary")
    def get(self, args, comp_id):
        """Musical diff between two versions: per part and measure, notes added, removed or changed,
        and tempo, meter and key changes."""
        store, band, ident = _ctx()
        d = S.diff(store, band, ident, comp_id, args["from_"], args["to"])
        if args["format"] == "text":
            return Response(S.diff_text(d), mimetype="text/plain")
        return d


@blp.route("/<comp_id>/merge/preview")
class MergePreview(MethodView):
    @signed_in
    @blp.arguments(MergeSchema)
    @blp.response(200, description="status (up_to_date, fast_forward, merge), merge bases, conflicts with place "
                                   "(part, measure, voice, beat) and base/ours/theirs events, and stats")
    def post(self, data, comp_id):
        """Preview a merge: its conflicts (with any resolutions given applied)."""
        store, band, ident = _ctx()
        return S.merge_preview(store, band, ident, comp_id, data["source"], data["target"], data["resolutions"])


@blp.route("/<comp_id>/merge")
class Merge(MethodView):
    @requires("compositions.merge")
    @blp.arguments(MergeSchema)
    @blp.response(201, description="The merge commit (or fast-forward)")
    def post(self, data, comp_id):
        """Merge a branch into another; 409 (merge_conflicts) with the conflicts while any is unresolved."""
        store, band, ident = _ctx()
        return S.merge(store, band, ident, comp_id, data["source"], data["target"], data["resolutions"],
                       data["message"], data.get("expected_target"))


@blp.route("/<comp_id>/export")
class Export(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, description="MIDI, MusicXML or the canonical files as a zip")
    def get(self, args, comp_id):
        """Export any version as MIDI, MusicXML or the canonical format (zip)."""
        store, band, ident = _ctx()
        data, mime, name = S.export(store, band, ident, comp_id, args["rev"], args["format"])
        return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})
