"""From WooCommerce's orders and subscriptions to entitlements (the access room's rows).

One rule for webhooks and reconciliation alike: :func:`apply_resource` takes an order or a subscription
as WooCommerce's REST API (v3) shows it — a webhook's body is exactly that document — and makes the
listener's entitlements match it:

- an order is *paid* in status ``processing`` or ``completed``: each line item that sells a track or an
  album becomes a ``purchase`` entitlement (source_ref ``wc-order:<id>``, scope ``track:<id>`` or
  ``album:<id>``); a ticket to a premium broadcast (``scripthammer_scope`` ``live:<broadcast id>``, a
  broadcast the companion scheduled; any other is ignored) becomes a ``purchase`` of scope ``live:<id>``; the fixed-term fan membership (without WooCommerce Subscriptions) becomes a
  ``subscription`` entitlement to everything for its number of days. Any other status (refunded,
  cancelled, failed, on-hold, pending, trashed) revokes them. Tips sell nothing. A paid line that
  carries an attribution to a play (``scripthammer_play``) is also recorded as a tip or a purchase
  attributed to that play, and revoked with the order (companion/analytics/attribution.py).
- a subscription is *live* in status ``active`` or ``pending-cancel``: one ``subscription`` entitlement to
  everything (source_ref ``wcs-subscription:<id>``) until its next payment date plus a grace period (or its
  end date); ``on-hold``, ``cancelled``, ``expired`` and the rest revoke it.

Order matters: each resource's ``date_modified_gmt`` is kept (CommerceResource), and a document older
than the one applied is ignored, so a late or replayed "completed" never resurrects a refunded order.
On a tie (same second), a revocation wins.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.access import service as access
from companion.commerce.models import CommerceResource
from companion.commerce.products import scope_of_product, valid_scope
from companion.db import utcnow
from companion.errors import InvalidInput
from companion.schema_fields import INT_MAX

PAID_ORDER = frozenset({"processing", "completed"})
LIVE_SUBSCRIPTION = frozenset({"active", "pending-cancel"})
GRANTED_BY = "woocommerce"


@dataclasses.dataclass(frozen=True)
class Grant:
    """One entitlement a resource gives while it is paid or live."""

    source: str  # purchase | subscription
    scope: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None


@dataclasses.dataclass
class Resource:
    """An order or a subscription, reduced to what entitlements depend on."""

    kind: str  # order | subscription
    wc_id: int
    status: str
    customer_id: int
    modified_at: dt.datetime | None
    grants: list[Grant]
    editions: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (line item id, work)
    licences: list[tuple[int | str, str, str]] = dataclasses.field(default_factory=list)  # (line unit, member, tier)
    bundles: list[dict] = dataclasses.field(default_factory=list)  # bundle line items: granted or refused
    # the order's document, for the tips and purchases attributed to a play (companion/analytics/attribution.py)
    document: dict = dataclasses.field(default_factory=dict)

    @property
    def source_ref(self) -> str:
        return f"wc-order:{self.wc_id}" if self.kind == "order" else f"wcs-subscription:{self.wc_id}"

    @property
    def granting(self) -> bool:
        return self.status in (PAID_ORDER if self.kind == "order" else LIVE_SUBSCRIPTION)


def parse_date(value) -> dt.datetime | None:
    """A WooCommerce ``*_gmt`` date ("2026-12-01T10:00:00", UTC) as a naive UTC datetime; None if empty."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _resource_id(payload) -> int:
    if not isinstance(payload, dict):
        raise InvalidInput("A WooCommerce resource is a JSON object.", code="bad_payload")
    try:
        wc_id = int(payload.get("id"))
    except (TypeError, ValueError, OverflowError):
        wc_id = 0
    if not 0 < wc_id <= INT_MAX:
        raise InvalidInput("The WooCommerce resource has no id.", code="bad_payload")
    return wc_id


