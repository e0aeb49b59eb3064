"""Web Push: fans' subscriptions (per fan and browser, by topic) and sending to them.

- A subscription belongs to the listener whose token made it; only they can change or remove it.
- An endpoint must be an https URL of a public host (no credentials, no private, loopback or
  link-local address, checked again before every send, so a DNS answer that changed is caught):
  the companion never POSTs to its own network for a fan. ``Config.push_trusted_origins`` names
  exceptions (a local push-service stand-in in tests).
- Sending: one RQ job per subscription and message (jobs/notify.py), retried with the configured
  backoff on 429/5xx/network errors; 404 or 410 from the push service deletes the subscription.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import socket
from urllib.parse import urlsplit

import sqlalchemy as sa

from companion.db import utcnow
from companion.errors import InvalidInput, NotFound, ServiceUnavailable
from companion.notify import webpush
from companion.notify.models import TOPICS, PushSubscription

log = logging.getLogger(__name__)

SEND_FUNC = "jobs.notify.deliver"
ANNOUNCE_FUNC = "jobs.notify.announce"
#: Seconds a push service keeps an undelivered message (TTL header).
MESSAGE_TTL = 24 * 3600


# ---- keys -----------------------------------------------------------------------------------------

def vapid_private(svc):
    """The companion's VAPID key: SCRIPTHAMMER_VAPID_PRIVATE_KEY (base64url raw scalar) or a machine key."""
    raw = svc.config.vapid_private_key
    if raw:
        secret = webpush.unb64u(raw)
    else:
        from companion.keys import machine_key

        secret = machine_key(svc.config.var_dir, "vapid")
    return webpush.private_key_from_bytes(secret)


def public_key(svc) -> str:
    """The applicationServerKey browsers subscribe with (base64url of the uncompressed point)."""
    return webpush.b64u(webpush.public_bytes(vapid_private(svc).public_key()))


# ---- endpoints (SSRF) -----------------------------------------------------------------------------

def _trusted(svc, endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    trusted = {o.strip().rstrip("/").lower() for o in str(svc.config.push_trusted_origins).split(",") if o.strip()}
    return origin in trusted


def _public_address(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    if not infos:
        return False
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not addr.is_global or addr.is_multicast:
            return False
    return True


def check_endpoint(svc, endpoint) -> str:
    """The endpoint if the companion may POST to it; InvalidInput (push_endpoint_refused) otherwise."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1000:
        raise InvalidInput("endpoint must be the push service URL the browser gave (at most 1000 characters).",
                           code="push_endpoint_invalid")
    if _trusted(svc, endpoint):
        return endpoint
    parts = urlsplit(endpoint)
    refused = InvalidInput("The endpoint must be an https URL of a public push service.",
                           code="push_endpoint_refused", details={"endpoint": endpoint[:200]})
    try:
        port = parts.port
    except ValueError:
        raise refused from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or port not in (None, 443):
        raise refused
    host = parts.hostname
    try:  # a literal address must itself be public
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and not literal.is_global:
        raise refused
    if host in {"localhost"} or host.endswith((".localhost", ".local", ".internal")) or not _public_address(host):
        raise refused
    return endpoint


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _topics(value) -> list[str]:
    if value is None:
        return list(TOPICS)
    if not isinstance(value, list) or not value or any(t not in TOPICS for t in value):
        raise InvalidInput(f"topics must be a non-empty list of {', '.join(TOPICS)}.", code="push_topics_invalid",
                           details={"topics": list(TOPICS)})
    return sorted(set(value))


def out(row: PushSubscription) -> dict:
    return {"id": row.id, "endpoint": row.endpoint, "topics": list(row.topics or []),
            "created_at": row.created_at.isoformat() + "Z" if row.created_at else None}


# ---- subscriptions --------------------------------------------------------------------------------

def subscribe(svc, listener_id: int, body: dict) -> tuple[dict, bool]:
    """Store (or update) this browser's subscription for the listener: (subscription, created).

    An endpoint another listener subscribed is answered 409: a browser profile's push subscription is
    one fan's at a time (the other unsubscribes, or the browser makes a new subscription)."""
    from companion.errors import Conflict

    endpoint = check_endpoint(svc, (body or {}).get("endpoint"))
    keys = (body or {}).get("keys") or {}
    if not isinstance(keys, dict):
        raise InvalidInput("keys must be {p256dh, auth} from the browser's subscription.", code="push_keys_invalid")
    webpush.check_subscription_keys(keys.get("p256dh", ""), keys.get("auth", ""))
    topics = _topics((body or {}).get("topics"))
    with svc.db.session() as s:
        row = s.scalar(sa.select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash(endpoint)))
        created = row is None
        if row is None:
            row = PushSubscription(listener_id=listener_id, endpoint=endpoint, endpoint_hash=endpoint_hash(endpoint),
                                   last_error="")
            s.add(row)
        elif row.listener_id != listener_id:
            raise Conflict("This browser's subscription belongs to another fan.", code="push_subscription_taken")
        row.p256dh, row.auth, row.topics = keys["p256dh"], keys["auth"], topics
        s.flush()
        return out(row), created


def list_for(svc, listener_id: int) -> list[dict]:
    with svc.db.session() as s:
        rows = s.scalars(sa.select(PushSubscription).where(PushSubscription.listener_id == listener_id)
                         .order_by(PushSubscription.id))
        return [out(r) for r in rows]


def unsubscribe(svc, listener_id: int, endpoint) -> None:
    """Remove this listener's subscription for ``endpoint``; another fan's is 404 (as if absent)."""
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidInput("endpoint is required.", code="push_endpoint_invalid")
    with svc.db.session() as s:
        row = s.scalar(sa.select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash(endpoint)))
        if row is None or row.listener_id != listener_id:
            raise NotFound("No such subscription of yours.", code="push_subscription_not_found")
        s.delete(row)


