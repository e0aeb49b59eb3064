"""Everything the companion holds about one WordPress user: exported, and erased on request.

WordPress's personal-data tools (Tools → Export / Erase Personal Data) call the companion through the
plugin (wp-plugin/scripthammer/includes/Privacy.php) with the fan's WordPress user id. What is linked
to that id, kind by kind (``KINDS``), and what erasure does with it:

| kind | where | erasure |
|---|---|---|
| account | ``listeners`` (name, first and last seen) | anonymised: the row stays as an empty tombstone (no name, no WordPress id) so its number, which signed URLs and the offline store name derive from, is never given to anyone else |
| entitlements | ``entitlements`` | deleted |
| feedback | ``track_feedback``; approved ones also as fans' comments in ``composition_comments`` | deleted; the composition comment keeps its place in the thread, its author and text replaced by "erased" (the band's replies stay) |
| push | ``push_subscriptions`` | deleted (the browser gets no more pushes) |
| votes | ``live_votes`` (voter ``l.<listener id>``) | deleted; what the votes changed in a session stays (its counts) |
| devices | ``device_authorizations`` | deleted (every app's refresh token ends) |
| downloads | ``rights_deliveries`` (watermarked downloads) and their cached marked files | deleted: a leaked copy no longer leads to the fan |
| orders | ``commerce_resources`` (customer id) and the WooCommerce webhook bodies of those orders | anonymised: the order's number, state and what it sold stay (the shop's record; WooCommerce's own eraser decides about the order), the customer id and the webhook bodies (names, addresses, e-mail) are removed |
| editions, licences | ``rights_editions``, ``rights_transfers``, ``rights_licences`` | retained: owned editions and algorithm licences are the fan's property, recorded in the signed append-only ownership log |

Playback analytics are not linked to anyone: an event's listener is a salted HMAC of the address and
user agent under a salt that changes every UTC day (companion/analytics/ingest.py), so no event can be
found from a WordPress user, and rollups hold counts only. The export says so.

Listener tokens are stateless and live up to an hour; after an erasure a token minted before it cannot
bring the account back (a short-lived mark in Redis, checked when a token names a fan the companion
does not know; companion/access/identity.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import time

import sqlalchemy as sa

from companion.access.identity import ERASED_KEY
from companion.access.models import DeviceAuthorization, Entitlement, Listener
from companion.access.tokens import LISTENER_TOKEN_MAX_SECONDS
from companion.analytics.models import TrackFeedback
from companion.catalog.models import Track
from companion.commerce.models import CommerceResource, WebhookDelivery
from companion.errors import InvalidInput
from companion.live.models import LiveVote
from companion.notify.models import PushSubscription
from companion.rights.models import Delivery, Edition, Licence, Transfer
from companion.studio.models import CompositionComment

log = logging.getLogger(__name__)

#: The largest WordPress user id accepted (WordPress's ID is a BIGINT UNSIGNED; the companion's column an INT).
MAX_WP_USER_ID = 2**31 - 1
#: Export items per page, by default and at most.
PAGE_SIZE, MAX_PAGE_SIZE = 100, 500
ERASED_NAME = "A fan (erased)"
ERASED_TEXT = "(removed at the fan's request)"

#: group id -> (label, description): the groups of WordPress's export.
GROUPS = {
    "scripthammer-account": ("ScriptHammer listener", "Who you are to the band's companion service."),
    "scripthammer-entitlements": ("ScriptHammer access", "What you may hear in full and download, and why."),
    "scripthammer-feedback": ("ScriptHammer reactions and comments",
                              "Timed reactions and comments you left in the player."),
    "scripthammer-push": ("ScriptHammer notifications", "Browsers you asked to notify of releases and broadcasts."),
    "scripthammer-votes": ("ScriptHammer live votes", "Your votes in live sessions."),
    "scripthammer-devices": ("ScriptHammer app sign-ins", "Apps you signed in with a code."),
    "scripthammer-downloads": ("ScriptHammer watermarked downloads", "Downloads marked for you."),
    "scripthammer-orders": ("ScriptHammer orders", "Orders and subscriptions the shop told the companion about."),
    "scripthammer-editions": ("ScriptHammer editions and licences",
                              "Numbered editions and algorithm licences you own."),
    "scripthammer-analytics": ("ScriptHammer listening statistics", "How plays are counted."),
}

ANALYTICS_NOTE = ("Plays, seeks and other listening events are not linked to you: each is stored under a "
                  "pseudonymous id, a keyed hash of the network address and browser under a key that changes "
                  "every day and is deleted after two days. No raw address is stored, and no event can be "
                  "found from your account, so there is nothing of yours to export or erase there.")
OFFLINE_NOTE = ("Tracks saved for offline listening are stored in your browser only (Cache Storage). The "
                "companion keeps no copy of that list; remove them in the player or clear the site's data.")


def check_wp_user_id(value) -> int:
    """A WordPress user id from a request: an integer from 1 to MAX_WP_USER_ID (InvalidInput otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WP_USER_ID:
        raise InvalidInput(f"wp_user_id must be a whole number from 1 to {MAX_WP_USER_ID}.", code="bad_wp_user_id",
                           details={"field": "wp_user_id"})
    return value


def _when(value: dt.datetime | None) -> str:
    return value.replace(microsecond=0).isoformat() + "Z" if value else ""


def _item(group: str, item_id: str, data: dict) -> dict:
    label, description = GROUPS[group]
    return {"group_id": group, "group_label": label, "group_description": description, "item_id": item_id,
            "data": [{"name": k, "value": "" if v is None else str(v)} for k, v in data.items()]}


def _owner(wp_user_id: int) -> str:
    return f"wp:{wp_user_id}"


def _fan_orders(s, wp_user_id: int) -> list[CommerceResource]:
    return list(s.scalars(sa.select(CommerceResource).where(CommerceResource.customer_id == wp_user_id)
                          .order_by(CommerceResource.id)))


def items(svc, wp_user_id: int) -> list[dict]:
    """Every export item of one fan, in a stable order (WordPress's exporter item shape)."""
    wp_user_id = check_wp_user_id(wp_user_id)
    out: list[dict] = []
    with svc.db.session() as s:
        fan = s.scalar(sa.select(Listener).where(Listener.wp_user_id == wp_user_id))
        if fan is not None:
            out.append(_item("scripthammer-account", f"listener-{fan.id}", {
                "WordPress user id": fan.wp_user_id, "Name shown": fan.display_name,
                "First seen": _when(fan.created_at), "Last seen": _when(fan.last_seen_at),
                "Offline saves": OFFLINE_NOTE}))
            mine = sa.select(Entitlement).where(Entitlement.listener_id == fan.id).order_by(Entitlement.id)
            for e in s.scalars(mine):
                out.append(_item("scripthammer-entitlements", f"entitlement-{e.id}", {
                    "Source": e.source, "Reference": e.source_ref, "Covers": e.scope, "From": _when(e.starts_at),
                    "Until": _when(e.ends_at), "Revoked": _when(e.revoked_at),
                    "Revoked because": e.revoked_reason or "", "Granted by": e.granted_by}))
            rows = s.execute(sa.select(TrackFeedback, Track.title).join(Track, Track.id == TrackFeedback.track_id)
                             .where(TrackFeedback.listener_id == fan.id).order_by(TrackFeedback.id))
            for fb, title in rows:
                out.append(_item("scripthammer-feedback", f"feedback-{fb.id}", {
                    "Track": title, "At second": round(fb.position, 1), "Reaction": fb.emoji or "",
                    "Comment": fb.text or "", "Name shown": fb.author_name, "State": fb.state,
                    "Left at": _when(fb.created_at)}))
            for p in s.scalars(sa.select(PushSubscription).where(PushSubscription.listener_id == fan.id)
                               .order_by(PushSubscription.id)):
                out.append(_item("scripthammer-push", f"push-{p.id}", {
                    "Push service address": p.endpoint, "Topics": ", ".join(p.topics or []),
                    "Since": _when(p.created_at), "Last sent": _when(p.last_sent_at)}))
            for v in s.scalars(sa.select(LiveVote).where(LiveVote.voter == f"l.{fan.id}").order_by(LiveVote.id)):
                out.append(_item("scripthammer-votes", f"vote-{v.id}", {
                    "Session": v.session_id, "Round": v.round, "Parameter": v.parameter, "Value": v.value,
                    "Voted at": _when(v.created_at)}))
            rows = s.execute(sa.select(Delivery, Track.title).join(Track, Track.id == Delivery.track_id)
                             .where(Delivery.listener_id == fan.id).order_by(Delivery.id))
            for d, title in rows:
                out.append(_item("scripthammer-downloads", f"delivery-{d.id}", {
                    "Track": title, "Format": d.format, "Order": d.order_ref, "Marked at": _when(d.created_at)}))
        for g in s.scalars(sa.select(DeviceAuthorization).where(DeviceAuthorization.wp_user_id == wp_user_id)
                           .order_by(DeviceAuthorization.id)):
            out.append(_item("scripthammer-devices", f"device-{g.id}", {
                "App": g.client_id, "State": g.status, "Asked at": _when(g.created_at),
                "Decided at": _when(g.decided_at), "Signed in until": _when(g.refresh_expires_at)}))
        for r in _fan_orders(s, wp_user_id):
            out.append(_item("scripthammer-orders", f"{r.kind}-{r.wc_id}", {
                "Kind": r.kind, "Number": r.wc_id, "State": r.status, "Sold": ", ".join(r.scopes or []),
                "Applied at": _when(r.applied_at)}))
        owner = _owner(wp_user_id)
        for ed in s.scalars(sa.select(Edition).where(Edition.owner == owner).order_by(Edition.id)):
            out.append(_item("scripthammer-editions", f"edition-{ed.id}", {
                "Edition": f"{ed.number} of series {ed.series_id}", "Order": ed.order_ref or "",
                "Issued at": _when(ed.issued_at)}))
        for t in s.scalars(sa.select(Transfer).where(sa.or_(Transfer.from_owner == owner, Transfer.to_owner == owner))
                           .order_by(Transfer.id)):
            out.append(_item("scripthammer-editions", f"transfer-{t.id}", {
                "Transfer of edition": t.edition_id, "Direction": "from you" if t.from_owner == owner else "to you",
                "State": t.state, "Offered at": _when(t.offered_at), "Accepted at": _when(t.accepted_at)}))
        for lc in s.scalars(sa.select(Licence).where(Licence.owner == owner).order_by(Licence.issued_at, Licence.id)):
            out.append(_item("scripthammer-editions", f"licence-{lc.id}", {
                "Algorithm licence": f"{lc.member}/{lc.algorithm} ({lc.tier}, {lc.seats} seat(s))",
                "Order": lc.order_ref or "", "Issued at": _when(lc.issued_at), "Expires": _when(lc.expires_at),
                "Revoked": _when(lc.revoked_at)}))
    out.append(_item("scripthammer-analytics", "analytics", {"Listening statistics": ANALYTICS_NOTE}))
    return out


def export(svc, wp_user_id: int, page: int = 1, per_page: int = PAGE_SIZE) -> dict:
    """One page of a fan's export: ``{data, done, page, total}`` (``data`` in WordPress's item shape)."""
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 100_000:
        raise InvalidInput("page must be a whole number from 1.", code="bad_page", details={"field": "page"})
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PAGE_SIZE:
        raise InvalidInput(f"per_page must be a whole number from 1 to {MAX_PAGE_SIZE}.", code="bad_page",
                           details={"field": "per_page"})
    everything = items(svc, wp_user_id)
    start = (page - 1) * per_page
    return {"data": everything[start:start + per_page], "done": start + per_page >= len(everything),
            "page": page, "total": len(everything)}


def erase(svc, wp_user_id: int) -> dict:
    """Erase (or anonymise) everything linked to one fan, in one transaction; idempotent.

    Returns ``{items_removed, items_retained, removed: {kind: n}, retained: {kind: n}, messages}``."""
    wp_user_id = check_wp_user_id(wp_user_id)
    try:  # before the database: a token minted until now cannot make the account again meanwhile
        svc.redis.set(ERASED_KEY.format(wp_user_id), repr(time.time()), ex=LISTENER_TOKEN_MAX_SECONDS + 60)
        marked = True
    except Exception as err:  # noqa: BLE001
        log.warning("privacy: cannot mark the erasure of %s in Redis: %s", wp_user_id, err)
        marked = False
    removed = dict.fromkeys(("account", "entitlements", "feedback", "comments", "push", "votes", "devices", "downloads",
                             "order_customer", "order_payloads"), 0)
    retained = dict.fromkeys(("orders", "editions", "transfers", "licences"), 0)
    files: list[str] = []
    with svc.db.session() as s:
        fan = s.scalar(sa.select(Listener).where(Listener.wp_user_id == wp_user_id).with_for_update())
        if fan is not None:
            lid = fan.id
            comment_ids = [c for c in s.scalars(sa.select(TrackFeedback.comment_id).where(
                TrackFeedback.listener_id == lid, TrackFeedback.comment_id.is_not(None)))]
            if comment_ids:
                removed["comments"] = s.execute(sa.update(CompositionComment).where(
                    CompositionComment.id.in_(comment_ids), CompositionComment.fan.is_(True)).values(
                    author="fan", author_name=ERASED_NAME, body=ERASED_TEXT)).rowcount or 0
            files = [k for k in s.scalars(sa.select(Delivery.key).where(Delivery.listener_id == lid,
                                                                        Delivery.key.is_not(None)))]
            removed["votes"] = s.execute(sa.delete(LiveVote).where(LiveVote.voter == f"l.{lid}")).rowcount or 0
            for kind, model in (("feedback", TrackFeedback), ("push", PushSubscription),
                                ("downloads", Delivery), ("entitlements", Entitlement)):
                removed[kind] = s.execute(sa.delete(model).where(model.listener_id == lid)).rowcount or 0
            # the tombstone: nothing personal, and its number (signed URLs' principal l.<id>, the offline store
            # name) is never reused by another fan (SQLite would reuse the largest id of a deleted row)
            fan.wp_user_id, fan.display_name, fan.last_seen_at = -lid, "", None
            fan.created_at = dt.datetime(1970, 1, 1)
            removed["account"] = 1
        removed["devices"] = s.execute(sa.delete(DeviceAuthorization).where(
            DeviceAuthorization.wp_user_id == wp_user_id)).rowcount or 0
        orders = _fan_orders(s, wp_user_id)
        if orders:
            for kind in ("order", "subscription"):
                ids = [r.wc_id for r in orders if r.kind == kind]
                if ids:
                    removed["order_payloads"] += s.execute(sa.update(WebhookDelivery).where(
                        WebhookDelivery.resource == kind, WebhookDelivery.resource_id.in_(ids),
                        WebhookDelivery.state != "queued").values(payload={}, outcome={})).rowcount or 0
            removed["order_customer"] = s.execute(sa.update(CommerceResource).where(
                CommerceResource.customer_id == wp_user_id).values(customer_id=0)).rowcount or 0
            retained["orders"] = len(orders)
        owner = _owner(wp_user_id)
        retained["editions"] = s.scalar(sa.select(sa.func.count()).select_from(Edition).where(Edition.owner == owner))
        retained["transfers"] = s.scalar(sa.select(sa.func.count()).select_from(Transfer).where(
            sa.or_(Transfer.from_owner == owner, Transfer.to_owner == owner)))
        retained["licences"] = s.scalar(sa.select(sa.func.count()).select_from(Licence).where(Licence.owner == owner))
    for key in files:  # after the commit: a marked copy nobody can be traced from any more
        try:
            svc.store.delete(key)
        except Exception as err:  # noqa: BLE001 - the row is gone; a stray cached file names no one
            log.warning("privacy: cannot delete the marked file %s: %s", key, err)
    messages = []
    if retained["orders"]:
        messages.append(f"{retained['orders']} order(s) or subscription(s) kept without the customer: their number, "
                        "state and what they sold are the shop's record (WooCommerce's own eraser decides about "
                        "the orders themselves).")
    if retained["editions"] or retained["transfers"] or retained["licences"]:
        messages.append(f"{retained['editions']} edition(s), {retained['transfers']} transfer(s) and "
                        f"{retained['licences']} algorithm licence(s) kept: they are property the fan owns, recorded "
                        "in the band's signed append-only ownership log. Transfer or revoke them to end the link.")
    if not marked:
        messages.append("The companion could not reach Redis: a listener token minted before now may still work "
                        "until it expires (at most an hour).")
    messages.append("Listening statistics hold no data linked to the fan (pseudonymous, daily-rotating ids); "
                    "aggregate counts stay.")
    items_removed = sum(v for k, v in removed.items() if k != "order_customer")
    return {"items_removed": items_removed, "items_retained": sum(retained.values()), "removed": removed,
            "retained": retained, "messages": messages, "done": True}
