"""Tips and purchases attributed to a play.

When a fan tips or buys from the player (the tip jar, the buy, unlock and subscribe links), the link
carries ``sh_play=<session>.<track id>``: the player's pseudonymous session and the track it was
playing (no personal data). The WordPress plugin keeps it from the add-to-cart request on the cart item
and the order line (``_scripthammer_play``), and adds it to the order's line items in REST documents and
so in webhook bodies (``scripthammer_play``, with ``scripthammer_kind`` "tip" on the tip product's
lines, else "purchase").

The token is not trusted: the player cannot sign anything (it holds no secret), so the companion checks
it against what it knows when the paid order arrives (:func:`check`): the track exists and is released,
and the session played it (a ``play`` event of that session on that track) before the order was made and
at most :data:`WINDOW_DAYS` before. A forged token (a track that session never played, an unreleased or
unknown track, garbage) is ignored: the order goes through as always and nothing is counted. Player
sessions are random per player load, so a session id that played a track cannot be guessed.

Each paid order line with an attribution that holds is one :class:`AttributedOutcome` (unique per order
and line: a duplicated or replayed webhook, or a later update of the order, counts it once; a line
recorded once is not checked again, so an order updated after its play's events were retired keeps it). An order
that is refunded, cancelled, failed or deleted revokes its outcomes (they leave the figures); paid again,
they come back. Partial refunds (a refund of some of an order's lines) are not told apart by WooCommerce's
order document: they do not change the figures. The outcomes are counted on the UTC day the order was paid.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.analytics.models import AttributedOutcome, PlaybackEvent
from companion.db import insert_ignoring_duplicates, utcnow
from companion.schema_fields import INT_MAX

#: The query argument (and the line item field, without the prefix) that carries an attribution.
QUERY_ARG = "sh_play"
#: A play attributes what the session bought at most this many days after it.
WINDOW_DAYS = 30
#: A play may be recorded this long after the order was made (the player's beacon batch was still on its way).
CLOCK_SLACK = dt.timedelta(minutes=10)
#: The released states (companion/access/policy.RELEASED).
RELEASED = ("public", "premium")

_TOKEN_RE = re.compile(r"^([A-Za-z0-9_-]{8,64})\.([0-9]{1,10})$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_SCOPE_ALBUM_RE = re.compile(r"^album:([0-9]{1,10})$")
#: the largest line total counted (hundredths): anything above is not a tip or a record
MAX_CENTS = 10**11


def parse_token(value) -> tuple[str, int] | None:
    """(session, track id) of an ``sh_play`` token ``"<session>.<track id>"``; None when it is not one."""
    if not isinstance(value, str):
        return None
    m = _TOKEN_RE.match(value.strip())
    if not m:
        return None
    track_id = int(m.group(2))
    return (m.group(1), track_id) if 0 < track_id <= INT_MAX else None


def cents(value) -> int | None:
    """Hundredths of a WooCommerce amount ("7.00", 7, "7.5"); None unless a positive, sane amount."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError):
        return None
    if not amount.is_finite():
        return None
    out = int((amount * 100).to_integral_value(rounding=decimal.ROUND_HALF_UP))
    return out if 0 < out < MAX_CENTS else None


@dataclasses.dataclass(frozen=True)
class Line:
    """One order line that carries an attribution (not yet checked)."""

    line_id: int
    kind: str  # tip | purchase
    session_id: str
    track_id: int
    album_id: int | None
    amount_cents: int


