"""Jobs: what queued work is doing (state, progress, error)."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from companion.services import current as services
from companion.band.auth import require
from companion.errors import NotFound
from companion.tasks.models import JOB_STATES, Job

blp = Blueprint("jobs", __name__, url_prefix="/api/jobs", description="Queued work: state, progress and errors.")


class JobSchema(Schema):
    id = fields.String()
    kind = fields.String()
    state = fields.String(metadata={"description": "queued, started, retrying, finished or failed"})
    progress = fields.Integer(metadata={"description": "0-100"})
    stage = fields.String()
    track_id = fields.Integer(allow_none=True)
    params = fields.Dict()
    result = fields.Dict()
    error = fields.Method("_error", allow_none=True)
    attempts = fields.Integer()
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)

    def _error(self, job):
        return {"code": job.error_code, "message": job.error_message} if job.error_code else None


class JobListArgs(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(JOB_STATES))
    track_id = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobListArgs, location="query")
    @blp.response(200, JobSchema(many=True))
    def get(self, args):
        """Recent jobs, newest first. Needs band.read_private."""
        require("band.read_private")
        with services().db.session() as s:
            q = sa.select(Job).order_by(Job.created_at.desc()).limit(args["limit"])
            if args["state"]:
                q = q.where(Job.state == args["state"])
            if args["track_id"] is not None:
                q = q.where(Job.track_id == args["track_id"])
            return list(s.scalars(q))


@blp.route("/<job_id>")
class JobItem(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """One job. Needs band.read_private."""
        require("band.read_private")
        with services().db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r}", code="job_not_found")
            return job
