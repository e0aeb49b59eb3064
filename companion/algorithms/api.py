"""REST endpoints of the band's algorithms: generate a piece (a queued job: a branch, one commit per
member) and follow it.

``POST /api/algorithms/generations`` answers 202 with the job, the composition and the branch the
members will commit on; ``GET /api/algorithms/generations/<job>`` gives its state, progress and result.
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from ..band.auth import SECURITY, require
from ..errors import NotFound
from ..services import current as services

blp = Blueprint("algorithms", __name__, url_prefix="/api/algorithms",
                description="The band's algorithms: each member's code writes their part of a piece on a new "
                            "branch (queued; one commit per member, their rights apply).")


@blp.before_request
def _caller_first():
    """Who is asking, and with which right, comes before the body is read or validated."""
    if request.method == "POST":
        require("compositions.write")


class GenerateSchema(Schema):
    composition = fields.String(load_default=None, metadata={"description": "an existing composition id, or the id "
                                                             "of a new one; absent: a new one named after the title"})
    title = fields.String(load_default="")
    seed = fields.Integer(load_default=0, validate=validate.Range(0, 2 ** 53))
    measures = fields.Integer(load_default=None, validate=validate.Range(1, 1000))
    from_measure = fields.Integer(load_default=None, validate=validate.Range(1, 1000), metadata={
        "description": "with to_measure: the members write only these measures of their parts (a selection); the "
                       "rest of the piece, its global track and metadata stay as they are at base"})
    to_measure = fields.Integer(load_default=None, validate=validate.Range(1, 1000))
    members = fields.List(fields.String(), load_default=None, metadata={"description": "default: the whole band"})
    base = fields.String(load_default="main")
    visibility = fields.String(load_default="private", validate=validate.OneOf(["private", "public"]))
    params = fields.Dict(load_default=dict, metadata={"description": "mood (bright, funky, dark, cosmic), density "
                                                      "0..1, tempo_feel (straight, swing, half-time, double-time), "
                                                      "key ('D minor'), tempo (bpm), lyrics"})


class QueuedSchema(Schema):
    job = fields.String()
    state = fields.String()
    composition = fields.String()
    branch = fields.String()
    status_url = fields.String()


@blp.route("/generations")
class Generations(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(GenerateSchema)
    @blp.response(202, QueuedSchema)
    def post(self, body):
        """Queue a generation by the band (needs compositions.write; band members only)."""
        from .service import queue_generation

        return queue_generation(services(), require("compositions.write"), body)


@blp.route("/generations/<job_id>")
class Generation(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200)
    def get(self, job_id):
        """A generation's state, progress and result (composition, branch, head, commits)."""
        from ..tasks.models import Job

        require("band.read_private")
        with services().db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.kind != "generate":
                raise NotFound(f"no generation {job_id}", code="generation_not_found")
            return {"job": job.id, "state": job.state, "progress": job.progress, "stage": job.stage,
                    "error_code": job.error_code, "error_message": job.error_message,
                    "composition": job.params.get("composition"), "branch": job.params.get("branch"),
                    "result": job.result or {}}
