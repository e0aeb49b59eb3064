"""A job row per piece of queued work; RQ holds the work, this row holds what people see."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, new_id, utcnow

JOB_STATES = ("queued", "started", "finished", "failed", "retrying")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(sa.String(40))  # release | publish | render ...
    state: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    progress: Mapped[int] = mapped_column(sa.Integer, default=0)
    stage: Mapped[str] = mapped_column(sa.String(80), default="")
    track_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tracks.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    result: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    rq_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
