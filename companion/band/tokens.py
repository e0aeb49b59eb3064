"""Creating, checking and revoking API tokens (hashed at rest)."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.band.models import ApiToken, Member
from companion.db import utcnow
from companion.errors import InvalidInput, NotFound

TOKEN_PREFIX = "shm_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, role: str, member_id: str | None = None, label: str = "",
                 expires_in: dt.timedelta | None = None, scopes: dict | None = None,
                 created_by: str | None = None) -> tuple[ApiToken, str]:
    """A new token row and the token itself (shown once, never stored)."""
    if role not in {"leader", "member", "guest", "listener", "service"}:
        raise InvalidInput(f"unknown role {role!r}", details={"role": role})
    if role == "guest" and expires_in is None:
        raise InvalidInput("guest tokens must expire", code="guest_needs_expiry")
    if role in {"leader", "member"}:
        member = session.get(Member, member_id) if member_id else None
        if member is None:
            raise NotFound(f"no band member {member_id!r}", code="member_not_found")
        role = member.role
    elif member_id is not None:
        raise InvalidInput(f"a {role} token belongs to no band member: leave member_id out",
                           code="member_id_not_allowed", details={"role": role})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(secret), prefix=secret[:10], role=role, member_id=member_id,
                   label=label, scopes=scopes or {}, created_by=created_by,
                   expires_at=(utcnow() + expires_in) if expires_in else None)
    session.add(row)
    session.flush()
    return row, secret


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live token row for ``token``, or None when unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalars(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return row


def revoke_token(session: Session, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id!r}", code="token_not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
