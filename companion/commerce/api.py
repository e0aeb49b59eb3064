"""Commerce over HTTP: WooCommerce's webhook endpoint, and reconciliation on demand."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from companion import schema_fields as fields

from companion.band.auth import require
from companion.commerce import reconcile as reconciling
from companion.commerce import webhooks
from companion.errors import PayloadTooLarge
from companion.services import current as services

blp = Blueprint("commerce", __name__, url_prefix="/api/commerce",
                description="WooCommerce: signed webhooks that grant and revoke entitlements, and reconciliation.")


class WebhookAnswerSchema(Schema):
    status = fields.String(metadata={"description": "queued, duplicate, ignored or ping"})
    delivery = fields.Integer(allow_none=True)
    job_id = fields.String(allow_none=True)
    message = fields.String()


class ReconcileArgsSchema(Schema):
    full = fields.Boolean(load_default=False, metadata={"description": "read every order, not only recent changes"})


class ReconcileQueuedSchema(Schema):
    job_id = fields.String()
    job_url = fields.String()


class ReconcileRunSchema(Schema):
    job_id = fields.String()
    state = fields.String()
    progress = fields.Integer()
    stage = fields.String()
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    result = fields.Dict()
    error = fields.Dict(allow_none=True)


class ReconcileStatusSchema(Schema):
    configured = fields.Boolean()
    every_minutes = fields.Integer()
    scheduled = fields.Boolean()
    runs = fields.List(fields.Nested(ReconcileRunSchema))


def limit_failures(limiter) -> None:
    """Forged webhooks (and other refused credentials here) are rate-limited like the band's: each 401
    from this blueprint costs one hit against ``Config.auth_failure_limit`` per client address; once it
    is spent, that address gets 429 before its bodies are read, until the window passes."""
    from companion.band.ratelimit import client_address

    limiter.limit(lambda: services().config.auth_failure_limit, key_func=client_address, methods=["POST"],
                  scope="commerce-failures", deduct_when=lambda response: response.status_code == 401,
                  override_defaults=False)(blp)


def _reconcile_args() -> dict:
    from marshmallow import ValidationError

    from companion.errors import InvalidInput

    try:
        return ReconcileArgsSchema().load(request.args)
    except ValidationError as exc:
        raise InvalidInput("The query is not valid: see details.fields.", code="invalid_input",
                           details={"fields": exc.messages}) from None


def _raw_body() -> bytes:
    """At most MAX_BODY_BYTES of the raw body, refused (413) before reading when it says it is larger."""
    webhooks.check_size(request.content_length)
    data = request.stream.read(webhooks.MAX_BODY_BYTES + 1)
    if len(data) > webhooks.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"A webhook body may be at most {webhooks.MAX_BODY_BYTES} bytes.",
                              code="webhook_too_large", details={"limit_bytes": webhooks.MAX_BODY_BYTES})
    return data


@blp.route("/woocommerce/webhook")
class WooCommerceWebhook(MethodView):
    @blp.doc(security=[], description=(
        "WooCommerce's delivery URL (the plugin registers it). `X-WC-Webhook-Signature` (base64 "
        "HMAC-SHA256 of the raw body with the webhook secret) is checked before the body is parsed: "
        "unsigned or forged deliveries get 401. A body is applied once (200 `duplicate` after that). "
        "Accepted deliveries answer 202 at once and are applied by a job. Topics: order.created/updated/"
        "deleted/restored, subscription.created/updated/deleted/switched; others answer 200 `ignored`. "
        "Bodies over 1 MiB: 413. See docs/commerce.md for the payloads."))
    @blp.response(202, WebhookAnswerSchema)
    @blp.alt_response(200, schema=WebhookAnswerSchema, description="ping, duplicate or ignored topic")
    def post(self):
        """Receive one WooCommerce webhook delivery."""
        answer, status = webhooks.receive(services(), request.headers, _raw_body())
        return answer, status


@blp.route("/reconcile")
class Reconcile(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200, ReconcileStatusSchema)
    def get(self):
        """Recent reconciliation runs and the schedule. Needs band.read_private."""
        require("band.read_private")
        svc = services()
        try:
            scheduled = bool(reconciling.scheduled_ticks(svc))
        except Exception:  # Redis down: the runs are still worth showing
            scheduled = False
        return {"configured": reconciling.configured(svc.config),
                "every_minutes": int(svc.config.commerce_reconcile_minutes), "scheduled": scheduled,
                "runs": reconciling.runs(svc)}

    @blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="WooCommerce is not configured or unreachable")
    @blp.doc(security=[{"bearer": []}], parameters=[{"in": "query", "name": "full", "schema": {"type": "boolean"},
                                                     "description": "read every order, not only recent changes"}])
    @blp.response(202, ReconcileQueuedSchema)
    def post(self):
        """Reconcile entitlements with WooCommerce's orders and subscriptions now (a job). Needs
        commerce.reconcile (the leader). The caller is checked before the query is read."""
        ident = require("commerce.reconcile")
        args = _reconcile_args()
        svc = services()
        if not reconciling.configured(svc.config):
            from companion.commerce.woo import WooCommerceNotConfigured

            raise WooCommerceNotConfigured("Reconciling needs SCRIPTHAMMER_WC_CONSUMER_KEY and "
                                           "SCRIPTHAMMER_WC_CONSUMER_SECRET (and the store's URL).")
        job_id = reconciling.request_reconcile(svc, full=args["full"], created_by=ident.member_id or ident.name)
        return {"job_id": job_id, "job_url": f"/api/jobs/{job_id}"}


pricing_blp = Blueprint("pricing", __name__, url_prefix="/api/pricing",
                        description="Price models per content type: minimums, name-your-price and bundles.")

PRICING_RIGHT = "commerce.pricing"


@pricing_blp.route("")
class Pricing(MethodView):
    @pricing_blp.doc(security=[])
    @pricing_blp.response(200)
    def get(self):
        """The band's price models (public: the WordPress plugin prices its products from them), with
        each bundle's computed price, the licence products, one edition product per edition series
        (its price and how many editions are left) and where the configuration comes from (saved,
        file, defaults)."""
        from companion.commerce import pricing

        from companion.rights.service import edition_products

        svc = services()
        with svc.db.session() as s:
            current = pricing.current(s, svc.config)
            return pricing.priced(current) | {"source": pricing.source(s, svc.config),
                                              "edition_products": edition_products(s, current)}

    @pricing_blp.doc(security=[{"bearer": []}])
    @pricing_blp.response(200)
    def put(self):
        """Replace the price models (the leader, ``commerce.pricing``). The whole body is validated
        (minimums >= 0, suggested >= minimum, a known currency, bundle items that exist); any error:
        400 with every bad field in ``details.fields``, and nothing is stored."""
        from companion.commerce import pricing
        from companion.errors import InvalidInput

        ident = require(PRICING_RIGHT)
        body = request.get_json(silent=True)
        if body is None:
            raise InvalidInput("Send the pricing configuration as a JSON object.", code="bad_pricing")
        svc = services()
        from companion.rights.service import edition_products

        with svc.db.session() as s:
            clean = pricing.save(s, body, by=ident.member_id or ident.name)
            return pricing.priced(clean) | {"source": "saved", "edition_products": edition_products(s, clean)}
