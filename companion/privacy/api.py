"""WordPress's personal-data tools ask the companion for one fan's data (companion/privacy/service.py).

| route | who |
|---|---|
| ``POST /api/privacy/export`` ``{wp_user_id, page?, per_page?}`` | WordPress only (signed request): one page of the fan's export, ``{data, done, page, total}`` |
| ``POST /api/privacy/erase`` ``{wp_user_id}`` | WordPress only (signed request): erase the fan's data, ``{items_removed, items_retained, removed, retained, messages, done}`` |

A listener token, a member's token or an unsigned request gets 401/403 before the body is read. A
``wp_user_id`` that is not a whole number from 1 to 2^31-1: 400 ``bad_wp_user_id``, nothing erased.
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from companion import schema_fields as fields
from companion.access.guard import requires_any
from companion.errors import InvalidInput
from companion.privacy import service
from companion.services import current as services

blp = Blueprint("privacy", __name__, url_prefix="/api/privacy",
                description="A fan's personal data for WordPress's export and erasure tools (signed requests).")

only_wordpress = requires_any(lambda ident: ident.role == "service",
                              "Only the WordPress site (a signed request) asks for a fan's personal data.", "service")

_NO_STORE = {"Cache-Control": "no-store"}


class ExportItemSchema(Schema):
    group_id = fields.String()
    group_label = fields.String()
    group_description = fields.String()
    item_id = fields.String()
    data = fields.List(fields.Dict(), metadata={"description": "[{name, value}]"})


class ExportSchema(Schema):
    data = fields.List(fields.Nested(ExportItemSchema), metadata={"description": "WordPress's exporter items"})
    done = fields.Boolean()
    page = fields.Integer()
    total = fields.Integer()


class ErasureSchema(Schema):
    items_removed = fields.Integer()
    items_retained = fields.Integer()
    removed = fields.Dict(metadata={"description": "kind -> rows deleted or anonymised"})
    retained = fields.Dict(metadata={"description": "kind -> rows kept (and why: messages)"})
    messages = fields.List(fields.String())
    done = fields.Boolean()


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object with wp_user_id.", code="bad_body")
    return body


_DOC_BODY = {"requestBody": {"content": {"application/json": {"schema": {
    "type": "object", "required": ["wp_user_id"],
    "properties": {"wp_user_id": {"type": "integer", "minimum": 1, "maximum": service.MAX_WP_USER_ID},
                   "page": {"type": "integer", "minimum": 1},
                   "per_page": {"type": "integer", "minimum": 1, "maximum": service.MAX_PAGE_SIZE}}}}}}}


@blp.route("/export")
class ExportView(MethodView):
    @blp.doc(security=[{"signed": []}], **_DOC_BODY)
    @only_wordpress
    @blp.response(200, ExportSchema)
    @blp.alt_response(400, description="bad_wp_user_id, bad_page, bad_body")
    @blp.alt_response(401, description="not signed by WordPress")
    @blp.alt_response(403, description="a token that is not WordPress's")
    def post(self):
        """One page of everything the companion holds that is linked to a WordPress user."""
        body = _body()
        wp_user_id = service.check_wp_user_id(body.get("wp_user_id"))
        return (service.export(services(), wp_user_id, body.get("page", 1), body.get("per_page", service.PAGE_SIZE)),
                200, _NO_STORE)


@blp.route("/erase")
class EraseView(MethodView):
    @blp.doc(security=[{"signed": []}], **_DOC_BODY)
    @only_wordpress
    @blp.response(200, ErasureSchema)
    @blp.alt_response(400, description="bad_wp_user_id, bad_body")
    @blp.alt_response(401, description="not signed by WordPress")
    @blp.alt_response(403, description="a token that is not WordPress's")
    def post(self):
        """Erase (or anonymise) everything linked to a WordPress user; repeating it removes nothing more."""
        return service.erase(services(), service.check_wp_user_id(_body().get("wp_user_id"))), 200, _NO_STORE
