"""The studio: its page at /studio/<composition>, its built assets under /studio/assets/, and the
studio API under /api/studio/ (the model as the roll draws it, edit checks, the SoundFont the
browser synth plays, live updates as server-sent events).

Commits, branches, diffs and merges go through the compositions API itself
(/api/compositions/...), so every edit the studio sends is checked there again.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from flask import Response, current_app, render_template, request, send_file, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..band.auth import current_band, current_identity, requires, signed_in
from ..compositions import rights
from ..compositions.store import MAIN, Store
from ..errors import NotFound
from ..compositions import service as CS
from ..services import current as services
from . import comments as C
from . import service as S

blp = Blueprint("studio", __name__, url_prefix="", template_folder="templates",
                description="The members' studio: the browser app and its model, edit checks, SoundFont and "
                            "live updates.")

#: Where ``npm run build`` in studio/ puts the app.
DIST_DIR = Path(__file__).resolve().parents[2] / "studio" / "dist"
ASSET = re.compile(r"^[A-Za-z0-9_.-]+\.(js|css|map|json|wasm)$")
#: A live-updates stream ends after this many seconds (the app reconnects), so no thread is held forever.
STREAM_SECONDS = 55
POLL_SECONDS = 0.25


def _store() -> Store:
    return Store(current_app.config["SCRIPTHAMMER"].compositions_dir)


def _soundfont_source() -> Path:
    from ..render.engines.fluidsynth import DEFAULT_SOUNDFONT

    return Path(DEFAULT_SOUNDFONT)


class StudioModelQuery(Schema):
    rev = fields.String(load_default=MAIN, validate=validate.Length(1, 200))
    branch = fields.String(validate=validate.Length(1, 200),
                           metadata={"description": "the branch edits go to (default: rev when it is a branch)"})


class StudioWindowQuery(StudioModelQuery):
    first = fields.Integer(validate=validate.Range(1, 100000), metadata={"description": "first measure (default: all)"})
    last = fields.Integer(validate=validate.Range(1, 100000), metadata={"description": "last measure"})


class StudioCheckSchema(Schema):
    branch = fields.String(load_default=MAIN)
    parent = fields.String(required=True)
    changes = fields.Dict(required=True)


class StudioEventsQuery(Schema):
    seconds = fields.Integer(load_default=STREAM_SECONDS, validate=validate.Range(1, STREAM_SECONDS))


_HTML_PAGE = {"200": {"description": "The studio app (HTML; the token travels in the URL fragment)",
                      "content": {"text/html": {"schema": {"type": "string"}}}}}
_ASSET = {"200": {"description": "A file of the studio's build (JavaScript, CSS, a source map, a licence, their gzip)",
                  "content": {"application/javascript": {"schema": {"type": "string"}},
                              "text/css": {"schema": {"type": "string"}},
                              "application/wasm": {"schema": {"type": "string", "format": "binary"}},
                              "application/json": {"schema": {"type": "string"}},
                              "text/plain": {"schema": {"type": "string"}},
                              "application/gzip": {"schema": {"type": "string", "format": "binary"}}}}}


@blp.route("/studio/")
@blp.route("/studio/<comp_id>")
@blp.doc(responses=_HTML_PAGE)
def page(comp_id: str = ""):
    """The studio app (it reads its token from the URL fragment, never sent to the server)."""
    return _app_page("studio/page.html", "studio.js", {"boot_version": "boot.js"}, comp_id=comp_id)


def _app_page(template: str, entry: str, versions: dict[str, str], **context) -> Response:
    """One of the studio's HTML pages: ``entry`` (its script) must be built; ``version`` is its version and
    each of ``versions`` (template name -> built file) another file's (the first 12 hex digits of its
    SHA-256). No caching, no referrer (the token rides in the URL fragment)."""
    if not (DIST_DIR / entry).exists():
        raise NotFound("the studio is not built: run npm run build in studio/ (scripts/setup.sh)",
                       code="studio_not_built")
    manifest = json.loads((DIST_DIR / "manifest.json").read_text())

    def version(name: str) -> str:
        return manifest.get(name, {}).get("sha256", "")[:12]

    html = render_template(template, version=version(entry), **{k: version(f) for k, f in versions.items()}, **context)
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store",
                                                         "Referrer-Policy": "no-referrer"})


@blp.route("/studio/assets/<name>")
@blp.doc(responses=_ASSET)
def asset(name: str):
    if not ASSET.match(name) or not (DIST_DIR / name).is_file():
        raise NotFound(f"no studio asset {name!r}", code="asset_not_found")
    return send_file(DIST_DIR / name, max_age=300)


@blp.route("/api/studio/<comp_id>/model")
class ModelView(MethodView):
    @blp.arguments(StudioModelQuery, location="query")
    @blp.response(200, description="The composition at a version as the studio draws it: measure grid, tempo, "
                                   "every part's events, which parts the caller may change and why not")
    def get(self, args, comp_id):
        """The studio's model of a composition at ?rev= (branch, tag or commit)."""
        return S.model(_store(), current_band(), current_identity(), comp_id, args["rev"], args.get("branch"))


