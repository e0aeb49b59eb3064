"""Fixtures for the commerce room: the app's webhook secret, a signed sender, entitlement queries."""
from __future__ import annotations

import pytest

from companion.access.models import Entitlement, Listener
from companion.commerce.webhooks import webhook_secret

from . import payloads

WEBHOOK = "/api/commerce/woocommerce/webhook"


@pytest.fixture
def svc(app):
    return app.extensions["scripthammer"]


@pytest.fixture
def secret(svc) -> str:
    return webhook_secret(svc.config)


@pytest.fixture
def deliver(client, secret):
    """deliver(doc, topic) -> response: a signed WooCommerce delivery of ``doc``."""

    def send(doc, topic: str = "order.updated", *, delivery: str | None = None, key: str | None = None):
        body = payloads.body_of(doc)
        return client.post(WEBHOOK, data=body, headers=payloads.headers(key or secret, body, topic, delivery=delivery))

    return send


@pytest.fixture
def rights(svc):
    """rights(wp_user_id) -> {scope: (active, revoked_reason, ends_at)} of that fan's entitlements."""

    def read(wp_user_id: int) -> dict:
        import sqlalchemy as sa

        with svc.db.session() as s:
            rows = s.execute(sa.select(Entitlement).join(Listener).where(Listener.wp_user_id == wp_user_id)).scalars().all()
            return {f"{r.source}:{r.source_ref}:{r.scope}": (r.active(), r.revoked_reason, r.ends_at) for r in rows}

    return read
