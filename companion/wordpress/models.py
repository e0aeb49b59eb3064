"""Where each track or album stands on WordPress."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow

#: queued -> publishing -> published | draft ; retrying (transient failure, will retry) ; failed (gave up)
PUBLICATION_STATES = ("queued", "publishing", "published", "draft", "retrying", "failed")
KINDS = ("track", "album")


class Publication(Base):
    """One row per catalog item ever published: the WordPress post it maps to and the last outcome."""

    __tablename__ = "wp_publications"
    __table_args__ = (sa.UniqueConstraint("kind", "item_id", name="uq_wp_publication_item"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # track | album
    item_id: Mapped[int] = mapped_column(sa.Integer, index=True)  # the companion's track or album id
    wp_post_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    wp_status: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)  # publish | draft
    wp_link: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    cover_media_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    cover_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    state: Mapped[str] = mapped_column(sa.String(20), default="queued")
    action: Mapped[str] = mapped_column(sa.String(20), default="publish")  # publish | unpublish
    error_code: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
