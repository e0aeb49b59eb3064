"""Rights tables: watermarked deliveries, the ownership log (entries and signed heads), editions and transfers."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow


class Delivery(Base):
    """One watermarked delivery: a buyer's download of a track in one format. ``mark`` is the 64-bit
    payload embedded in the audio (random, so it reveals nothing by itself); the detector resolves it
    to this row: buyer, order and time."""

    __tablename__ = "rights_deliveries"
    __table_args__ = (sa.UniqueConstraint("listener_id", "track_id", "format", name="uq_rights_delivery_buyer_format"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    mark: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    listener_id: Mapped[int] = mapped_column(sa.ForeignKey("listeners.id", ondelete="CASCADE"), index=True)
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(sa.String(20))
    order_ref: Mapped[str] = mapped_column(sa.String(120), default="")
    key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)  # the cached marked file
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class LogEntry(Base):
    """One leaf of the ownership log: its canonical JSON and leaf hash. Rows are only ever added."""

    __tablename__ = "rights_log_entries"

    idx: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(sa.Text)
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class LogHead(Base):
    """A signed tree head (one per log size reached)."""

    __tablename__ = "rights_log_heads"

    size: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(sa.String(64))
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    signature: Mapped[str] = mapped_column(sa.String(120))


class EditionSeries(Base):
    """A work (a composition, or a version of it) sold in ``count`` numbered editions."""

    __tablename__ = "rights_edition_series"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    work: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    count: Mapped[int] = mapped_column(sa.Integer)
    created_by: Mapped[str] = mapped_column(sa.String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class Edition(Base):
    """One issued edition and its current owner (``wp:<WordPress user id>``); the log is the record."""

    __tablename__ = "rights_editions"
    __table_args__ = (sa.UniqueConstraint("series_id", "number", name="uq_rights_edition_number"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("rights_edition_series.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    owner: Mapped[str] = mapped_column(sa.String(120), index=True)
    order_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True, nullable=True)
    issued_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class Transfer(Base):
    """A transfer offered by an edition's owner; it happens (a log entry) when the recipient accepts."""

    __tablename__ = "rights_transfers"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(sa.ForeignKey("rights_editions.id", ondelete="CASCADE"), index=True)
    from_owner: Mapped[str] = mapped_column(sa.String(120))
    to_owner: Mapped[str] = mapped_column(sa.String(120))
    state: Mapped[str] = mapped_column(sa.String(20), default="offered")  # offered | done | cancelled
    offered_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    log_index: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)


class CompositionCode(Base):
    """A composition's registry codes: its ISWC (the musical work's, ISO 15707), set by the leader.

    Kept here, not in the composition's files, so that registering a code makes no new version of
    the piece (a new version would change what a render's cache key and a track's link name)."""

    __tablename__ = "composition_codes"

    composition_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    iswc: Mapped[str | None] = mapped_column(sa.String(15), nullable=True, unique=True)
    updated_by: Mapped[str] = mapped_column(sa.String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


class Licence(Base):
    """One algorithm licence issued to a fan (``owner`` ``wp:<WordPress user id>``): the signed file as
    issued (``document``), and its revocation (the signed revocation list is made from these rows)."""

    __tablename__ = "rights_licences"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # the licence file's id
    owner: Mapped[str] = mapped_column(sa.String(120), index=True)
    member: Mapped[str] = mapped_column(sa.String(40))
    algorithm: Mapped[str] = mapped_column(sa.String(120))
    tier: Mapped[str] = mapped_column(sa.String(20))
    seats: Mapped[int] = mapped_column(sa.Integer, default=1)
    order_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True, nullable=True)
    document: Mapped[dict] = mapped_column(sa.JSON)
    issued_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    revoked_by: Mapped[str] = mapped_column(sa.String(120), default="")
    revoke_reason: Mapped[str] = mapped_column(sa.String(200), default="")
