"""Playback events as the player reports them in beacons."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow

#: What the player reports. ``bitrate`` is an adaptive-streaming level switch.
EVENT_TYPES = ("play", "pause", "seek", "progress", "complete", "bitrate", "download", "tip_click")

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class PlaybackEvent(Base):
    """One thing a listener did in the player (play, pause, seek, progress...)."""

    __tablename__ = "playback_events"
    __table_args__ = (sa.Index("ix_playback_events_track_event", "track_id", "event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Where the player ran (host of the embedding page) and when the listener's clock said it happened.
    page_host: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    client_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