@blp.route("/api/studio/<comp_id>/check")
class CheckView(MethodView):
    @requires("compositions.write")
    @blp.arguments(StudioCheckSchema)
    @blp.response(200, description="{ok, head, stale, touched}: the edit would be accepted by the commit API")
    def post(self, data, comp_id):
        """Check an edit as the commit API would (format, guest scope, part rights), committing nothing."""
        return S.check_edit(_store(), current_band(), current_identity(), comp_id, data["branch"], data["parent"],
                            data["changes"])


@blp.route("/api/studio/<comp_id>/soundfont.sf2")
class SoundFontView(MethodView):
    @blp.arguments(StudioModelQuery, location="query")
    @blp.response(200, description="An SF2 with the presets the composition's parts play (from the render "
                                   "engine's SoundFont)")
    def get(self, args, comp_id):
        """The SoundFont the browser synth plays this composition with."""
        store = _store()
        wanted = S.presets(store, current_identity(), comp_id, args["rev"])
        cache = Path(current_app.config["SCRIPTHAMMER"].var_dir) / "studio" / "soundfonts"
        path = S.soundfont(_soundfont_source(), cache, wanted)
        return send_file(path, mimetype="audio/x-soundfont", max_age=3600)


@blp.route("/api/studio/<comp_id>/events")
class EventsView(MethodView):
    @signed_in
    @blp.arguments(StudioEventsQuery, location="query")
    @blp.response(200, description="text/event-stream: a `heads` event with every branch head first, then one "
                                   "`commit` event per branch that moves (name, head, version)")
    def get(self, args, comp_id):
        """Live updates: others' commits as server-sent events (the stream ends after ?seconds=; reconnect)."""
        store, ident = _store(), current_identity()
        repo = store.repo(comp_id)
        rights.require_read(ident, comp_id, CS._head_meta(store, repo))
        seconds = args["seconds"]

        def heads() -> dict[str, str]:
            return {b["name"]: b["head"] for b in store.branches(store.repo(comp_id))}

        def stream():
            seen = heads()
            yield f"event: heads\ndata: {json.dumps(seen)}\n\n"
            end = time.monotonic() + seconds
            last_beat = time.monotonic()
            while time.monotonic() < end:
                time.sleep(POLL_SECONDS)
                now = heads()
                for name, head in now.items():
                    if seen.get(name) != head:
                        info = CS.commit_info(store.repo(comp_id)[head])
                        yield f"event: commit\ndata: {json.dumps({'branch': name, 'head': head, 'version': info})}\n\n"
                for name in set(seen) - set(now):
                    yield f"event: branch_deleted\ndata: {json.dumps({'branch': name})}\n\n"
                seen = now
                if time.monotonic() - last_beat > 5:
                    last_beat = time.monotonic()
                    yield ": keep-alive\n\n"
            yield "event: bye\ndata: {}\n\n"

        return Response(stream_with_context(stream()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class StudioPreviewSchema(Schema):
    rev = fields.String(required=True, validate=validate.Length(1, 200))
    changes = fields.Dict(required=True)
    first = fields.Integer(validate=validate.Range(1, 100000))
    last = fields.Integer(validate=validate.Range(1, 100000))


@blp.route("/api/studio/<comp_id>/preview")
class PreviewView(MethodView):
    @signed_in
    @blp.arguments(StudioPreviewSchema)
    @blp.response(200, description="MusicXML of the version with the unsent edits applied (nothing is written)")
    def post(self, data, comp_id):
        """The score of a version with the studio's unsent edits, for the notation view."""
        data_xml = S.preview_musicxml(_store(), current_identity(), comp_id, data["rev"], data["changes"],
                                      data.get("first"), data.get("last", data.get("first")))
        return Response(data_xml, mimetype="application/vnd.recordare.musicxml+xml")


class StudioCommentQuery(Schema):
    version = fields.String(validate=validate.Length(1, 40))


class StudioCommentSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(1, C.MAX_BODY))
    version = fields.String(required=True, validate=validate.Length(1, 200),
                            metadata={"description": "the version commented on (branch, tag or commit)"})
    part = fields.String(allow_none=True, load_default=None)
    measure_from = fields.Integer(required=True, validate=validate.Range(1, 100000))
    measure_to = fields.Integer(required=True, validate=validate.Range(1, 100000))
    parent_id = fields.Integer(allow_none=True, load_default=None, metadata={"description": "reply to this comment"})


class StudioResolveSchema(Schema):
    resolved = fields.Boolean(load_default=True)


@blp.route("/api/studio/<comp_id>/comments")
class CommentsView(MethodView):
    @blp.arguments(StudioCommentQuery, location="query")
    @blp.response(200, description="Comments and fans' feedback, oldest first, with their anchors and threads")
    def get(self, args, comp_id):
        """Comments on a composition (?version= for one version's)."""
        with services().db.session() as s:
            return C.list_comments(s, _store(), current_identity(), comp_id, args.get("version"))

    @signed_in
    @blp.arguments(StudioCommentSchema)
    @blp.response(201, description="The comment")
    def post(self, data, comp_id):
        """Comment on (or reply about) a version, a part and a measure range; a listener's is a fan's."""
        with services().db.session() as s:
            return C.add_comment(s, _store(), current_identity(), comp_id, data)


@blp.route("/api/studio/<comp_id>/comments/<int:comment_id>/resolve")
class ResolveView(MethodView):
    @signed_in
    @blp.arguments(StudioResolveSchema)
    @blp.response(200, description="The comment")
    def post(self, data, comp_id, comment_id):
        """Resolve (or reopen, resolved=false) a comment thread: band members."""
        with services().db.session() as s:
            return C.resolve_comment(s, _store(), current_identity(), comp_id, comment_id, data["resolved"])


@blp.route("/api/studio/<comp_id>/musicxml")
class MusicXMLView(MethodView):
    @blp.arguments(StudioWindowQuery, location="query")
    @blp.response(200, description="MusicXML of the version (the export's), whole or a window of measures numbered "
                                   "as in the piece, kept per commit; X-ScriptHammer-Version names the commit")
    def get(self, args, comp_id):
        """The score of a version (?first=&last= for a window of measures), cached per commit."""
        cache = Path(current_app.config["SCRIPTHAMMER"].var_dir) / "studio" / "musicxml"
        first = args.get("first")
        data, commit = S.musicxml(_store(), current_identity(), comp_id, args["rev"], cache, first,
                                  args.get("last", first) if first is not None else None)
        return Response(data, mimetype="application/vnd.recordare.musicxml+xml",
                        headers={"X-ScriptHammer-Version": commit, "Cache-Control": "private, max-age=31536000"
                                 if args["rev"] == commit else "no-store"})


@blp.route("/studio/session/<int:session_id>")
@blp.doc(responses=_HTML_PAGE)
def session_page(session_id: int):
    """The shared studio view of live session ``session_id`` (studio/src/session.js). The page is public
    HTML; everything it shows comes from GET /api/live/sessions/<id>/view with the member's or guest's
    token, read from the URL fragment (never sent to the server in the address)."""
    return _app_page("studio/session.html", "session.js", {"css_version": "studio.css"}, session_id=session_id)
