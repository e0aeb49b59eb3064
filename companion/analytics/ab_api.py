"""/api/ab-tests: A/B tests of musical variations (create, look, stop, promote) and the public assignment."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from companion.access.guard import requires
from companion.analytics import abtests
from companion.analytics.service import reportable_track_ids
from companion.band.auth import require
from companion.errors import NotFound
from companion.services import current as services

blp = Blueprint("ab_tests", __name__, url_prefix="/api/ab-tests",
                description="A/B tests of musical variations, with an always-valid sequential test.")

KEY = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$")
UNIT = validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$")


class OriginSchema(Schema):
    branch = fields.String(validate=validate.Length(max=200))
    commit = fields.String(validate=validate.Regexp(r"^[0-9a-f]{7,64}$"))
    mix = fields.String(validate=validate.Length(max=200))
    seed = fields.Integer(validate=validate.Range(min=0, max=2**31))
    composition = fields.String(validate=validate.Length(max=200))


class VariationInSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    label = fields.String(load_default="", validate=validate.Length(max=200))
    media_track_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    origin = fields.Nested(OriginSchema, load_default=dict)


class ABTestCreateSchema(Schema):
    track_id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    metric = fields.String(load_default="completion", validate=validate.OneOf(abtests.METRICS))
    alpha = fields.Float(load_default=0.05, validate=validate.Range(min=0.001, max=0.2))
    max_exposures = fields.Integer(load_default=100_000, validate=validate.Range(min=200, max=100_000_000))
    variations = fields.List(fields.Nested(VariationInSchema), required=True,
                             validate=validate.Length(min=2, max=abtests.MAX_VARIATIONS))


class PromoteSchema(Schema):
    variation = fields.String(load_default=None, allow_none=True, validate=KEY)


class AssignmentQuerySchema(Schema):
    unit = fields.String(required=True, validate=UNIT)


def _actor() -> str | None:
    ident = require("catalog.write")
    return getattr(ident, "member_id", None)


@blp.route("")
class ABTests(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.response(200)
    def get(self):
        """The A/B tests (of one track with ?track_id=), newest first. Needs band.read_private."""
        import sqlalchemy as sa

        from companion.analytics.models import ABTest

        with services().db.session() as s:
            q = sa.select(ABTest).order_by(ABTest.created_at.desc())
            if request.args.get("track_id", "").isdigit():
                q = q.where(ABTest.track_id == int(request.args["track_id"]))
            return {"tests": [abtests.test_out(s, t) for t in s.scalars(q)]}

    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.arguments(ABTestCreateSchema)
    @blp.response(201)
    def post(self, body):
        """Start an A/B test of two or more variations of a track (the first is the control). Needs catalog.write."""
        with services().db.session() as s:
            t = abtests.create_test(s, created_by=_actor(), **body)
            return abtests.test_out(s, t)


@blp.route("/<string:test_id>")
class ABTestItem(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.response(200)
    def get(self, test_id):
        """The test and a look at its results: exposures and conversions per variation, always-valid
        p-values, and the stop rule (which stops the test when it fires). Needs band.read_private."""
        with services().db.session() as s:
            t = abtests.get_test(s, test_id)
            results = abtests.look(s, t)
            return dict(abtests.test_out(s, t), results=results)


@blp.route("/<string:test_id>/stop")
class ABTestStop(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.response(200)
    def post(self, test_id):
        """Stop a running test by hand (listeners then hear the control, or the winner if one is known)."""
        with services().db.session() as s:
            t = abtests.stop(s, abtests.get_test(s, test_id))
            return abtests.test_out(s, t)


@blp.route("/<string:test_id>/promote")
class ABTestPromote(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("catalog.write")
    @blp.arguments(PromoteSchema)
    @blp.response(200)
    def post(self, body, test_id):
        """Promote the winner (or, once stopped, a named variation) to the release, in one action."""
        with services().db.session() as s:
            t = abtests.promote(s, abtests.get_test(s, test_id), body.get("variation"))
            return abtests.test_out(s, t)


@blp.route("/<string:test_id>/assignment")
class ABTestAssignment(MethodView):
    @blp.arguments(AssignmentQuerySchema, location="query")
    @blp.response(200)
    def get(self, query, test_id):
        """The variation a listener (the player's session id as ``unit``) hears: the same every time.
        Public for tests of released tracks; one generic 404 for any other id."""
        from companion.band.auth import current_identity

        private = current_identity().has("band.read_private")
        with services().db.session() as s:
            t = s.get(abtests.ABTest, test_id)
            if t is None or not reportable_track_ids(s, {t.track_id}, private=private):
                raise NotFound("No such A/B test.", code="ab_test_not_found")
            v = abtests.assign(s, t, query["unit"])
            return {"test": t.id, "track_id": t.track_id, "state": t.state, "variation": v.key,
                    "media_track_id": v.media_track_id}
