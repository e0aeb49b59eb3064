"""Receiving WooCommerce webhooks: verify the signature before anything else, keep each body once,
answer at once and apply on RQ.

WooCommerce signs a delivery with ``X-WC-Webhook-Signature``: base64 of HMAC-SHA256 of the raw body
with the webhook's secret. The companion checks it over the raw bytes before it parses them; an
unsigned or forged body gets 401 and is neither parsed nor stored. The secret is
``SCRIPTHAMMER_WC_WEBHOOK_SECRET``, or (unset) one derived from the shared secret exactly as the
plugin derives it (:func:`webhook_secret`), so a site needs one secret only.

A body is applied once: its SHA-256 is unique in ``commerce_deliveries`` (a duplicated or replayed
delivery answers 200 "duplicate" and changes nothing). WooCommerce's ``X-WC-Webhook-Delivery-ID`` is
recorded but cannot be the key on its own: WooCommerce derives it from the webhook id and the current
second, so two deliveries of one webhook within a second carry the same id.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from companion.commerce.models import WebhookDelivery
from companion.errors import InvalidInput, PayloadTooLarge, ServiceUnavailable, Unauthorized
from companion.schema_fields import INT_MAX
from companion.tasks.service import create_job, submit

#: Bodies above this are refused (413) before they are read: an order is a few kilobytes.
MAX_BODY_BYTES = 1024 * 1024
#: The topics the plugin registers; other signed topics are acknowledged and ignored.
TOPICS = frozenset({"order.created", "order.updated", "order.deleted", "order.restored",
                    "subscription.created", "subscription.updated", "subscription.deleted",
                    "subscription.switched"})
JOB_FUNC = "jobs.commerce.apply_delivery"
_DERIVE_LABEL = b"scripthammer-woocommerce-webhooks"
_PING_RE = re.compile(rb"^webhook_id=[0-9]{1,20}$")
_DELIVERY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def webhook_secret(config) -> str:
    """The secret WooCommerce signs webhooks with: the configured one, else one derived from the
    shared secret (HMAC-SHA256(shared secret, "scripthammer-woocommerce-webhooks"), hex); "" when neither
    is set."""
    if config.wc_webhook_secret:
        return config.wc_webhook_secret
    if not config.wp_shared_secret:
        return ""
    return hmac.new(config.wp_shared_secret.encode(), _DERIVE_LABEL, hashlib.sha256).hexdigest()


def signature_of(secret: str, body: bytes) -> str:
    """WooCommerce's X-WC-Webhook-Signature of ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's unsigned ping when a webhook is saved in wp-admin: ``webhook_id=<n>``, no topic."""
    return not headers.get("X-WC-Webhook-Topic") and bool(_PING_RE.match(body.strip()))


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Unauthorized unless ``headers`` sign ``body`` with ``secret`` (nothing is parsed before)."""
    given = headers.get("X-WC-Webhook-Signature", "")
    if not given:
        raise Unauthorized("The webhook is not signed (X-WC-Webhook-Signature).", code="webhook_signature_missing")
    if not hmac.compare_digest(signature_of(secret, body).encode(), given.strip().encode()):
        raise Unauthorized("The webhook's signature does not match: check the webhook secret.",
                           code="webhook_signature_invalid")


def check_size(content_length: int | None) -> None:
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"A webhook body may be at most {MAX_BODY_BYTES} bytes.", code="webhook_too_large",
                              details={"limit_bytes": MAX_BODY_BYTES})


def receive(svc, headers: Mapping[str, str], body: bytes) -> tuple[dict, int]:
    """Verify, keep and queue one delivery; returns (answer, HTTP status)."""
    secret = webhook_secret(svc.config)
    if not secret:
        raise ServiceUnavailable("Webhooks are refused until SCRIPTHAMMER_WC_WEBHOOK_SECRET or "
                                 "SCRIPTHAMMER_WP_SHARED_SECRET is set.", code="commerce_not_configured")
    check_size(len(body))
    if not headers.get("X-WC-Webhook-Signature") and is_ping(headers, body):
        return {"status": "ping", "message": "WooCommerce's ping: nothing to apply."}, 200
    verify(secret, headers, body)
    topic = headers.get("X-WC-Webhook-Topic", "").strip()
    if topic not in TOPICS:
        return {"status": "ignored", "message": f"Topic {topic!r} changes no entitlement."}, 200
    delivery = headers.get("X-WC-Webhook-Delivery-ID", "").strip()
    if not _DELIVERY_RE.match(delivery):
        raise InvalidInput("X-WC-Webhook-Delivery-ID is missing or malformed.", code="bad_delivery_id")
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidInput("The webhook body is not JSON.", code="bad_payload") from None
    resource_id = _id_of(payload)
    return _store_and_queue(svc, topic=topic, delivery=delivery, webhook_id=headers.get("X-WC-Webhook-ID", ""),
                            payload=payload, resource_id=resource_id, sha=hashlib.sha256(body).hexdigest())


def _id_of(payload) -> int:
    try:
        value = int(payload.get("id")) if isinstance(payload, dict) else 0
    except (TypeError, ValueError, OverflowError):
        value = 0
    if not 0 < value <= INT_MAX:
        raise InvalidInput("The webhook body has no resource id.", code="bad_payload")
    return value


def _store_and_queue(svc, *, topic: str, delivery: str, webhook_id: str, payload: dict, resource_id: int,
                     sha: str) -> tuple[dict, int]:
    resource = topic.split(".", 1)[0]
    try:
        with svc.db.session() as s:
            row = WebhookDelivery(body_sha256=sha, delivery_id=delivery, webhook_id=str(webhook_id)[:32],
                                  topic=topic, resource=resource, resource_id=resource_id, payload=payload)
            s.add(row)
            s.flush()
            job = create_job(s, kind="commerce_webhook", params={"delivery": row.id, "topic": topic,
                                                                 "resource_id": resource_id},
                             created_by="woocommerce")
            row.job_id = job.id
            row_id = row.id
    except IntegrityError:
        with svc.db.session() as s:
            first = s.scalar(sa.select(WebhookDelivery.id).where(WebhookDelivery.body_sha256 == sha))
        return {"status": "duplicate", "delivery": first,
                "message": "This body was received before: applied once."}, 200

    def undo(session) -> None:  # Redis down: forget the body, so that WooCommerce's next try is accepted
        session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.id == row_id))

    submit(svc, job, JOB_FUNC, undo=undo)
    return {"status": "queued", "delivery": row_id, "job_id": job.id}, 202


def apply_delivery(svc, delivery_id: int) -> dict:
    """Apply one stored delivery to entitlements (the RQ job's work; safe to run twice)."""
    import datetime as dt

    from companion.commerce import entitlements
    from companion.db import utcnow

    grace = dt.timedelta(hours=max(0, int(svc.config.commerce_grace_hours)))
    with svc.db.session() as s:
        row = s.get(WebhookDelivery, int(delivery_id))
        if row is None:
            raise InvalidInput(f"No webhook delivery {delivery_id}.", code="delivery_not_found")
        event = row.topic.split(".", 1)[1] if "." in row.topic else ""
        res = entitlements.parse(s, row.resource, event, row.payload or {}, grace=grace)
        outcome = entitlements.apply_resource(s, res, via="webhook", config=svc.config)
        row.state = "applied" if outcome["applied"] else "stale"
        row.outcome, row.applied_at = outcome, utcnow()
        return outcome | {"delivery": row.id, "topic": row.topic, "resource_id": row.resource_id}
