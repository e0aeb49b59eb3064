"""Playback events as the player reports them in beacons, and A/B tests of musical variations.

``playback_events`` is keyed by (received_at, event_uid): the time the companion accepted the batch
and an id given to each event at that moment. A consumer that writes a stream entry twice (it died
after the commit, before its XACK) writes the same keys twice, and the second write is ignored. On
PostgreSQL the table is partitioned by day on ``received_at`` (declarative partitioning; the
partitions are made and retired by companion/analytics/partitions.py); SQLite and MariaDB have the
same table without partitions.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, new_id, utcnow

#: What the player reports. ``bitrate`` is an adaptive-streaming level switch; ``reaction`` a fan's
#: timed reaction (an emoji and, optionally, a short plain-text comment); ``exposure`` that a listener
#: was given one variation of an A/B test; ``ui`` a click on a control of the player.
EVENT_TYPES = ("play", "pause", "seek", "progress", "complete", "bitrate", "download", "tip_click", "reaction",
               "exposure", "ui")


class PlaybackEvent(Base):
    """One thing a listener did in the player (play, pause, seek, progress...)."""

    __tablename__ = "playback_events"
    __table_args__ = (sa.Index("ix_playback_events_track_event", "track_id", "event"),
                      sa.Index("ix_playback_events_track_received", "track_id", "received_at"),
                      {"postgresql_partition_by": "RANGE (received_at)"})

    # When the companion accepted the batch (the partition key) and the event's id within it.
    received_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, primary_key=True, default=utcnow)
    event_uid: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    # Pseudonymous listener: a keyed hash of address and user agent under a salt that rotates daily.
    listener: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Where the player ran (host of the embedding page) and when the listener's clock said it happened.
    page_host: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    client_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)


class ABTest(Base):
    """An A/B test of musical variations of one track: two or more renditions, one per listener."""

    __tablename__ = "ab_tests"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The outcome compared: "completion" (a play that completes), "replay", "reaction", "tip", "purchase".
    metric: Mapped[str] = mapped_column(sa.String(20), default="completion")
    alpha: Mapped[float] = mapped_column(sa.Float, default=0.05)
    # running -> stopped (a stop rule fired, or a member stopped it) -> promoted (the winner is the release)
    state: Mapped[str] = mapped_column(sa.String(20), default="running")
    winner: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    max_exposures: Mapped[int] = mapped_column(sa.Integer, default=100_000)
    # What the looks so far found: {"looks": n, "p": {variation key: running minimum p-value}}
    evidence: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)


class ABVariation(Base):
    """One arm of an A/B test: a rendering of the piece (from a branch, a mix or a seed) with a label.

    The arm's audio is the released media of ``media_track_id`` (a track of its own, usually unlisted,
    that went through the release pipeline); none means the test's track itself as released."""

    __tablename__ = "ab_variations"
    __table_args__ = (sa.UniqueConstraint("test_id", "key", name="uq_ab_variations_test_key"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    test_id: Mapped[str] = mapped_column(sa.ForeignKey("ab_tests.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(40))  # "a", "b", "seed-7"...
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    media_track_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tracks.id", ondelete="SET NULL"),
                                                       nullable=True)
    # Where it came from: {"branch": ..., "commit": ..., "mix": ..., "seed": ...}
    origin: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)


# --- Rollups (companion/analytics/rollups.py): what the dashboard reads instead of scanning events. ---
# A day is rolled whole (every track) in one transaction: its rows are deleted and made again from the
# events, so a roll can be repeated and a late event is counted by the next roll of its day.


class RollupDay(Base):
    """A UTC day whose rollups were made: when, and from how many events."""

    __tablename__ = "analytics_rollup_days"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    rolled_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    events: Mapped[int] = mapped_column(sa.Integer, default=0)


class TrackDayStats(Base):
    """A track's figures of one day (see companion/analytics/metrics.py for the definitions)."""

    __tablename__ = "analytics_track_days"

    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True, index=True)
    plays: Mapped[int] = mapped_column(sa.Integer, default=0)
    plays_30s: Mapped[int] = mapped_column(sa.Integer, default=0)
    listeners: Mapped[int] = mapped_column(sa.Integer, default=0)
    completions: Mapped[int] = mapped_column(sa.Integer, default=0)
    skips: Mapped[int] = mapped_column(sa.Integer, default=0)
    # sessions that started the track, and the sum of the furthest point each reached (the average's parts)
    played_sessions: Mapped[int] = mapped_column(sa.Integer, default=0)
    listened_s: Mapped[float] = mapped_column(sa.Double, default=0.0)
    tips: Mapped[int] = mapped_column(sa.Integer, default=0)
    downloads: Mapped[dict] = mapped_column(sa.JSON, default=dict)   # {format: n}
    controls: Mapped[dict] = mapped_column(sa.JSON, default=dict)    # {control (or download, tip_click): n}
    events: Mapped[int] = mapped_column(sa.Integer, default=0)


class TrackDayListener(Base):
    """The pseudonymous listeners of a track on a day (exact distinct counts across an album's tracks)."""

    __tablename__ = "analytics_track_day_listeners"

    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True, index=True)
    listener: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class TrackSecondStats(Base):
    """Per second of a track, per day: starts, seeks to, replays, drop-offs and reactions."""

    __tablename__ = "analytics_track_seconds"

    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True, index=True)
    second: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    starts: Mapped[int] = mapped_column(sa.Integer, default=0)
    seeks: Mapped[int] = mapped_column(sa.Integer, default=0)
    replays: Mapped[int] = mapped_column(sa.Integer, default=0)
    dropoffs: Mapped[int] = mapped_column(sa.Integer, default=0)
    reactions: Mapped[int] = mapped_column(sa.Integer, default=0)