def _customer(payload: dict) -> int:
    try:
        customer = int(payload.get("customer_id") or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
    return customer if 0 < customer <= INT_MAX else 0


def _line_items(payload: dict) -> list:
    """The resource's line items (a list in WooCommerce's REST shape; anything else is refused)."""
    items = payload.get("line_items") or []
    if not isinstance(items, list):
        raise InvalidInput("The WooCommerce resource's line_items is not a list.", code="bad_payload")
    return items


def _broadcast_exists(s: Session, scope: str) -> bool:
    from companion.live.models import LiveBroadcast

    broadcast_id = int(scope.split(":", 1)[1])
    return 0 < broadcast_id <= INT_MAX and s.get(LiveBroadcast, broadcast_id) is not None


def _line_scopes(s: Session, payload: dict) -> list[tuple[str, int | None]]:
    """(scope, membership days or None) of each line item that sells something of the band's."""
    out: list[tuple[str, int | None]] = []
    for item in _line_items(payload):
        if not isinstance(item, dict):
            continue
        if "scripthammer_scope" in item:
            scope = valid_scope(item.get("scripthammer_scope"))
        else:  # a line item the plugin did not annotate: the products the companion published
            scope = scope_of_product(s, item.get("variation_id")) or scope_of_product(s, item.get("product_id"))
        if scope is None:
            continue  # a tip, or a product that is not the band's
        if scope.startswith("live:") and not _broadcast_exists(s, scope):
            continue  # a ticket to a broadcast the companion does not know grants nothing
        days = item.get("scripthammer_days")
        days = int(days) if isinstance(days, int) and 0 < days <= 3660 else None
        out.append((scope, days))
    return out


def parse_order(s: Session, payload: dict) -> Resource:
    wc_id = _resource_id(payload)
    paid = parse_date(payload.get("date_paid_gmt")) or parse_date(payload.get("date_created_gmt"))
    grants = []
    for scope, days in _line_scopes(s, payload):
        if days:  # the fixed-term fan membership
            start = paid or utcnow()
            grants.append(Grant("subscription", scope, start, start + dt.timedelta(days=days)))
        else:
            grants.append(Grant("purchase", scope, paid, None))
    bundle_scopes, bundle_licences, bundles = _bundle_lines(payload)
    grants.extend(Grant("purchase", scope, paid, None) for scope in bundle_scopes)
    return Resource("order", wc_id, str(payload.get("status") or ""), _customer(payload),
                    parse_date(payload.get("date_modified_gmt")), _unique(grants), _edition_lines(payload),
                    _licence_lines(payload) + bundle_licences, bundles, document=payload)


#: most items a bundle line item may grant (pricing.validate's limit for a bundle)
MAX_BUNDLE_ITEMS = 500


def _bundle_lines(payload: dict) -> tuple[list[str], list[tuple[str, str, str]], list[dict]]:
    """What each line item selling a bundle grants: the plugin annotates it with ``scripthammer_bundle``
    (the pricing's bundle id) and ``scripthammer_bundle_items`` (every item it grants: ``track:<id>``,
    ``album:<id>``, ``licence:<member>:<tier>``). Returns (track and album scopes, licence units, a report
    per bundle line). A bundle line whose items are not all valid grants **nothing** (all or nothing:
    a fan never gets part of a bundle without anyone noticing); its report says which items were bad.
    Licence units are ``"<line * 1000 + unit>-<item index>"``: one licence per unit and licence item,
    idempotent like a licence product's."""
    from companion.rights.licence_store import parse_item

    scopes: list[str] = []
    licences: list[tuple[str, str, str]] = []
    report: list[dict] = []
    for item in _line_items(payload):
        if not isinstance(item, dict) or "scripthammer_bundle_items" not in item:
            continue
        bundle = item.get("scripthammer_bundle")
        bundle = bundle if isinstance(bundle, str) and 0 < len(bundle) <= 60 else ""
        items = item.get("scripthammer_bundle_items")
        try:
            line, qty = int(item.get("id")), max(1, min(int(item.get("quantity") or 1), 100))
        except (TypeError, ValueError, OverflowError):
            report.append({"bundle": bundle, "refused": "bad_line_item"})
            continue
        if not 0 < line <= INT_MAX // 1000:
            report.append({"bundle": bundle, "refused": "bad_line_item"})
            continue
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BUNDLE_ITEMS:
            report.append({"bundle": bundle, "line": line, "refused": "bad_bundle_items"})
            continue
        bad = [i for i in items if not (isinstance(i, str) and (
            (i.startswith("licence:") and parse_item(i[len("licence:"):]) is not None)
            or (not i.startswith("licence:") and valid_scope(i) not in (None, "all"))))]
        if bad or len(set(items)) != len(items):
            report.append({"bundle": bundle, "line": line, "refused": "bad_bundle_items",
                           "items": [str(b)[:80] for b in bad[:20]] or ["duplicate items"]})
            continue
        for j, i in enumerate(items):
            if i.startswith("licence:"):
                member, tier = parse_item(i[len("licence:"):])
                licences.extend((f"{line * 1000 + u}-{j}", member, tier) for u in range(qty))
            else:
                scopes.append(i)
        report.append({"bundle": bundle, "line": line, "items": list(items), "quantity": qty})
    return scopes, licences, report


def _edition_lines(payload: dict) -> list[tuple[int, str]]:
    """(line item id, work) of each line item selling a numbered edition (``scripthammer_edition``, which
    the plugin adds to edition products' line items; companion/rights issues them)."""
    from companion.rights.service import valid_work

    out = []
    for item in _line_items(payload):
        if isinstance(item, dict) and valid_work(item.get("scripthammer_edition")):
            try:
                line, qty = int(item.get("id")), max(1, min(int(item.get("quantity") or 1), 100))
            except (TypeError, ValueError):
                continue
            out.extend((line * 1000 + i, item["scripthammer_edition"]) for i in range(qty))
    return out


def _licence_lines(payload: dict) -> list[tuple[int, str, str]]:
    """(line unit, member, tier) of each line item selling an algorithm licence
    (``scripthammer_licence: "<member>:<tier>"``, which the plugin adds to licence products' line items;
    companion/rights/licence_store.py issues them). One licence per unit."""
    from companion.rights.licence_store import parse_item

    out = []
    for item in payload.get("line_items") or []:
        parsed = parse_item(item.get("scripthammer_licence")) if isinstance(item, dict) else None
        if parsed is None:
            continue
        try:
            line, qty = int(item.get("id")), max(1, min(int(item.get("quantity") or 1), 100))
        except (TypeError, ValueError):
            continue
        if not 0 < line <= INT_MAX // 1000:
            continue
        out.extend((line * 1000 + i, *parsed) for i in range(qty))
    return out


def parse_subscription(s: Session, payload: dict, *, grace: dt.timedelta) -> Resource:
    wc_id = _resource_id(payload)
    status = str(payload.get("status") or "")
    start = parse_date(payload.get("start_date_gmt")) or parse_date(payload.get("date_created_gmt"))
    next_payment = parse_date(payload.get("next_payment_date_gmt"))
    end = parse_date(payload.get("end_date_gmt"))
    if status == "pending-cancel":  # cancelled by the fan: paid up to its end (Subscriptions sets it)
        ends_at = end or next_payment
    else:
        candidates = [d for d in (next_payment + grace if next_payment else None, end) if d is not None]
        ends_at = min(candidates) if candidates else None
    grants = [Grant("subscription", scope, start, ends_at) for scope, _ in _line_scopes(s, payload)]
    return Resource("subscription", wc_id, status, _customer(payload),
                    parse_date(payload.get("date_modified_gmt")), _unique(grants))


def deleted(kind: str, payload: dict) -> Resource:
    """A resource WooCommerce deleted (or trashed): the webhook body is only {"id": N}."""
    return Resource(kind, _resource_id(payload), "trash", 0, None, [])


def _unique(grants: list[Grant]) -> list[Grant]:
    seen: dict[tuple[str, str], Grant] = {}
    for g in grants:
        seen.setdefault((g.source, g.scope), g)
    return list(seen.values())


def _stale(row: CommerceResource | None, res: Resource) -> bool:
    """Is ``res`` older than what was applied (or as old, and would undo a revocation)?"""
    if row is None or row.modified_at is None or res.modified_at is None:
        return False
    if res.modified_at < row.modified_at:
        return True
    was_granting = row.status in (PAID_ORDER if row.kind == "order" else LIVE_SUBSCRIPTION)
    return res.modified_at == row.modified_at and res.granting and not was_granting


def apply_resource(s: Session, res: Resource, *, via: str = "webhook", config=None) -> dict:
    """Make the entitlements of one order or subscription match ``res``; returns what happened. A paid
    order's edition line items issue editions (once per line and unit; ``config``: whose band key
    signs the ownership log, needed only then)."""
    row = s.scalar(sa.select(CommerceResource).where(CommerceResource.kind == res.kind,
                                                     CommerceResource.wc_id == res.wc_id))
    if _stale(row, res):
        return {"applied": False, "reason": "stale", "status": res.status, "kept": row.status}
    before = _snapshot(s, res.source_ref)
    outcome: dict = {"applied": True, "status": res.status, "granted": [], "revoked": 0}
    if res.granting and res.customer_id > 0 and res.grants:
        listener = access.listener_for(s, res.customer_id)
        for g in res.grants:
            access.upsert(s, listener=listener, source=g.source, source_ref=res.source_ref, scope=g.scope,
                          starts_at=g.starts_at, ends_at=g.ends_at, granted_by=GRANTED_BY, reactivate=True)
            outcome["granted"].append(g.scope)
        for source in ("purchase", "subscription"):
            keep = [g.scope for g in res.grants if g.source == source]
            outcome["revoked"] += access.revoke_other_scopes(s, source=source, source_ref=res.source_ref,
                                                             keep=keep, reason="wc-item-removed")
    else:
        if res.granting and res.customer_id <= 0 and res.grants:
            outcome["reason"] = "guest_checkout"  # no WordPress account: nobody to entitle
        for source in ("purchase", "subscription"):
            outcome["revoked"] += access.revoke(s, source=source, source_ref=res.source_ref,
                                                reason=f"wc-{res.status or 'unknown'}")
    if res.kind == "order":  # tips and purchases attributed to a play: recorded once, revoked with the order
        from companion.analytics import attribution

        doc = res.document
        attributed = attribution.apply_order(s, doc, wc_id=res.wc_id, paid=res.granting, status=res.status,
                                             made_at=parse_date(doc.get("date_created_gmt")),
                                             paid_at=parse_date(doc.get("date_paid_gmt")))
        if attributed:
            outcome["attribution"] = attributed
    if row is None:
        row = CommerceResource(kind=res.kind, wc_id=res.wc_id)
        s.add(row)
    row.status, row.via = res.status, via
    if res.customer_id > 0:
        row.customer_id = res.customer_id
    if res.modified_at is not None:
        row.modified_at = res.modified_at
    row.scopes = [g.scope for g in res.grants]
    s.flush()
    outcome["changed"] = _snapshot(s, res.source_ref) != before
    if res.bundles:
        outcome["bundles"] = res.bundles
    if res.kind == "order" and res.granting and res.customer_id > 0 and res.editions and config is not None:
        from companion.rights.service import issue_for_order

        outcome["editions"] = issue_for_order(s, config, order_id=res.wc_id, wp_user_id=res.customer_id,
                                              lines=res.editions)
    if res.kind == "order" and res.granting and res.customer_id > 0 and res.licences and config is not None:
        from companion.rights import licence_store

        outcome["licences"] = licence_store.issue_for_order(s, config, order_id=res.wc_id,
                                                            wp_user_id=res.customer_id, lines=res.licences)
    elif res.kind == "order" and not res.granting:
        from companion.rights import licence_store

        revoked = licence_store.revoke_for_order(s, order_id=res.wc_id, reason=f"wc-{res.status or 'unknown'}")
        if revoked:
            outcome["licences_revoked"] = revoked
    if res.kind == "order" and not res.granting and config is not None:
        from companion.rights.service import revoke_for_order

        taken_back = revoke_for_order(s, config, order_id=res.wc_id, reason=f"wc-{res.status or 'unknown'}")
        if taken_back:
            outcome["editions_revoked"] = taken_back
    return outcome


def _snapshot(s: Session, source_ref: str) -> set:
    """The entitlements of one source reference, as comparable tuples (what "changed" means)."""
    from companion.access.models import Entitlement

    rows = s.scalars(sa.select(Entitlement).where(Entitlement.source_ref == source_ref)).all()
    return {(r.listener_id, r.source, r.scope, r.starts_at, r.ends_at, r.revoked_at) for r in rows}


def parse(s: Session, kind: str, event: str, payload: dict, *, grace: dt.timedelta) -> Resource:
    """The Resource of one webhook body or REST document."""
    if event == "deleted":
        return deleted(kind, payload)
    if kind == "order":
        return parse_order(s, payload)
    if kind == "subscription":
        return parse_subscription(s, payload, grace=grace)
    raise InvalidInput(f"Unknown WooCommerce resource {kind!r}.", code="bad_resource")
