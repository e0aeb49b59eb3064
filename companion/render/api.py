"""REST endpoints: generate music with the band, render versions, follow renders, preview, SHF downloads.

Generating is quick and synchronous (a branch with one commit per member); rendering is an RQ
job (``jobs.render.render_job``) whose row carries progress and the result (render key, mixdown,
stems, the SHF and, when published, the track and its release job).
"""
from __future__ import annotations

from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..errors import Forbidden, InvalidInput, NotFound

blp = Blueprint("render", __name__, url_prefix="/api/render",
                description="The band's algorithms and the renderer: generate parts on a branch (each member "
                            "commits their own), render a version to stems and a mixdown (cached), quick HLS "
                            "previews, and SHF bundles (signed, with the scripts and instruments used).")


def _ctx():
    from ..band.auth import current_band, current_identity
    from ..compositions.store import Store

    config = current_app.config["SCRIPTHAMMER"]
    return Store(config.compositions_dir), current_band(), current_identity()


class GenerateSchema(Schema):
    composition = fields.String(load_default=None, metadata={"description": "an existing composition id; "
                                                             "absent or new: a new composition"})
    title = fields.String(load_default="")
    seed = fields.Integer(load_default=0, validate=validate.Range(0, 2 ** 53))
    measures = fields.Integer(load_default=None, validate=validate.Range(1, 1000))
    members = fields.List(fields.String(), load_default=None, metadata={"description": "default: the whole band"})
    base = fields.String(load_default="main")
    visibility = fields.String(load_default="private", validate=validate.OneOf(["private", "public"]))
    params = fields.Dict(load_default=dict, metadata={"description": "mood (bright, funky, dark, cosmic), density "
                                                      "0..1, tempo_feel (straight, swing, half-time, double-time), "
                                                      "key ('D minor'), tempo (bpm), lyrics"})


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


@blp.route("/generate")
class Generate(MethodView):
    @blp.arguments(GenerateSchema)
    @blp.response(201)
    def post(self, body):
        """Generate with the band: a new branch, one commit per member (their rights apply)."""
        from ..algorithms.base import Params
        from ..algorithms.generate import generate
        from ..band.auth import require

        require("compositions.write")
        store, band, ident = _ctx()
        if ident.kind == "guest":
            raise Forbidden("guests do not run the band's algorithms", code="guest_scope")
        try:
            params = Params.from_dict(body["params"])
        except (ValueError, TypeError) as exc:
            raise InvalidInput(str(exc), code="bad_params") from None
        return generate(store, band, ident, comp_id=body["composition"], title=body["title"], seed=body["seed"],
                        params=params, measures=body["measures"], members=body["members"], base=body["base"],
                        visibility=body["visibility"])


@blp.route("/renders")
class Renders(MethodView):
    @blp.arguments(RenderRequestSchema)
    @blp.response(202)
    def post(self, body):
        """Queue a render of a version (cached by content: an unchanged version renders nothing)."""
        from ..app import services
        from ..band.auth import require
        from ..render.service import RenderSettings
        from ..tasks.service import create_job, submit

        ident = require("catalog.upload" if body["publish"] else "band.read_private")
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


@blp.route("/renders/<job_id>")
class RenderStatus(MethodView):
    @blp.response(200)
    def get(self, job_id):
        """A render's state, progress and result (mixdown, stems, SHF, track)."""
        from ..app import services
        from ..band.auth import require
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
    @blp.response(200)
    def get(self, job_id):
        """Download the render's SHF bundle."""
        from ..app import services
        from ..band.auth import require
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
    @blp.arguments(PreviewSchema)
    @blp.response(200)
    def post(self, body):
        """Render and segment the first seconds of a version now (HLS, first segment first)."""
        from ..app import services
        from ..band.auth import require
        from .preview import quick_preview

        ident = require("band.read_private")
        store, band, _ = _ctx()
        _, commit, files = _version(store, band, ident, body["composition"], body["rev"])
        svc = services()
        res = quick_preview(svc.store, files, svc.config.work_dir, seconds=body["seconds"],
                            segment_seconds=svc.config.hls_segment_seconds)
        res["playlist_url"] = f"/media/{res['playlist_key']}"
        res["commit"] = str(commit.id)
        return res
