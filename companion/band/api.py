"""Members, the caller's identity, and tokens."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Response, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from companion.services import current as services
from companion.band.auth import current_identity, require, requires
from companion.band.models import ApiToken
from companion.band.service import list_members, member_picture_svg
from companion.band.tokens import create_token, revoke_token
from companion.errors import InvalidInput, NotFound

blp = Blueprint("band", __name__, url_prefix="/api", description="The band: members, identities and tokens.")


class MemberSchema(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String(metadata={"description": "leader or member"})
    title = fields.String(metadata={"description": "band role title, e.g. Pulse Engine"})
    instrument = fields.String()
    personality = fields.String()
    owns = fields.List(fields.String(), metadata={"description": "part kinds this member owns"})
    visual = fields.String()
    picture_url = fields.String()


class IdentitySchema(Schema):
    kind = fields.String()
    role = fields.String()
    member_id = fields.String(allow_none=True)
    name = fields.String()
    rights = fields.List(fields.String())
    scopes = fields.Dict()
    expires_at = fields.DateTime(allow_none=True)


#: what a guest token may be limited to: compositions (their parts and branches), and catalog items
#: (unreleased tracks and albums it may hear and download: docs/security.md), and premium live broadcasts it
#: is invited into (their room, chat and marks, and their sound: docs/live.md). No scope: nothing.
GUEST_SCOPES = frozenset({"compositions", "parts", "branches", "tracks", "albums", "broadcasts"})
_ID_SCOPES = frozenset({"tracks", "albums", "broadcasts"})


class TokenCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(["member", "leader", "guest", "listener", "service"]))
    member_id = fields.String(load_default=None)
    label = fields.String(load_default="", validate=validate.Length(max=120))
    expires_in_minutes = fields.Integer(load_default=None, validate=validate.Range(min=1))
    scopes = fields.Dict(load_default=dict, metadata={
        "description": "guests: {compositions: [...], parts: [...], branches: [...], tracks: [ids], albums: [ids], "
                       "broadcasts: [premium live broadcast ids]}"})


class TokenSchema(Schema):
    id = fields.String()
    prefix = fields.String()
    role = fields.String()
    member_id = fields.String(allow_none=True)
    label = fields.String()
    scopes = fields.Dict()
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(metadata={"description": "the token itself; shown only in this response"})


def _member_out(row) -> dict:
    return {
        "id": row.id, "name": row.name, "role": row.role, "title": row.title, "instrument": row.instrument,
        "personality": row.personality, "owns": list(row.owns or []), "visual": row.visual,
        "picture_url": url_for("band.member_picture", member_id=row.id, _external=False),
    }


@blp.route("/members")
class Members(MethodView):
    @blp.response(200, MemberSchema(many=True))
    def get(self):
        """The band's members, leader first."""
        with services().db.session() as s:
            return [_member_out(m) for m in list_members(s)]


@blp.route("/members/<member_id>")
class MemberItem(MethodView):
    @blp.response(200, MemberSchema)
    def get(self, member_id):
        """One member."""
        from companion.band.models import Member

        with services().db.session() as s:
            row = s.get(Member, member_id)
            if row is None:
                raise NotFound(f"no band member {member_id!r}", code="member_not_found")
            return _member_out(row)


@blp.route("/members/<member_id>/picture.svg", endpoint="member_picture")
@blp.response(200, content_type="image/svg+xml")
def member_picture(member_id):
    """The member's picture for the site (SVG)."""
    m = services().band.members.get(member_id)
    if m is None:
        raise NotFound(f"no band member {member_id!r}", code="member_not_found")
    return Response(member_picture_svg(m), mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=3600"})


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, IdentitySchema)
    def get(self):
        """Who the caller is, with their role and rights."""
        ident = current_identity()
        return {"kind": ident.kind, "role": ident.role, "member_id": ident.member_id, "name": ident.name,
                "rights": sorted(ident.rights), "scopes": ident.scopes, "expires_at": ident.expires_at}


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Every token (never the secrets). Needs tokens.manage."""
        require("tokens.manage")
        with services().db.session() as s:
            return list(s.scalars(sa.select(ApiToken).order_by(ApiToken.created_at)))

    @blp.doc(security=[{"bearer": []}])
    @requires("tokens.manage")
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, TokenCreatedSchema)
    def post(self, body):
        """Create a token: a member's, a time-limited guest invitation, a listener's or a service's."""
        ident = require("tokens.manage")
        cfg = services().config
        expires = dt.timedelta(minutes=body["expires_in_minutes"]) if body["expires_in_minutes"] else None
        if body["role"] == "guest":
            if expires is None:
                raise InvalidInput("guest tokens need expires_in_minutes", code="guest_needs_expiry")
            if expires > dt.timedelta(days=cfg.guest_token_max_days):
                raise InvalidInput(f"guest tokens last at most {cfg.guest_token_max_days} days",
                                   code="guest_expiry_too_long")
            scopes = body["scopes"] or {}
            for k, v in scopes.items():
                if k not in GUEST_SCOPES or not isinstance(v, list):
                    raise InvalidInput("guest scopes take lists named " + ", ".join(sorted(GUEST_SCOPES)),
                                       code="bad_scopes", details={"scope": k})
                if k in _ID_SCOPES and not all(type(x) is int and x > 0 for x in v):
                    raise InvalidInput(f"guest scope {k} takes {k[:-1]} ids (positive integers)",
                                       code="bad_scopes", details={"scope": k})
                if k not in _ID_SCOPES and not all(isinstance(x, str) and 0 < len(x) <= 200 for x in v):
                    raise InvalidInput(f"guest scope {k} takes names (strings)", code="bad_scopes",
                                       details={"scope": k})
        with services().db.session() as s:
            row, secret = create_token(s, role=body["role"], member_id=body["member_id"], label=body["label"],
                                       expires_in=expires, scopes=body["scopes"], created_by=ident.member_id)
            out = {name: getattr(row, name) for name in TokenSchema().fields}
        out["token"] = secret
        return out


@blp.route("/tokens/<token_id>")
class TokenItem(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires("tokens.manage")
    @blp.response(200, TokenSchema)
    def delete(self, token_id):
        """Revoke a token."""
        require("tokens.manage")
        with services().db.session() as s:
            return revoke_token(s, token_id)
