"""REST endpoints of the renderer: render versions, follow renders, preview, SHF downloads.

Rendering is an RQ job (``jobs.render.render_job``) whose row carries progress and the result
(render key, mixdown, stems, the SHF and, when published, the track, its release job and the job
that attaches the SHF). Generating a piece is the algorithms room's (companion/algorithms/api.py).
"""
from __future__ import annotations

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from ..band.auth import SECURITY, current_band, current_identity, require
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized
from ..services import current as services

blp = Blueprint("render", __name__, url_prefix="/api/render",
                description="The renderer: render a composition version to stems and a mixdown (cached), "
                            "quick HLS previews, and SHF bundles (signed, with the scripts and instruments used).")

# the right each write needs, checked before its body is read (None: signed in; the view checks the rest,
# which depends on the body)
WRITE_RIGHTS = {"Renders": None, "Preview": "band.read_private"}


@blp.before_request
def _caller_first():
    """Who is asking comes before the body: an anonymous write is 401 whatever it carries."""
    if request.method != "POST":
        return
    right = WRITE_RIGHTS.get((request.endpoint or "").rpartition(".")[2])
    if right:
        require(right)
    elif not current_identity().authenticated:
        raise Unauthorized("Sign in first: send a bearer token or a signed request.", code="auth_required")


def _ctx():
    from ..compositions.store import Store

    config = current_app.config["SCRIPTHAMMER"]
    return Store(config.compositions_dir), current_band(), current_identity()


class RenderRequestSchema(Schema):
    composition = fields.String(required=True)
    rev = fields.String(load_default="main", metadata={"description": "branch, tag or commit"})
    settings = fields.Dict(load_default=dict, metadata={"description": "engine (auto|fluidsynth|supercollider), "
                                                        "engines {part: engine}, loudness_target_lufs, "
                                                        "limiter_ceiling_db, reverb_seconds, tail_seconds"})
    publish = fields.Boolean(load_default=False, metadata={"description": "make it a track (release pipeline + SHF)"})
    title = fields.String(load_default="")
    track_id = fields.Integer(load_default=None)
    stems = fields.Boolean(load_default=False, metadata={"description": "include stems in the SHF"})


class PreviewSchema(Schema):
    composition = fields.String(required=True)
    rev = fields.String(load_default="main")
    seconds = fields.Float(load_default=8.0, validate=validate.Range(1, 60))


def _version(store, band, ident, comp_id: str, rev: str):
    from ..compositions import service as S

    info = S.get_composition(store, band, ident, comp_id, rev=rev)  # read rights checked here
    repo = store.repo(comp_id)
    commit = store.resolve(repo, rev)
    return info, commit, store.read_files(repo, commit)


@blp.route("/renders")
class Renders(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(RenderRequestSchema)
    @blp.response(202)
    def post(self, body):
        """Queue a render of a version (cached by content: an unchanged version renders nothing).

        ``publish`` needs catalog.upload; an upload token may publish only into its own track."""
        from ..render.service import RenderSettings
        from ..tasks.service import create_job, submit

        ident = require("catalog.upload" if body["publish"] else "band.read_private")
        if body["publish"]:
            _check_track(services(), ident, body["track_id"])
        store, band, _ = _ctx()
        info, commit, _ = _version(store, band, ident, body["composition"], body["rev"])
        try:
            RenderSettings.from_dict(body["settings"])
        except (ValueError, TypeError) as exc:
            raise InvalidInput(str(exc), code="bad_settings") from None
        svc = services()
        with svc.db.session() as s:
            job = create_job(s, kind="render", track_id=body["track_id"], created_by=ident.member_id or ident.name,
                             params={"composition": body["composition"], "commit": str(commit.id),
                                     "settings": body["settings"], "publish": body["publish"],
                                     "title": body["title"] or info["title"], "track_id": body["track_id"],
                                     "stems": body["stems"]})
            s.flush()
        submit(svc, job, "jobs.render.render_job")
        return {"job": job.id, "state": job.state, "composition": body["composition"], "commit": str(commit.id),
                "status_url": f"/api/render/renders/{job.id}"}


def _check_track(svc, ident, track_id: int | None) -> None:
    """A publish goes into an existing track the caller may upload to (an upload token: only its own;
    it cannot make a new one)."""
    from ..band.auth import require_track_scope
    from ..catalog.service import get_track

    if track_id is None:
        if ident.scopes.get("tracks") is not None:
            raise Forbidden("This upload token is for one track: name it in track_id.", code="wrong_track")
        return
    require_track_scope(ident, track_id)
    with svc.db.session() as s:
        get_track(s, track_id)  # 404 when there is none


@blp.route("/renders/<job_id>")
class RenderStatus(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200)
    def get(self, job_id):
        """A render's state, progress and result (mixdown, stems, SHF, track)."""
        from ..tasks.models import Job

        require("band.read_private")
        with services().db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.kind != "render":
                raise NotFound(f"no render {job_id}", code="render_not_found")
            out = {"job": job.id, "state": job.state, "progress": job.progress, "stage": job.stage,
                   "error_code": job.error_code, "error_message": job.error_message, "result": job.result or {}}
        shf = (out["result"] or {}).get("shf")
        if shf:
            out["shf_url"] = f"/api/render/renders/{job_id}/shf"
        return out


@blp.route("/renders/<job_id>/shf")
class RenderSHF(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200)
    def get(self, job_id):
        """Download the render's SHF bundle."""
        from ..tasks.models import Job

        require("band.read_private")
        svc = services()
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            shf = ((job.result or {}).get("shf") if job is not None and job.kind == "render" else None)
        if not shf:
            raise NotFound("this render has no SHF (yet)", code="shf_not_found")
        path = svc.store.local_path(shf["key"])
        name = shf["key"].rsplit("/", 1)[-1]
        if path is None:
            from flask import Response
            return Response(svc.store.get_bytes(shf["key"]), mimetype="application/vnd.scripthammer.shf+zip",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return send_file(path, mimetype="application/vnd.scripthammer.shf+zip", as_attachment=True,
                         download_name=name)


@blp.route("/preview")
class Preview(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PreviewSchema)
    @blp.response(200)
    def post(self, body):
        """Render and segment the first seconds of a version now (HLS, first segment first)."""
        from ..access.delivery import caller_media_url
        from .preview import quick_preview

        ident = require("band.read_private")
        store, band, _ = _ctx()
        _, commit, files = _version(store, band, ident, body["composition"], body["rev"])
        svc = services()
        res = quick_preview(svc.store, files, svc.config.work_dir, seconds=body["seconds"],
                            segment_seconds=svc.config.hls_segment_seconds)
        res["playlist_url"] = caller_media_url(res["playlist_key"])  # a private object: signed for the caller
        res["commit"] = str(commit.id)
        return res
