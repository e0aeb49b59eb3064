"""Stored algorithm licences: issued for WooCommerce orders (or by the leader), fetched by their owner,
revoked by the leader; the signed revocation list is made from the revoked rows.

A licence is for one member's algorithm (all of that member's instruments: Crash's drums and bass,
Ivory's keys and synth) in a tier whose seats and term come from the pricing configuration
(companion/commerce/pricing.py ``licence_tiers``). One licence per order line unit, idempotent on
``wc-order:<order>:<line * 1000 + unit>`` like editions: a webhook retry or reconciliation issues
nothing new. An order that stops being paid (refunded, cancelled) revokes its licences.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from companion.db import utcnow
from companion.errors import Conflict, InvalidInput, NotFound
from companion.rights import licences
from companion.rights.models import Licence

LICENCE_ITEM_RE = re.compile(r"^(?P<member>[a-z]{1,40}):(?P<tier>non-commercial|commercial)$")
ID_RE = re.compile(r"^[0-9a-f]{16}$")


def parse_item(value) -> tuple[str, str] | None:
    """``"<member>:<tier>"`` (the line item's ``scripthammer_licence``) as (member, tier), or None."""
    from companion.algorithms.registry import MEMBERS

    if not isinstance(value, str):
        return None
    m = LICENCE_ITEM_RE.match(value)
    if m is None or m["member"] not in MEMBERS:
        return None
    return m["member"], m["tier"]


def instruments_of(member: str) -> dict[str, str]:
    """The member's instruments and the algorithm class playing each ({instrument id: class name})."""
    from companion.algorithms.instruments import load_instruments
    from companion.algorithms.registry import BY_INSTRUMENT

    out = {}
    for inst in load_instruments().values():
        if inst.member == member and inst.id in BY_INSTRUMENT:
            if member == "form" and inst.part_kind != "form":
                continue
            out[inst.id] = BY_INSTRUMENT[inst.id].__name__
    return dict(sorted(out.items()))


def algorithm_name(member: str) -> str:
    """What the licence names: the member's algorithm classes and the algorithms' version."""
    from companion.algorithms.registry import ALGORITHMS_VERSION

    classes = sorted(set(instruments_of(member).values()))
    return f"{'+'.join(classes) or member} {ALGORITHMS_VERSION}"


def _naive(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")


def issue(s: Session, config, *, member: str, tier: str, owner: str, order_ref: str | None = None,
          pricing: dict | None = None) -> tuple[Licence, bool]:
    """Issue (sign and store) a licence; (row, created). The same ``order_ref`` returns its licence."""
    from companion.commerce import pricing as pricing_mod
    from companion.rights.service import band_key

    if order_ref is not None:
        done = s.scalar(sa.select(Licence).where(Licence.order_ref == order_ref))
        if done is not None:
            return done, False
    if parse_item(f"{member}:{tier}") is None:
        raise InvalidInput(f"No licence for {member}:{tier}: a member of the band and a tier "
                           f"({', '.join(licences.TIERS)}).", code="bad_licence_item")
    terms = (pricing or pricing_mod.current(s, config))["licence_tiers"][tier]
    licence_id = secrets.token_hex(8)
    doc = licences.issue_licence(band_key(config), member=member, algorithm=algorithm_name(member), licensee=owner,
                                 tier=tier, seats=terms["seats"], days=terms["days"], licence_id=licence_id)
    body = doc["licence"]
    row = Licence(id=licence_id, owner=owner, member=member, algorithm=body["algorithm"], tier=tier,
                  seats=body["seats"], order_ref=order_ref, document=doc, issued_at=_naive(body["issued"]),
                  expires_at=_naive(body["expires"]), revoked_by="", revoke_reason="")
    s.add(row)
    s.flush()
    return row, True


def issue_for_order(s: Session, config, *, order_id: int, wp_user_id: int,
                    lines: list[tuple[int, str, str]]) -> list[dict]:
    """Licences for a paid order's licence line units (idempotent per unit)."""
    from companion.commerce import pricing as pricing_mod
    from companion.rights.service import owner_of_wp

    pricing = pricing_mod.current(s, config)
    out = []
    for unit, member, tier in lines:
        ref = f"wc-order:{order_id}:{unit}"
        try:
            with s.begin_nested():
                row, created = issue(s, config, member=member, tier=tier, owner=owner_of_wp(wp_user_id),
                                     order_ref=ref, pricing=pricing)
        except IntegrityError:  # another delivery of this order issued it meanwhile: that one stands
            row, created = s.scalar(sa.select(Licence).where(Licence.order_ref == ref)), False
            if row is None:
                raise
        out.append({"licence": row.id, "member": member, "tier": tier, "order_ref": ref, "new": created})
    return out


def revoke_for_order(s: Session, *, order_id: int, reason: str) -> int:
    """Revoke the licences an order issued (it was refunded, cancelled or deleted); how many."""
    rows = s.scalars(sa.select(Licence).where(Licence.order_ref.like(f"wc-order:{int(order_id)}:%"),
                                              Licence.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at, row.revoked_by, row.revoke_reason = utcnow(), "woocommerce", reason[:200]
    return len(rows)


def get(s: Session, licence_id: str) -> Licence:
    row = s.get(Licence, licence_id) if isinstance(licence_id, str) and ID_RE.match(licence_id) else None
    if row is None:
        raise NotFound(f"no licence {licence_id}", code="licence_not_found")
    return row


def revoke(s: Session, licence_id: str, *, by: str, reason: str = "") -> Licence:
    row = get(s, licence_id)
    if row.revoked_at is not None:
        raise Conflict(f"licence {licence_id} is already revoked", code="already_revoked")
    row.revoked_at, row.revoked_by, row.revoke_reason = utcnow(), by[:120], reason[:200]
    s.flush()
    return row


def revocation_list(s: Session, config) -> dict:
    """The band's signed list of every revoked licence id, dated now."""
    from companion.rights.service import band_key

    revoked = list(s.scalars(sa.select(Licence.id).where(Licence.revoked_at.is_not(None))))
    return licences.revocation_list(band_key(config), revoked)


def listing(s: Session, owner: str | None = None) -> list[Licence]:
    q = sa.select(Licence).order_by(Licence.issued_at.desc(), Licence.id)
    if owner is not None:
        q = q.where(Licence.owner == owner)
    return list(s.scalars(q.limit(1000)))


def out(row: Licence) -> dict:
    iso = lambda d: d.isoformat() + "Z" if d else None  # noqa: E731
    return {"id": row.id, "owner": row.owner, "member": row.member, "algorithm": row.algorithm, "tier": row.tier,
            "seats": row.seats, "order_ref": row.order_ref, "issued_at": iso(row.issued_at),
            "expires_at": iso(row.expires_at), "revoked": row.revoked_at is not None,
            "revoked_at": iso(row.revoked_at), "revoke_reason": row.revoke_reason,
            "file_url": f"/api/rights/licences/{row.id}", "package_url": f"/api/rights/licences/{row.id}/package"}
