"""A fan's opt-in to Web Push on one browser: the push service's endpoint and the browser's keys."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow

#: What a fan may opt in to.
TOPICS = ("broadcasts", "releases")


class PushSubscription(Base):
    """One browser's push subscription, owned by the listener who made it (unique by endpoint)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    listener_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("listeners.id", ondelete="CASCADE"), index=True)
    # unique by the endpoint's SHA-256 (hex): an index on 1000 characters is too long for MariaDB
    endpoint_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(sa.String(1000))
    p256dh: Mapped[str] = mapped_column(sa.String(120))
    auth: Mapped[str] = mapped_column(sa.String(40))
    topics: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(sa.String(300), default="")
