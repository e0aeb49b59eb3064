"""Band members and the API tokens they (and guests, listeners and services) sign in with."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, new_id, utcnow


class Member(Base):
    __tablename__ = "members"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    role: Mapped[str] = mapped_column(sa.String(20))  # leader | member
    title: Mapped[str] = mapped_column(sa.String(80), default="")
    instrument: Mapped[str] = mapped_column(sa.String(120), default="")
    personality: Mapped[str] = mapped_column(sa.Text, default="")
    owns: Mapped[list] = mapped_column(sa.JSON, default=list)
    visual: Mapped[str] = mapped_column(sa.String(200), default="")
    picture_key: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # first characters, to recognise a token in lists
    role: Mapped[str] = mapped_column(sa.String(20))  # leader | member | guest | listener | service
    member_id: Mapped[str | None] = mapped_column(sa.ForeignKey("members.id"), nullable=True)
    label: Mapped[str] = mapped_column(sa.String(120), default="")
    scopes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
