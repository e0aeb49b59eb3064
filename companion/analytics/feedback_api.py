"""Fans' timed feedback: /api/tracks/<id>/feedback (the player) and /api/feedback (moderation).

See companion/analytics/feedback.py for who may do what, moderation and the mapping to measures.
"""
from __future__ import annotations

import functools

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate

from companion import schema_fields as fields
from companion.analytics import feedback
from companion.analytics.models import FEEDBACK_STATES
from companion.analytics.service import MAX_POSITION, REACTIONS, _no_markup
from companion.band.auth import OPTIONAL_SECURITY, current_identity, declare_security, requires
from companion.band.ratelimit import limit_blueprint, listener_or_address
from companion.compositions.store import Store
from companion.services import current as services

blp = Blueprint("feedback", __name__, url_prefix="/api/tracks",
                description="Fans' timed reactions and comments on a track (SoundCloud-style markers).")
moderation_blp = Blueprint("feedback_moderation", __name__, url_prefix="/api/feedback",
                           description="Moderation of fans' feedback: approve, hide, spam (analytics.moderate).")


def limit_feedback(limiter) -> None:
    """Posting feedback is limited per fan (their listener id): ``Config.feedback_rate_limit``."""
    limit_blueprint(limiter, blp, lambda: services().config.feedback_rate_limit, code="too_much_feedback",
                    what="Too much feedback", methods=("POST",), key_func=listener_or_address)


def _store() -> Store:
    return Store(current_app.config["SCRIPTHAMMER"].compositions_dir)


class FeedbackInSchema(Schema):
    position = fields.Float(required=True, validate=validate.Range(min=0, max=MAX_POSITION))
    emoji = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REACTIONS))
    text = fields.String(load_default=None, allow_none=True,
                         validate=[validate.Length(min=1, max=280), _no_markup])


class ModerateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(feedback.MODERATION_STATES))


class ModerationQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(FEEDBACK_STATES))


def _fan_first(view):
    """401/403 before the body is read: only a signed-in fan posts or deletes feedback."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        feedback._fan(current_identity())
        return view(*args, **kwargs)
    return declare_security(wrapper, [{"bearer": []}])


@blp.route("/<int:track_id>/feedback")
class TrackFeedback(MethodView):
    @blp.doc(security=OPTIONAL_SECURITY)
    @blp.response(200)
    def get(self, track_id):
        """Approved feedback on a released track by position (markers for the waveform); a signed-in
        fan also gets their own pending feedback (``state: pending``, ``mine: true``)."""
        with services().db.session() as s:
            return {"feedback": feedback.list_for_track(s, current_identity(), track_id)}

    @_fan_first
    @blp.arguments(FeedbackInSchema)
    @blp.response(201)
    @blp.alt_response(401, description="not signed in")
    @blp.alt_response(403, description="not a fan (listener token)")
    @blp.alt_response(404, description="no such released track")
    @blp.alt_response(422, description="no reaction nor text, an unknown reaction, markup in the text, a "
                                       "position past the track's end")
    @blp.alt_response(429, description="more than Config.feedback_rate_limit from this fan")
    def post(self, body, track_id):
        """Leave a reaction (fire, heart, wow, laugh, sad, clap) and/or a short plain-text comment at a
        playback position. It is pending until a moderator approves it."""
        with services().db.session() as s:
            return feedback.add(s, _store(), current_identity(), track_id, body)


@blp.route("/<int:track_id>/feedback/<int:feedback_id>")
class OwnFeedback(MethodView):
    @_fan_first
    @blp.response(204)
    def delete(self, track_id, feedback_id):
        """Delete your own feedback (never another fan's: 403)."""
        with services().db.session() as s:
            feedback.delete_own(s, current_identity(), feedback_id, track_id)
        return None


@moderation_blp.route("")
class Moderation(MethodView):
    @requires("analytics.moderate")
    @moderation_blp.arguments(ModerationQuerySchema, location="query")
    @moderation_blp.response(200)
    def get(self, args):
        """Fans' feedback for moderation, newest first (``?state=pending`` and so on), with track titles."""
        with services().db.session() as s:
            return {"feedback": feedback.list_for_moderation(s, args.get("state"))}


@moderation_blp.route("/<int:feedback_id>")
class Moderate(MethodView):
    @requires("analytics.moderate")
    @moderation_blp.arguments(ModerateSchema)
    @moderation_blp.response(200)
    def post(self, body, feedback_id):
        """Approve, hide or mark as spam. Approving feedback mapped to a composition measure adds it to
        the studio's comments as a fan's; hiding it or marking it spam takes it out again."""
        with services().db.session() as s:
            return feedback.moderate(s, current_identity(), feedback_id, body["state"])
