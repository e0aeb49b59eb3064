"""Entitlements over HTTP: fans see their own, the band and WordPress read anyone's, the leader grants and revokes.

| route | who |
|---|---|
| ``GET /api/me/entitlements`` | a listener (a WordPress listener token): their own |
| ``GET /api/listeners`` | the band (band.read_private) or WordPress (signed request) |
| ``GET /api/listeners/<wp_user_id>/entitlements`` | the band or WordPress |
| ``POST /api/entitlements`` | the right ``access.grant`` (the leader) |
| ``DELETE /api/entitlements/<id>`` | the right ``access.grant`` |

Every write answers 401/403 before its body is read. Purchases and subscriptions come from
WooCommerce (companion/commerce) through the same service functions.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, validate, validates
from companion import schema_fields as fields

from companion.access import service
from companion.access.guard import requires, requires_any
from companion.access.identity import listener_id_of
from companion.access.models import Entitlement, Listener
from companion.band.auth import current_identity
from companion.catalog.models import Album, Track
from companion.db import utcnow
from companion.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from companion.services import current as services

blp = Blueprint("access", __name__, url_prefix="/api",
                description="Listeners and their entitlements: who may hear in full and download what.")

GRANT_RIGHT = "access.grant"


class ListenerSchema(Schema):
    id = fields.Integer()
    wp_user_id = fields.Integer()
    display_name = fields.String()
    created_at = fields.DateTime()
    last_seen_at = fields.DateTime(allow_none=True)


class EntitlementSchema(Schema):
    id = fields.Integer()
    listener = fields.Nested(ListenerSchema)
    source = fields.String(metadata={"description": "subscription, purchase or grant"})
    source_ref = fields.String(metadata={"description": "e.g. wc-order:123, wcs-subscription:55, grant:<id>"})
    scope = fields.String(metadata={"description": "all, track:<id> or album:<id>"})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoked_reason = fields.String(allow_none=True)
    granted_by = fields.String()
    active = fields.Boolean()


class GrantSchema(Schema):
    wp_user_id = fields.Integer(required=True, validate=validate.Range(min=1),
                                metadata={"description": "the fan's WordPress user id"})
    scope = fields.String(required=True, metadata={"description": "all, track:<id>, album:<id> or live:<broadcast id> "
                                                                  "(a ticket to a premium broadcast)"})
    ends_at = fields.DateTime(load_default=None, allow_none=True)
    display_name = fields.String(load_default="", validate=validate.Length(max=200))
    ref = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{1,100}$"),
                        metadata={"description": "a reference of your own: granting the same ref again updates that grant"})

    @validates("scope")
    def _scope(self, value, **_):
        kind, _, item = value.partition(":")
        if kind == "all" and not item:
            return
        if kind not in ("track", "album", "live") or not (item.isascii() and item.isdigit()) or len(item) > 18 \
                or int(item) <= 0:
            raise ValidationError("Use all, track:<id>, album:<id> or live:<broadcast id>.")


class RevokeArgs(Schema):
    reason = fields.String(load_default="revoked by the band", validate=validate.Length(min=1, max=60))


def _naive_utc(when: dt.datetime | None) -> dt.datetime | None:
    """UTC without a zone (as the database keeps times); a time without a zone is taken as UTC."""
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _listener_out(row: Listener) -> dict:
    return {"id": row.id, "wp_user_id": row.wp_user_id, "display_name": row.display_name,
            "created_at": row.created_at, "last_seen_at": row.last_seen_at}


def entitlement_out(row: Entitlement) -> dict:
    return {"id": row.id, "listener": _listener_out(row.listener), "source": row.source,
            "source_ref": row.source_ref, "scope": row.scope, "starts_at": row.starts_at, "ends_at": row.ends_at,
            "revoked_at": row.revoked_at, "revoked_reason": row.revoked_reason, "granted_by": row.granted_by,
            "active": row.active(utcnow())}


def _reads_listeners(ident) -> bool:
    return ident.has("band.read_private") or ident.role == "service"


reads_listeners = requires_any(_reads_listeners, "Only the band and the WordPress site read listeners' entitlements.",
                               "band.read_private")


@blp.route("/me/entitlements")
class MyEntitlements(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200, EntitlementSchema(many=True))
    def get(self):
        """The calling listener's entitlements (a WordPress listener token), newest first."""
        ident = current_identity()
        if not ident.authenticated:
            raise Unauthorized("Sign in on the band's site first.", code="auth_required")
        listener_id = listener_id_of(ident)
        if listener_id is None:
            raise Forbidden("Only listeners (signed in on the band's site) have entitlements.", code="not_a_listener")
        with services().db.session() as s:
            return [entitlement_out(e) for e in service.entitlements_of(s, listener_id)]


@blp.route("/listeners")
class Listeners(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @reads_listeners
    @blp.response(200, ListenerSchema(many=True))
    def get(self):
        """Every listener the companion has seen (the band or WordPress)."""
        with services().db.session() as s:
            return [_listener_out(r) for r in s.scalars(sa.select(Listener).order_by(Listener.id))]


@blp.route("/listeners/<int:wp_user_id>/entitlements")
class ListenerEntitlements(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @reads_listeners
    @blp.response(200, EntitlementSchema(many=True))
    def get(self, wp_user_id):
        """One listener's entitlements, by WordPress user id (the band or WordPress)."""
        with services().db.session() as s:
            row = s.scalar(sa.select(Listener).where(Listener.wp_user_id == wp_user_id))
            if row is None:
                raise NotFound(f"no listener with WordPress user id {wp_user_id}", code="listener_not_found")
            return [entitlement_out(e) for e in service.entitlements_of(s, row.id)]


@blp.route("/entitlements")
class Entitlements(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires(GRANT_RIGHT)
    @blp.arguments(GrantSchema)
    @blp.response(201, EntitlementSchema)
    def post(self, body):
        """Grant a listener an entitlement (everything, a track or an album). Needs access.grant (the leader)."""
        ident = current_identity()
        kind, _, item = body["scope"].partition(":")
        with services().db.session() as s:
            from companion.live.models import LiveBroadcast

            model = {"track": Track, "album": Album, "live": LiveBroadcast}.get(kind)
            if kind != "all" and (int(item) > 2**31 - 1 or s.get(model, int(item)) is None):
                raise InvalidInput(f"There is no {kind} {item}.", code="bad_scope", details={"scope": body["scope"]})
            ends = _naive_utc(body["ends_at"])
            if ends is not None and ends <= utcnow():
                raise InvalidInput("ends_at is in the past.", code="bad_ends_at")
            listener = service.listener_for(s, body["wp_user_id"], body["display_name"])
            row = service.grant(s, listener=listener, scope=service.scope_of(kind, int(item) if item else None),
                                granted_by=ident.member_id or ident.name, ends_at=ends, ref=body["ref"])
            s.flush()
            return entitlement_out(row)


@blp.route("/entitlements/<int:entitlement_id>")
class EntitlementItem(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires(GRANT_RIGHT)
    @blp.arguments(RevokeArgs, location="query")
    @blp.response(200, EntitlementSchema)
    def delete(self, args, entitlement_id):
        """Revoke one entitlement now: no new URL is issued for it (issued ones die at their expiry)."""
        with services().db.session() as s:
            row = service.revoke_entitlement(s, entitlement_id, reason=args["reason"])
            return entitlement_out(row)