# ---- sending --------------------------------------------------------------------------------------

class PushRetry(ServiceUnavailable):
    """The push service did not take the message for now (429, 5xx, network): the job is retried
    (jobs/notify.py turns it into a plain error for RQ)."""

    code = "push_service_unavailable"


def message_for(kind: str, item: dict, base_url: str) -> dict:
    """The notification a fan's service worker shows: {title, body, url, tag, topic}."""
    base = base_url.rstrip("/")
    if kind == "release":
        what = item.get("kind", "track")
        return {"topic": "releases", "title": f"New {what}: {item['title']}",
                "body": f"{item.get('artist') or 'The band'} released {item['title']}.",
                "url": f"{base}/embed/{what}/{item['id']}", "tag": f"release-{what}-{item['id']}"}
    if kind == "broadcast":
        return {"topic": "broadcasts", "title": f"Broadcast: {item['title']}",
                "body": f"Live on {item['starts_at']}.", "url": f"{base}/embed/broadcast/{item['id']}",
                "tag": f"broadcast-{item['id']}"}
    raise InvalidInput(f"unknown announcement kind {kind!r}")


def announce(svc, message: dict) -> int:
    """Queue one delivery job per subscription to ``message['topic']``; how many were queued."""
    from rq import Retry

    with svc.db.session() as s:
        ids = [r.id for r in s.scalars(sa.select(PushSubscription).order_by(PushSubscription.id))
               if message["topic"] in (r.topics or [])]
    intervals = svc.config.retry_intervals
    for sub_id in ids:
        svc.queue_for(SEND_FUNC).enqueue_call(
            SEND_FUNC, args=(sub_id, message), timeout=60, result_ttl=3600, failure_ttl=7 * 86400,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            description=f"push {message.get('tag', '')} to subscription {sub_id}")
    return len(ids)


def enqueue_announcement(svc, kind: str, item: dict) -> None:
    """Hook for the release and broadcast flows: queue the fan-out job. Redis away is logged, not raised
    (the release or broadcast itself is already stored; a missed announcement is not worth failing it)."""
    try:
        message = message_for(kind, item, svc.config.public_url)
        svc.queue_for(ANNOUNCE_FUNC).enqueue_call(ANNOUNCE_FUNC, args=(message,), timeout=120, result_ttl=3600,
                                                  description=f"announce {message['tag']}")
    except Exception:  # noqa: BLE001 - see above
        log.exception("could not queue the push announcement of %s %s", kind, item.get("id"))


def deliver(svc, subscription_id: int, message: dict, *, post=None) -> dict:
    """Send ``message`` to one subscription. 404/410: the subscription is deleted; 429/5xx/network:
    PushRetry (RQ retries with backoff); another 4xx: recorded and given up (retrying would not help)."""
    import requests

    post = post or requests.post
    with svc.db.session() as s:
        row = s.get(PushSubscription, subscription_id)
        if row is None:
            return {"subscription": subscription_id, "sent": False, "why": "gone"}
        endpoint, p256dh, auth = row.endpoint, row.p256dh, row.auth
    check_endpoint(svc, endpoint)  # again: what the name resolves to now
    ua_public, secret = webpush.check_subscription_keys(p256dh, auth)
    payload = json.dumps({k: message[k] for k in ("title", "body", "url", "tag", "topic") if k in message},
                         separators=(",", ":")).encode()
    body = webpush.encrypt(payload, ua_public, secret)
    headers = {"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
               "TTL": str(MESSAGE_TTL), "Urgency": "normal",
               **webpush.vapid_headers(endpoint, vapid_private(svc), svc.config.vapid_subject)}
    try:
        resp = post(endpoint, data=body, headers=headers, timeout=15, allow_redirects=False)
    except requests.RequestException as exc:
        _note(svc, subscription_id, f"network: {type(exc).__name__}")
        raise PushRetry(f"push service unreachable: {type(exc).__name__}") from exc
    status = resp.status_code
    if status in (404, 410):
        with svc.db.session() as s:
            row = s.get(PushSubscription, subscription_id)
            if row is not None:
                s.delete(row)
        return {"subscription": subscription_id, "sent": False, "why": f"expired ({status}): deleted"}
    if status == 429 or status >= 500:
        _note(svc, subscription_id, f"HTTP {status}")
        raise PushRetry(f"push service answered {status}")
    if not 200 <= status < 300:
        _note(svc, subscription_id, f"HTTP {status}: refused")
        return {"subscription": subscription_id, "sent": False, "why": f"refused ({status})"}
    with svc.db.session() as s:
        row = s.get(PushSubscription, subscription_id)
        if row is not None:
            row.last_sent_at, row.last_error = utcnow(), ""
    return {"subscription": subscription_id, "sent": True, "status": status}


def _note(svc, subscription_id: int, error: str) -> None:
    with svc.db.session() as s:
        row = s.get(PushSubscription, subscription_id)
        if row is not None:
            row.last_error = error[:300]