def lines_of(payload: dict) -> list[Line]:
    """The line items of an order document that carry a well-formed attribution and a positive total."""
    out: list[Line] = []
    items = payload.get("line_items") if isinstance(payload, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or "scripthammer_play" not in item:
            continue
        token = parse_token(item.get("scripthammer_play"))
        amount = cents(item.get("total"))
        try:
            line_id = int(item.get("id"))
        except (TypeError, ValueError, OverflowError):
            continue
        if token is None or amount is None or not 0 < line_id <= INT_MAX:
            continue
        scope = item.get("scripthammer_scope")
        m = _SCOPE_ALBUM_RE.match(scope) if isinstance(scope, str) else None
        album = int(m.group(1)) if m and 0 < int(m.group(1)) <= INT_MAX else None
        kind = "tip" if item.get("scripthammer_kind") == "tip" else "purchase"
        out.append(Line(line_id, kind, token[0], token[1], album, amount))
    return out


def check(s: Session, session_id: str, track_id: int, made_at: dt.datetime) -> str | None:
    """Why an attribution does not hold (``unknown_track``, ``not_released``, ``not_played``), or None.
    ``made_at``: when the order was made (UTC, naive)."""
    from companion.catalog.models import Track

    track = s.get(Track, track_id)
    if track is None:
        return "unknown_track"
    if track.release_state not in RELEASED:
        return "not_released"
    played = s.execute(sa.select(PlaybackEvent.event_uid).where(
        PlaybackEvent.session_id == session_id, PlaybackEvent.track_id == track_id, PlaybackEvent.event == "play",
        PlaybackEvent.received_at >= made_at - dt.timedelta(days=WINDOW_DAYS),
        PlaybackEvent.received_at <= made_at + CLOCK_SLACK).limit(1)).first()
    return None if played else "not_played"


def apply_order(s: Session, payload: dict, *, wc_id: int, paid: bool, status: str,
                made_at: dt.datetime | None = None, paid_at: dt.datetime | None = None) -> dict:
    """Make the outcomes of one order match its document: a paid order records each line whose
    attribution holds (once) and revokes the outcomes of lines it no longer has; an order not paid (or
    deleted) revokes them all. ``made_at``/``paid_at``: when the order was made and paid (UTC, naive;
    default now). Returns what happened (``attributed``, ``ignored`` with reasons, ``revoked``)."""
    now = utcnow()
    reason = f"wc-{status or 'unknown'}"[:40]
    live = sa.and_(AttributedOutcome.wc_order_id == wc_id, AttributedOutcome.revoked_at.is_(None))
    if not paid:
        n = s.execute(sa.update(AttributedOutcome).where(live).values(revoked_at=now, revoked_reason=reason)).rowcount
        return {"attributed": [], "revoked": int(n or 0)} if n else {}
    made_at = made_at or now
    paid_at = paid_at or made_at
    currency = payload.get("currency") if isinstance(payload.get("currency"), str) else ""
    currency = currency if _CURRENCY_RE.match(currency) else ""
    attributed, ignored, keep = [], [], []
    # a line recorded before is not checked again (its play may be gone: events are retired, a track withdrawn)
    known = set(s.scalars(sa.select(AttributedOutcome.line_id).where(AttributedOutcome.wc_order_id == wc_id)))
    for line in lines_of(payload):
        why = None if line.line_id in known else check(s, line.session_id, line.track_id, made_at)
        if why is not None:
            ignored.append({"line": line.line_id, "reason": why})
            continue
        album = line.album_id
        if album is not None:
            from companion.catalog.models import Album

            album = album if s.get(Album, album) is not None else None
        insert_ignoring_duplicates(s, AttributedOutcome.__table__, [{
            "wc_order_id": wc_id, "line_id": line.line_id, "kind": line.kind, "track_id": line.track_id,
            "album_id": album, "session_id": line.session_id, "amount_cents": line.amount_cents,
            "currency": currency, "day": paid_at.date(), "recorded_at": now, "revoked_at": None,
            "revoked_reason": None}])
        # paid again after a refund: counted again (the row is kept, its revocation cleared)
        s.execute(sa.update(AttributedOutcome).where(
            AttributedOutcome.wc_order_id == wc_id, AttributedOutcome.line_id == line.line_id,
            AttributedOutcome.revoked_at.is_not(None)).values(revoked_at=None, revoked_reason=None))
        keep.append(line.line_id)
        attributed.append({"line": line.line_id, "kind": line.kind, "track_id": line.track_id})
    q = sa.update(AttributedOutcome).where(live)
    if keep:
        q = q.where(AttributedOutcome.line_id.not_in(keep))
    revoked = int(s.execute(q.values(revoked_at=now, revoked_reason="wc-item-removed")).rowcount or 0)
    out: dict = {}
    if attributed or ignored or revoked:
        out = {"attributed": attributed, "revoked": revoked}
        if ignored:
            out["ignored"] = ignored
    return out


# --- the figures ---------------------------------------------------------------------------------------

#: the daily figures' fields from attributed outcomes (``*_amount``: {currency: amount})
FIELDS = ("tips", "tips_amount", "purchases", "purchases_amount")


def empty() -> dict:
    return {"tips": 0, "tips_amount": {}, "purchases": 0, "purchases_amount": {}}


def daily(s: Session, track_ids: list[int], start: dt.date, end: dt.date) -> dict[str, dict]:
    """Per UTC day (ISO) of the range: the attributed tips and purchases on these tracks (not revoked):
    counts and amounts per currency. Days without any are left out."""
    q = (sa.select(AttributedOutcome.day, AttributedOutcome.kind, AttributedOutcome.currency, sa.func.count(),
                   sa.func.sum(AttributedOutcome.amount_cents))
         .where(AttributedOutcome.track_id.in_(track_ids), AttributedOutcome.day >= start,
                AttributedOutcome.day <= end, AttributedOutcome.revoked_at.is_(None))
         .group_by(AttributedOutcome.day, AttributedOutcome.kind, AttributedOutcome.currency))
    out: dict[str, dict] = collections.defaultdict(empty)
    for d, kind, currency, n, total in s.execute(q):
        key = d.isoformat() if isinstance(d, dt.date) else str(d)
        field = "tips" if kind == "tip" else "purchases"
        row = out[key]
        row[field] += int(n or 0)
        amounts = row[f"{field}_amount"]
        amounts[currency or "?"] = round(amounts.get(currency or "?", 0.0) + int(total or 0) / 100, 2)
    return dict(out)


def merge(rows: list[dict], s: Session, track_ids: list[int], start: dt.date, end: dt.date) -> list[dict]:
    """``rows`` (daily figures, one per day) with the attributed fields set from the outcomes."""
    got = daily(s, track_ids, start, end)
    for r in rows:
        r.update(got.get(r["day"]) or empty())
    return rows


def converted_sessions(s: Session, kind: str, track_ids: set[int]) -> set[str]:
    """The player sessions with an attributed outcome of ``kind`` on these tracks (A/B tests' outcomes)."""
    q = sa.select(AttributedOutcome.session_id).where(
        AttributedOutcome.kind == kind, AttributedOutcome.track_id.in_(track_ids),
        AttributedOutcome.revoked_at.is_(None)).distinct()
    return set(s.scalars(q))
