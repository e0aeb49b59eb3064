"""Publishing to WordPress: queue publish / unpublish jobs, read where an item stands, and check
that WordPress accepts this companion's signed calls."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from companion import schema_fields as fields

from companion.services import current as services
from companion.band.auth import require
from companion.wordpress import callbacks, service

blp = Blueprint("wordpress", __name__, url_prefix="/api",
                description="Publishing tracks and albums to WordPress, and signed calls to its plugin.")


class PublicationErrorSchema(Schema):
    code = fields.String()
    message = fields.String()


class PublicationSchema(Schema):
    kind = fields.String(metadata={"description": "track or album"})
    item_id = fields.Integer()
    state = fields.String(metadata={"description": "never, queued, publishing, published, draft, retrying or failed"})
    action = fields.String(allow_none=True, metadata={"description": "publish or unpublish"})
    wp_post_id = fields.Integer(allow_none=True)
    wp_status = fields.String(allow_none=True)
    wp_link = fields.String(allow_none=True)
    error = fields.Nested(PublicationErrorSchema, allow_none=True,
                          metadata={"description": "why the last attempt failed (WordPress down, credentials...)"})
    attempts = fields.Integer()
    job_id = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


class PublishAcceptedSchema(Schema):
    job_id = fields.String()
    job_url = fields.String()
    publication = fields.Nested(PublicationSchema)


class PingSchema(Schema):
    status = fields.Integer(metadata={"description": "WordPress's HTTP status (200: signature accepted)"})
    body = fields.Dict()


def _queue(kind: str, item_id: int, action: str) -> dict:
    ident = require("catalog.publish")
    if action == "publish":
        require("catalog.write")  # publishing a draft or unreleased item releases it (release_state public)
    job_id, pub = service.request_publication(services(), kind, item_id, action,
                                              created_by=ident.member_id or ident.name)
    return {"job_id": job_id, "job_url": f"/api/jobs/{job_id}", "publication": pub}


def _route(kind: str, plural: str) -> None:
    @blp.route(f"/{plural}/<int:item_id>/publish", endpoint=f"publish_{kind}")
    class Publish(MethodView):
        @blp.doc(security=[{"bearer": []}, {"signed": []}])
        @blp.response(202, PublishAcceptedSchema)
        def post(self, item_id):
            """Publish on WordPress: create or update the post (idempotent). A draft or unreleased item
            is released (release_state public) so that the page's player can show it; premium stays premium.
            Needs catalog.publish and catalog.write."""
            return _queue(kind, item_id, "publish")

    @blp.route(f"/{plural}/<int:item_id>/unpublish", endpoint=f"unpublish_{kind}")
    class Unpublish(MethodView):
        @blp.doc(security=[{"bearer": []}, {"signed": []}])
        @blp.response(202, PublishAcceptedSchema)
        def post(self, item_id):
            """Return the post to draft on WordPress (the companion's release_state is left alone). Needs catalog.publish."""
            return _queue(kind, item_id, "unpublish")

    @blp.route(f"/{plural}/<int:item_id>/publication", endpoint=f"publication_{kind}")
    class PublicationView(MethodView):
        @blp.doc(security=[{"bearer": []}, {"signed": []}])
        @blp.response(200, PublicationSchema)
        def get(self, item_id):
            """Where this item stands on WordPress, with the reason of the last failure. Needs band.read_private."""
            require("band.read_private")
            return service.publication(services(), kind, item_id)


_route("track", "tracks")
_route("album", "albums")


@blp.route("/wordpress/ping")
class WordPressPing(MethodView):
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="WordPress is not configured or unreachable")
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @blp.response(200, PingSchema)
    def post(self):
        """Send WordPress a signed ping: 200 means it accepts this companion's shared secret."""
        require("catalog.publish")
        return callbacks.ping(services())


class HelloSchema(Schema):
    ok = fields.Boolean()
    signature = fields.String(metadata={"description": "valid: the request was signed with this companion's shared secret"})
    version = fields.String()


@blp.route("/wordpress/hello")
class WordPressHello(MethodView):
    @blp.doc(security=[{"signed": []}])
    @blp.response(200, HelloSchema)
    def get(self):
        """WordPress's "Test connection": a signed ping. 200 only for a request signed with this companion's
        shared secret; an unsigned one gets 401 signature_missing, a wrong secret 401 signature_invalid."""
        from flask import request

        from companion import __version__
        from companion.band.auth import current_identity
        from companion.errors import Unauthorized

        if not request.headers.get("X-ScriptHammer-Signature"):
            raise Unauthorized("Send a request signed with the shared secret.", code="signature_missing")
        ident = current_identity()  # verifies the signature (401 with its reason) and spends the nonce
        if ident.kind != "service" or ident.role != "service":
            raise Unauthorized("Send a request signed with the shared secret.", code="signature_missing")
        return {"ok": True, "signature": "valid", "version": __version__}


@blp.route("/wordpress/band")
class WordPressBand(MethodView):
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="WordPress is not configured or unreachable")
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @blp.response(200, PingSchema)
    def post(self):
        """Send WordPress the band roster (roles and BuddyPress member types follow). Needs catalog.publish."""
        require("catalog.publish")
        return callbacks.sync_band(services())