#: A fan's feedback is pending until a moderator approves it; approved feedback may later be hidden or
#: marked spam (and approved again). Only approved feedback is public (waveform, studio).
FEEDBACK_STATES = ("pending", "approved", "hidden", "spam")


class TrackFeedback(Base):
    """A fan's timed reaction or short comment on a track, at a playback position (companion/analytics/feedback.py).

    ``listener_id`` is the fan's listener row (their pseudonymous id here; WordPress knows the person),
    never an address. When the track was rendered from a composition version, ``composition``,
    ``version`` and ``measure`` say where in the music it falls (``part``: none, a mixdown does not
    say which part was heard), and ``comment_id`` is the studio comment made when it was approved."""

    __tablename__ = "track_feedback"
    __table_args__ = (sa.Index("ix_track_feedback_track_state", "track_id", "state"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"))
    listener_id: Mapped[int] = mapped_column(sa.ForeignKey("listeners.id", ondelete="CASCADE"), index=True)
    author_name: Mapped[str] = mapped_column(sa.String(200), default="")
    position: Mapped[float] = mapped_column(sa.Float)
    emoji: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    text: Mapped[str | None] = mapped_column(sa.String(280), nullable=True)
    state: Mapped[str] = mapped_column(sa.String(20), default="pending", index=True)
    composition: Mapped[str | None] = mapped_column(sa.String(100), nullable=True, index=True)
    version: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    part: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    measure: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    comment_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    moderated_by: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    moderated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


#: What a fan paid for from the player: a tip (the tip jar) or a purchase (buy, unlock, subscribe links).
ATTRIBUTED_KINDS = ("tip", "purchase")


class AttributedOutcome(Base):
    """A paid WooCommerce order line attributed to a play (companion/analytics/attribution.py).

    One row per order line (``wc_order_id``, ``line_id``), made when the order is paid and the line's
    attribution (the player session and the track it played) holds: the track is released and that
    session played it before the order. A refund or cancellation of the order sets ``revoked_at`` (the
    figures leave it out); a paid order again clears it. ``session_id`` is the player's pseudonymous
    session (never a fan's account); ``amount_cents`` is hundredths of ``currency``, the line's total."""

    __tablename__ = "analytics_attributions"
    __table_args__ = (sa.UniqueConstraint("wc_order_id", "line_id", name="uq_analytics_attributions_line"),
                      sa.Index("ix_analytics_attributions_track_day", "track_id", "day"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    wc_order_id: Mapped[int] = mapped_column(sa.Integer, index=True)
    line_id: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(10))  # tip | purchase
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"))
    album_id: Mapped[int | None] = mapped_column(sa.ForeignKey("albums.id", ondelete="SET NULL"), nullable=True)
    session_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="")
    day: Mapped[dt.date] = mapped_column(sa.Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
