"""The sample library's catalog and history.

* :class:`Sample`: one named sound of one instrument and articulation (``crash-drums`` /
  ``normal`` / ``kick``); a sample is ``active`` or ``retired``; its bytes are versions.
* :class:`SampleVersion`: one immutable content (sha256 of the bytes, the object-store key),
  with the licence and source it came under, what it is (format, rate, channels, frames) and how
  it maps onto notes (root key, key range, velocity range).
* :class:`SampleCommit` and :class:`SampleChange`: the history. A commit is who, when, why, with
  a hash chained to its parent (``digest`` covers the parent's digest and every change), and names
  the changes it made (add, replace, retire). Rows of both tables are only ever inserted.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from companion.db import Base, utcnow

KINDS = ("sample", "soundfont")
STATES = ("active", "retired")
ACTIONS = ("add", "replace", "retire")


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (sa.UniqueConstraint("instrument", "articulation", "name", name="uq_samples_name"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    instrument: Mapped[str] = mapped_column(sa.String(64), index=True)
    articulation: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))  # sample | soundfont
    state: Mapped[str] = mapped_column(sa.String(20), default="active")  # active | retired
    version: Mapped[int] = mapped_column(sa.Integer, default=1)  # the current version's number
    created_by: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    versions: Mapped[list["SampleVersion"]] = relationship(back_populates="sample", order_by="SampleVersion.version")

    @property
    def current(self) -> "SampleVersion":
        return next(v for v in self.versions if v.version == self.version)


class SampleVersion(Base):
    __tablename__ = "sample_versions"
    __table_args__ = (sa.UniqueConstraint("sample_id", "version", name="uq_sample_versions_version"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    key: Mapped[str] = mapped_column(sa.String(400))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    format: Mapped[str] = mapped_column(sa.String(10))  # wav | aiff | flac | sf2
    sample_rate: Mapped[int] = mapped_column(sa.Integer)
    channels: Mapped[int] = mapped_column(sa.Integer)
    frames: Mapped[int] = mapped_column(sa.BigInteger)
    bit_depth: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    subtype: Mapped[str] = mapped_column(sa.String(20), default="")
    root: Mapped[int] = mapped_column(sa.Integer)  # MIDI key the sample sounds at its own rate
    low: Mapped[int] = mapped_column(sa.Integer)  # the keys it plays (inclusive)
    high: Mapped[int] = mapped_column(sa.Integer)
    velocity_low: Mapped[int] = mapped_column(sa.Integer, default=0)
    velocity_high: Mapped[int] = mapped_column(sa.Integer, default=127)
    licence: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(500))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # SoundFont presets, slice origin...
    created_by: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    sample: Mapped[Sample] = relationship(back_populates="versions")

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


class SampleCommit(Base):
    __tablename__ = "sample_commits"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # the previous commit's digest (64 zeros for the first); unique, so two writers racing on one
    # parent cannot both land
    parent: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    author: Mapped[str] = mapped_column(sa.String(120))
    message: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    changes: Mapped[list["SampleChange"]] = relationship(back_populates="commit", order_by="SampleChange.id")


class SampleChange(Base):
    __tablename__ = "sample_changes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    commit_id: Mapped[int] = mapped_column(sa.ForeignKey("sample_commits.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    action: Mapped[str] = mapped_column(sa.String(20))  # add | replace | retire
    sha256: Mapped[str] = mapped_column(sa.String(64))

    commit: Mapped[SampleCommit] = relationship(back_populates="changes")
    sample: Mapped[Sample] = relationship()
