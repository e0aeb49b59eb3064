"""Listeners (fans known through WordPress) and their entitlements.

An entitlement is a row with a source (subscription, purchase, grant), a scope (everything,
one track or one album), a start, an optional end and an optional revocation. A listener is
entitled to an item while some row covering it has started, has not ended and is not revoked.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from companion.db import Base, utcnow

SOURCES = ("subscription", "purchase", "grant")
SCOPE_KINDS = ("all", "track", "album", "live")  # live:<broadcast id>: a ticket to a premium broadcast


class Listener(Base):
    """A fan, as the WordPress site knows them (one row per WordPress user id)."""

    __tablename__ = "listeners"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    wp_user_id: Mapped[int] = mapped_column(sa.Integer, unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)

    entitlements: Mapped[list["Entitlement"]] = relationship(back_populates="listener",
                                                             cascade="all, delete-orphan")


class Entitlement(Base):
    """One right to hear (in full) and download an item, from one source."""

    __tablename__ = "entitlements"
    __table_args__ = (sa.UniqueConstraint("source", "source_ref", "scope", name="uq_entitlement_source_scope"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    listener_id: Mapped[int] = mapped_column(sa.ForeignKey("listeners.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(sa.String(20))  # subscription | purchase | grant
    # Where it came from, stable across webhook retries: "wc-order:123", "wcs-subscription:55", "grant:<id>".
    source_ref: Mapped[str] = mapped_column(sa.String(120))
    # "all", "track:<id>", "album:<id>" or "live:<broadcast id>".
    scope: Mapped[str] = mapped_column(sa.String(40))
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    ends_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    granted_by: Mapped[str] = mapped_column(sa.String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    listener: Mapped[Listener] = relationship(back_populates="entitlements")

    def active(self, at: dt.datetime | None = None) -> bool:
        at = at or utcnow()
        return (self.revoked_at is None and self.starts_at <= at
                and (self.ends_at is None or self.ends_at > at))


class DeviceAuthorization(Base):
    """One device authorization grant (RFC 8628): an app shows ``user_code``, the fan approves it in
    WordPress, and the app polls with ``device_code`` (kept only as its SHA-256) for a listener token.

    status: pending -> approved | denied; approved -> used once the app took its token. A used grant
    keeps a refresh token (its SHA-256) that mints new listener tokens until it expires, rotated on use.
    """

    __tablename__ = "device_authorizations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    device_code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_code: Mapped[str] = mapped_column(sa.String(8), index=True)  # 8 letters, no dash
    client_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    wp_user_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    interval: Mapped[int] = mapped_column(sa.Integer, default=5)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    refresh_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
