"""Comments on compositions: anchored to a version, a part and a measure range; threaded, resolvable.

Fans' feedback (listener mode, the player) lands in the same table, marked ``fan``.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow


class CompositionComment(Base):
    """One comment (or reply, with ``parent_id``) on a composition."""

    __tablename__ = "composition_comments"
    __table_args__ = (sa.Index("ix_composition_comments_composition", "composition", "created_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    composition: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[str] = mapped_column(sa.String(40))
    part: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    measure_from: Mapped[int] = mapped_column(sa.Integer)
    measure_to: Mapped[int] = mapped_column(sa.Integer)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("composition_comments.id", ondelete="CASCADE"),
                                                  nullable=True)
    author: Mapped[str] = mapped_column(sa.String(100))
    author_name: Mapped[str] = mapped_column(sa.String(200))
    fan: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    body: Mapped[str] = mapped_column(sa.Text)
    resolved: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
