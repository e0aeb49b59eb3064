"""Web Push API (docs/mobile.md).

| route | who |
|---|---|
| ``GET /api/push/key`` | anyone: the VAPID public key (applicationServerKey) |
| ``GET /api/push/subscriptions`` | a signed-in fan (listener token): their subscriptions |
| ``POST /api/push/subscriptions`` ``{endpoint, keys: {p256dh, auth}, topics?}`` | a fan: opt this browser in |
| ``DELETE /api/push/subscriptions`` ``{endpoint}`` | the fan who made it: opt out |
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from companion import schema_fields as fields
from companion.access.identity import listener_id_of
from companion.band.auth import current_identity
from companion.errors import Forbidden, InvalidInput, Unauthorized
from companion.notify import service
from companion.notify.models import TOPICS
from companion.services import current as services

blp = Blueprint("push", __name__, url_prefix="/api/push",
                description="Web Push (VAPID): fans opt in per browser to news of releases and broadcasts.")


class KeySchema(Schema):
    public_key = fields.String(metadata={"description": "base64url P-256 point: the applicationServerKey"})
    topics = fields.List(fields.String())


class SubscriptionSchema(Schema):
    id = fields.Integer()
    endpoint = fields.String()
    topics = fields.List(fields.String())
    created_at = fields.String()


def _listener() -> int:
    ident = current_identity()
    if not ident.authenticated:
        raise Unauthorized("Sign in on the band's site first (a listener token).", code="auth_required")
    listener_id = listener_id_of(ident)
    if listener_id is None:
        raise Forbidden("Only fans (a listener token) subscribe to notifications.", code="not_a_listener")
    return listener_id


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", code="invalid_json")
    return body


@blp.route("/key")
class Key(MethodView):
    @blp.response(200, KeySchema)
    def get(self):
        """The companion's VAPID public key, for ``pushManager.subscribe({applicationServerKey})``."""
        return {"public_key": service.public_key(services()), "topics": list(TOPICS)}


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200, SubscriptionSchema(many=True))
    def get(self):
        """The calling fan's subscriptions."""
        return service.list_for(services(), _listener())

    @blp.doc(security=[{"bearer": []}])
    @blp.response(201, SubscriptionSchema)
    @blp.alt_response(200, schema=SubscriptionSchema, description="the subscription was updated")
    def post(self):
        """Opt this browser in: the PushSubscription's JSON, with ``topics`` (default: all)."""
        listener_id = _listener()
        row, created = service.subscribe(services(), listener_id, _body())
        return row, 201 if created else 200

    @blp.doc(security=[{"bearer": []}])
    @blp.response(204)
    def delete(self):
        """Opt out: ``{endpoint}`` of one of the calling fan's subscriptions."""
        listener_id = _listener()
        service.unsubscribe(services(), listener_id, _body().get("endpoint"))
        return None
