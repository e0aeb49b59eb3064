"""What a live session keeps: its state (parameters, bar, open vote round, what the votes changed, the
recording) and the audience's votes, one per listener per round."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow

STATUSES = ("starting", "live", "stopping", "ended", "failed")


class LiveSession(Base):
    """One live session: the robots playing on a rig of its own, broadcast over HLS, recorded."""

    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="starting", index=True)
    started_by: Mapped[str] = mapped_column(sa.String(64))
    seed: Mapped[int] = mapped_column(sa.Integer, default=1)
    robots: Mapped[list] = mapped_column(sa.JSON, default=list)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # the parameters in force now
    bar: Mapped[int] = mapped_column(sa.Integer, default=0)  # the last bar sent to the robots
    round: Mapped[int] = mapped_column(sa.Integer, default=0)  # the open vote round
    bars: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{number, start, length, notes}]
    applied: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{round, bar, parameter, value, votes}]
    t0: Mapped[float | None] = mapped_column(sa.Float, nullable=True)  # session clock start (unix seconds)
    webrtc: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {janus: HTTP API URL, mountpoint: id}
    recording: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {mix, stems: {robot: key}, seconds}
    track_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)  # the mix released as a track
    error: Mapped[str] = mapped_column(sa.String(40), default="")
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)  # the runner, every bar
    ended_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)


class LiveVote(Base):
    """One listener's vote in one round (a bar) of a session: a parameter and the value wanted."""

    __tablename__ = "live_votes"
    __table_args__ = (sa.UniqueConstraint("session_id", "round", "voter", name="uq_live_vote_round"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(sa.Integer)
    voter: Mapped[str] = mapped_column(sa.String(64))
    parameter: Mapped[str] = mapped_column(sa.String(20))
    value: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class LiveNote(Base):
    """A chat message or a marked moment in a session, stamped with the session's media clock
    (seconds since the count-in click, the kept recording's time)."""

    __tablename__ = "live_notes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # chat | mark
    author: Mapped[str] = mapped_column(sa.String(64))
    text: Mapped[str] = mapped_column(sa.String(500))
    media_time: Mapped[float] = mapped_column(sa.Float)
    bar: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


BROADCAST_STATES = ("scheduled", "starting", "live", "ended", "cancelled", "failed")


class LiveBroadcast(Base):
    """A scheduled broadcast: at ``starts_at`` (UTC) a live session starts with these parameters, and the
    WordPress performance post ``wp_post_id`` embeds it (its ``scripthammer_live_session`` meta)."""

    __tablename__ = "live_broadcasts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    wp_post_id: Mapped[int] = mapped_column(sa.Integer, index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, index=True)  # UTC, naive
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    seed: Mapped[int] = mapped_column(sa.Integer, default=1)
    state: Mapped[str] = mapped_column(sa.String(20), default="scheduled", index=True)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")  # why it failed (or was cancelled)
    session_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # premium: listening (WebRTC and HLS) needs a ticket (``live:<id>``), a subscription or a grant
    premium: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # the released recording (a track) the post's scripthammer_recording_track meta names (None: not yet)
    recording_track_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    # a session started by hand (not scheduled): the row carries its premium flag and the performance post
    # the companion makes for it (``wp_post_id`` 0 until made)
    by_hand: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # started with "performance": true: the companion makes its post (by hand only)
    wants_post: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    wp_linked: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # the post's meta names the session
    wp_error: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
