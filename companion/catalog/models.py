"""Albums, tracks and renditions."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from companion.db import Base, utcnow

RELEASE_STATES = ("draft", "unreleased", "public", "premium")
TRACK_STATUSES = ("empty", "processing", "ready", "failed")


class Album(Base):
    __tablename__ = "albums"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    artist: Mapped[str] = mapped_column(sa.String(200), default="ScriptHammer")
    year: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    cover_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    release_state: Mapped[str] = mapped_column(sa.String(20), default="draft")
    # Where a fan buys it (the WooCommerce product WordPress made for it); the player's buy link.
    buy_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    tracks: Mapped[list["Track"]] = relationship(back_populates="album", order_by="Track.track_number")


class Track(Base):
    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    album_id: Mapped[int | None] = mapped_column(sa.ForeignKey("albums.id", ondelete="SET NULL"), nullable=True)
    track_number: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    artist: Mapped[str] = mapped_column(sa.String(200), default="ScriptHammer")
    year: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    release_state: Mapped[str] = mapped_column(sa.String(20), default="draft")
    buy_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="empty")
    cover_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    # The uploaded original and what probing found.
    source_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    source_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    source_filename: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    source_format: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    duration: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    bit_depth: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # EBU R128 measurements of the master.
    loudness_lufs: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    loudness_range_lu: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    true_peak_dbtp: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    stream_gain_db: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    hls_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    # Premium tracks: the master playlist of the forensically marked A/B variants of the ladder
    # (companion/media/abstreams.py), what entitled listeners are served instead of hls_key.
    ab_hls_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    peaks: Mapped[list] = mapped_column(sa.JSON, default=list)
    manifest_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    error_code: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # Credits (companion/rights/credits.py): the composition version this recording sounds (set when a
    # render is published, or by the leader), its ISRC (12 characters, no dashes) and, for a recording
    # of a work that is no composition here, the work's ISWC (otherwise the composition's is used).
    composition_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)
    composition_commit: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    isrc: Mapped[str | None] = mapped_column(sa.String(12), nullable=True, unique=True)
    iswc: Mapped[str | None] = mapped_column(sa.String(15), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    album: Mapped[Album | None] = relationship(back_populates="tracks")
    renditions: Mapped[list["Rendition"]] = relationship(
        back_populates="track", cascade="all, delete-orphan", order_by="Rendition.id")


class Rendition(Base):
    __tablename__ = "renditions"
    __table_args__ = (sa.UniqueConstraint("track_id", "name", name="uq_rendition_track_name"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(sa.ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(40))  # e.g. mp3-320, flac, wav-master
    kind: Mapped[str] = mapped_column(sa.String(20))  # master | download | preview
    format: Mapped[str] = mapped_column(sa.String(20))
    codec: Mapped[str] = mapped_column(sa.String(40))
    container: Mapped[str] = mapped_column(sa.String(20))
    mime: Mapped[str] = mapped_column(sa.String(60))
    extension: Mapped[str] = mapped_column(sa.String(10))
    bitrate: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    bit_depth: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    duration: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    key: Mapped[str] = mapped_column(sa.String(400))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    normalized: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    gain_db: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    track: Mapped[Track] = relationship(back_populates="renditions")


#: What a stored object is to the item that names it (see companion/catalog/objects.py).
OBJECT_ROLES = ("master", "download", "preview", "stream", "peaks", "cover", "source", "manifest")


class CatalogObject(Base):
    """One stored object named by one album or track, in one role: the index /media classifies keys by.

    ``key`` is an object key, or for an HLS ladder its folder with a trailing slash (every
    playlist and segment under it has the role ``stream``). The item's release state is not
    copied here: classifying joins the item's row, so a change of state counts at once. Rows
    may repeat (two writers of one item at the same moment); the next change of the item
    rebuilds its rows.
    """

    __tablename__ = "catalog_objects"
    __table_args__ = (sa.Index("ix_catalog_objects_item", "item_type", "item_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(400), index=True)
    item_type: Mapped[str] = mapped_column(sa.String(10))  # track | album
    item_id: Mapped[int] = mapped_column(sa.Integer)
    role: Mapped[str] = mapped_column(sa.String(20))
