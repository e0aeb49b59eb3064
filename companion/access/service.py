"""Plain functions over listeners and entitlements: the interface commerce and delivery use.

- :func:`listener_for` finds or makes the listener of a WordPress user.
- :func:`upsert` records an entitlement idempotently (same source, reference and scope: one row).
- :func:`revoke` ends every entitlement of a source reference at once.
- :func:`entitled` says whether a listener may hear in full and download a track.
- :func:`grant`, :func:`revoke_entitlement`, :func:`entitlements_of`: the leader's grants and the
  entitlements API (companion/access/api.py).
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.access.models import SCOPE_KINDS, SOURCES, Entitlement, Listener
from companion.db import utcnow
from companion.errors import InvalidInput, NotFound


def scope_of(kind: str, item_id: int | None = None) -> str:
    """The scope string of an entitlement: "all", "track:<id>" or "album:<id>"."""
    if kind not in SCOPE_KINDS:
        raise InvalidInput(f"Unknown scope {kind!r}: use one of {', '.join(SCOPE_KINDS)}.", code="bad_scope")
    if kind == "all":
        return "all"
    if item_id is None or int(item_id) <= 0:
        raise InvalidInput(f"A {kind} entitlement names its {kind}.", code="bad_scope")
    return f"{kind}:{int(item_id)}"


def listener_for(s: Session, wp_user_id: int, display_name: str = "") -> Listener:
    """The listener of WordPress user ``wp_user_id``, made on first sight."""
    wp_user_id = int(wp_user_id)
    if wp_user_id <= 0:
        raise InvalidInput("A listener is a WordPress user id above 0.", code="bad_listener")
    row = s.scalar(sa.select(Listener).where(Listener.wp_user_id == wp_user_id))
    if row is None:
        row = Listener(wp_user_id=wp_user_id, display_name=display_name[:200])
        s.add(row)
        s.flush()
    elif display_name and row.display_name != display_name[:200]:
        row.display_name = display_name[:200]
    return row


def upsert(s: Session, *, listener: Listener, source: str, source_ref: str, scope: str,
           starts_at: dt.datetime | None = None, ends_at: dt.datetime | None = None,
           granted_by: str = "", reactivate: bool = True) -> Entitlement:
    """Record an entitlement; applying the same (source, source_ref, scope) again updates that row.

    ``reactivate`` clears an earlier revocation (a subscription that became active again);
    callers pass False where a revocation must win over a late duplicate (a refunded order).
    """
    if source not in SOURCES:
        raise InvalidInput(f"Unknown entitlement source {source!r}.", code="bad_source")
    if not source_ref or len(source_ref) > 120:
        raise InvalidInput("An entitlement needs a source reference of at most 120 characters.",
                           code="bad_source_ref")
    row = s.scalar(sa.select(Entitlement).where(Entitlement.source == source, Entitlement.source_ref == source_ref,
                                                Entitlement.scope == scope))
    if row is None:
        row = Entitlement(listener_id=listener.id, source=source, source_ref=source_ref, scope=scope,
                          starts_at=starts_at or utcnow(), ends_at=ends_at, granted_by=granted_by)
        s.add(row)
        s.flush()
        return row
    row.listener_id = listener.id
    if starts_at is not None:
        row.starts_at = starts_at
    row.ends_at = ends_at
    if reactivate:
        row.revoked_at, row.revoked_reason = None, None
    if granted_by:
        row.granted_by = granted_by
    return row


def revoke(s: Session, *, source: str, source_ref: str, reason: str, at: dt.datetime | None = None) -> int:
    """Revoke every live entitlement of one source reference; returns how many changed."""
    at = at or utcnow()
    rows = s.scalars(sa.select(Entitlement).where(Entitlement.source == source, Entitlement.source_ref == source_ref,
                                                  Entitlement.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at, row.revoked_reason = at, reason[:60]
    return len(rows)


def covering_scopes(track_id: int, album_id: int | None) -> list[str]:
    """The scopes that cover a track: everything, the track, its album."""
    scopes = ["all", f"track:{int(track_id)}"]
    if album_id:
        scopes.append(f"album:{int(album_id)}")
    return scopes


def active_entitlements(s: Session, listener_id: int, at: dt.datetime | None = None) -> list[Entitlement]:
    at = at or utcnow()
    return list(s.scalars(sa.select(Entitlement).where(
        Entitlement.listener_id == listener_id, Entitlement.revoked_at.is_(None), Entitlement.starts_at <= at,
        sa.or_(Entitlement.ends_at.is_(None), Entitlement.ends_at > at))).all())


def entitled(s: Session, listener_id: int | None, track_id: int, album_id: int | None,
             at: dt.datetime | None = None) -> bool:
    """May this listener hear the track in full and download it?"""
    if listener_id is None:
        return False
    at = at or utcnow()
    found = s.scalar(sa.select(Entitlement.id).where(
        Entitlement.listener_id == listener_id, Entitlement.scope.in_(covering_scopes(track_id, album_id)),
        Entitlement.revoked_at.is_(None), Entitlement.starts_at <= at,
        sa.or_(Entitlement.ends_at.is_(None), Entitlement.ends_at > at)).limit(1))
    return found is not None


def entitlements_of(s: Session, listener_id: int) -> list[Entitlement]:
    """Every entitlement of a listener, newest first (active or not)."""
    return list(s.scalars(sa.select(Entitlement).where(Entitlement.listener_id == listener_id)
                          .order_by(Entitlement.created_at.desc(), Entitlement.id.desc())).all())


def grant(s: Session, *, listener: Listener, scope: str, granted_by: str, ends_at: dt.datetime | None = None,
          ref: str | None = None) -> Entitlement:
    """A grant by the band's leader (source "grant"); ``ref`` makes a repeated grant the same row."""
    return upsert(s, listener=listener, source="grant", source_ref=f"grant:{ref or uuid.uuid4().hex}", scope=scope,
                  ends_at=ends_at, granted_by=granted_by)


def revoke_entitlement(s: Session, entitlement_id: int, *, reason: str, at: dt.datetime | None = None) -> Entitlement:
    """Revoke one entitlement row (idempotent: a revoked row keeps its first revocation)."""
    row = s.get(Entitlement, entitlement_id)
    if row is None:
        raise NotFound(f"no entitlement {entitlement_id}", code="entitlement_not_found")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_reason = at or utcnow(), reason[:60]
    return row


def revoke_other_scopes(s: Session, *, source: str, source_ref: str, keep: list[str] | tuple[str, ...],
                        reason: str, at: dt.datetime | None = None) -> int:
    """Revoke the live entitlements of one source reference whose scope is not in ``keep`` (an order
    edited to drop a line item); returns how many changed. (Added for companion/commerce.)"""
    at = at or utcnow()
    rows = s.scalars(sa.select(Entitlement).where(Entitlement.source == source, Entitlement.source_ref == source_ref,
                                                  Entitlement.revoked_at.is_(None))).all()
    changed = 0
    for row in rows:
        if row.scope not in keep:
            row.revoked_at, row.revoked_reason = at, reason[:60]
            changed += 1
    return changed
