"""What commerce keeps: webhook deliveries (for de-duplication and the job that applies them), the
last state applied per WooCommerce order or subscription (so that an older delivery never overrides a
newer one), and the WooCommerce products that sell a track or an album."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow

RESOURCE_KINDS = ("order", "subscription")


class WebhookDelivery(Base):
    """One accepted WooCommerce webhook delivery.

    ``body_sha256`` is unique: the same body twice (a duplicated or replayed delivery) is applied once.
    WooCommerce's delivery id is kept too, but it is not unique on its own (WooCommerce derives it from
    the webhook id and the current second, so two deliveries of one webhook in one second share it).
    """

    __tablename__ = "commerce_deliveries"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    body_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    delivery_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    webhook_id: Mapped[str] = mapped_column(sa.String(32), default="")
    topic: Mapped[str] = mapped_column(sa.String(60))  # order.updated, subscription.updated, ...
    resource: Mapped[str] = mapped_column(sa.String(20))  # order | subscription
    resource_id: Mapped[int] = mapped_column(sa.Integer, default=0)
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(20), default="queued")  # queued | applied | stale | failed
    outcome: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    applied_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)


class CommerceResource(Base):
    """The last state of one WooCommerce order or subscription that was applied to entitlements."""

    __tablename__ = "commerce_resources"
    __table_args__ = (sa.UniqueConstraint("kind", "wc_id", name="uq_commerce_resource"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # order | subscription
    wc_id: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(30))
    customer_id: Mapped[int] = mapped_column(sa.Integer, default=0)
    # WooCommerce's date_modified_gmt of the state applied: an older one is never applied over it.
    modified_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    scopes: Mapped[list] = mapped_column(sa.JSON, default=list)
    via: Mapped[str] = mapped_column(sa.String(20), default="webhook")  # webhook | reconcile
    applied_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


class CommerceProduct(Base):
    """A WooCommerce product that sells a track or an album (or the fan subscription: scope "all")."""

    __tablename__ = "commerce_products"

    wc_product_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    scope: Mapped[str] = mapped_column(sa.String(40), index=True)  # track:<id> | album:<id> | all
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    permalink: Mapped[str] = mapped_column(sa.String(500), default="")
    min_price: Mapped[str] = mapped_column(sa.String(20), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


class PricingConfig(Base):
    """The band's price models as the leader last saved them (one row; none: the defaults)."""

    __tablename__ = "commerce_pricing"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    config: Mapped[dict] = mapped_column(sa.JSON)
    updated_by: Mapped[str] = mapped_column(sa.String(120), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
