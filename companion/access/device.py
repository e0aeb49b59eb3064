"""Apps sign fans in with the device authorization grant (RFC 8628).

1. The app asks for a code (:func:`start`): a ``device_code`` it keeps secret (256 bits; only its
   SHA-256 is stored) and a ``user_code`` it shows (8 letters of BCDFGHJKLMNPQRSTVWXZ, shown as
   ``XXXX-XXXX``: no vowels, no digits, nothing to confuse).
2. The fan opens the WordPress page (``verification_uri``), signed in, types the code (any case,
   dash or not), sees which app asks and approves or denies. WordPress tells the companion with a
   signed request naming the WordPress user (:func:`look_up`, :func:`decide`): the browser never
   says who the fan is. Wrong codes are counted per WordPress user (:data:`MAX_WRONG_CODES` in
   :data:`WRONG_CODE_WINDOW` seconds, then 429).
3. The app polls the token endpoint (:func:`exchange`) no faster than ``interval`` (``slow_down``
   adds 5 s, as the RFC says); once approved it gets a listener token for that fan (the same kind
   WordPress mints for the embed, so the fan's subscription and purchases apply), once, and a
   refresh token (:func:`refresh`) that mints new listener tokens for ``device_refresh_days``,
   rotated on every use.

Errors of the token endpoint are :class:`DeviceGrantError` (400, with the RFC's ``error``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from companion.access.models import DeviceAuthorization
from companion.access.service import listener_for
from companion.access.tokens import LISTENER_TOKEN_MAX_SECONDS, make_listener_token
from companion.db import utcnow
from companion.errors import InvalidInput, NotFound, ServiceUnavailable, TooManyRequests

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = 900
REFRESH_PREFIX = "shmrt."


class DeviceGrantError(InvalidInput):
    """A token-endpoint error in RFC 8628 / RFC 6749 terms: 400 with ``error`` and ``error_description``
    beside the companion's own ``code`` and ``message`` (the same word)."""

    def __init__(self, error: str, description: str):
        super().__init__(description, code=error)
        self.error = error

    def to_dict(self) -> dict:
        return {**super().to_dict(), "error": self.error, "error_description": self.message}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def clients(config) -> dict[str, str]:
    """The public clients that may ask for a code: client_id -> the name the fan is shown."""
    out = {}
    for item in str(config.device_clients).split(","):
        cid, _, name = item.partition("=")
        if cid.strip():
            out[cid.strip()] = name.strip() or cid.strip()
    return out


def verification_uri(config) -> str:
    if config.device_verification_url:
        return config.device_verification_url
    if not config.wp_url:
        return ""
    return config.wp_url.rstrip("/") + "/?scripthammer_device=1"


def normalize_user_code(raw: object) -> str | None:
    """``"bcdf-ghjk"``, ``"BCDF GHJK"``, ``"bcdfghjk"`` -> ``"BCDFGHJK"``; None when it cannot be a code."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    letters = "".join(ch for ch in raw.upper() if ch not in "- \t")
    if len(letters) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in letters):
        return None
    return letters


def shown(user_code: str) -> str:
    return f"{user_code[:4]}-{user_code[4:]}"


def start(svc, client_id: object) -> dict:
    """A new grant for ``client_id``: the RFC 8628 device authorization response."""
    known = clients(svc.config)
    if not isinstance(client_id, str) or client_id not in known:
        raise DeviceGrantError("invalid_client", "Unknown client_id: this companion does not know that app.")
    uri = verification_uri(svc.config)
    if not uri:
        raise ServiceUnavailable("Apps cannot sign in here: the companion does not know its WordPress site "
                                 "(SCRIPTHAMMER_WP_URL).", code="device_flow_unavailable")
    device_code = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = int(svc.config.device_code_seconds)
    with svc.db.session() as s:
        for _ in range(10):  # a code shown now must name one pending grant
            user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
            clash = s.scalar(sa.select(DeviceAuthorization.id).where(
                DeviceAuthorization.user_code == user_code, DeviceAuthorization.status == "pending",
                DeviceAuthorization.expires_at > now))
            if clash is None:
                break
        s.add(DeviceAuthorization(device_code_hash=_hash(device_code), user_code=user_code, client_id=client_id,
                                  status="pending", interval=int(svc.config.device_poll_interval), created_at=now,
                                  expires_at=now + dt.timedelta(seconds=lifetime), display_name=""))
    sep = "&" if "?" in uri else "?"
    return {"device_code": device_code, "user_code": shown(user_code), "verification_uri": uri,
            "verification_uri_complete": f"{uri}{sep}user_code={shown(user_code)}",
            "expires_in": lifetime, "interval": int(svc.config.device_poll_interval)}


def _count_wrong(svc, wp_user_id: int) -> None:
    key = f"shm:{svc.config.queue_name}:device-wrong:{int(wp_user_id)}"
    try:
        if int(svc.redis.incr(key)) == 1:
            svc.redis.expire(key, WRONG_CODE_WINDOW)
    except Exception as exc:  # fail closed: without the counter, guessing is not limited
        raise ServiceUnavailable("Code checks need Redis, which is unreachable.", code="queue_unavailable") from exc


def _check_not_guessing(svc, wp_user_id: int) -> None:
    key = f"shm:{svc.config.queue_name}:device-wrong:{int(wp_user_id)}"
    try:
        wrong = int(svc.redis.get(key) or 0)
        ttl = int(svc.redis.ttl(key))
    except Exception as exc:
        raise ServiceUnavailable("Code checks need Redis, which is unreachable.", code="queue_unavailable") from exc
    if wrong >= MAX_WRONG_CODES:
        raise TooManyRequests("Too many wrong codes: wait a few minutes and try again.", code="too_many_wrong_codes",
                              details={"retry_after_seconds": max(ttl, 1)})


def _pending(svc, s, wp_user_id: int, raw_code: object) -> DeviceAuthorization:
    """The pending, unexpired grant a fan's typed code names; a wrong code counts against the fan."""
    _check_not_guessing(svc, wp_user_id)
    code = normalize_user_code(raw_code)
    row = None
    if code is not None:
        row = s.scalar(sa.select(DeviceAuthorization).where(
            DeviceAuthorization.user_code == code, DeviceAuthorization.status == "pending",
            DeviceAuthorization.expires_at > utcnow()))
    if row is None:
        _count_wrong(svc, wp_user_id)
        raise NotFound("No app is waiting for this code: check it, or start again in the app (codes last "
                       "a few minutes and work once).", code="device_code_unknown")
    return row


def look_up(svc, wp_user_id: int, raw_code: object) -> dict:
    """Which app waits for this code (for WordPress to show before the fan decides)."""
    with svc.db.session() as s:
        row = _pending(svc, s, wp_user_id, raw_code)
        return {"user_code": shown(row.user_code), "client_id": row.client_id,
                "client_name": clients(svc.config).get(row.client_id, row.client_id),
                "expires_at": row.expires_at.replace(tzinfo=dt.timezone.utc).isoformat()}


def decide(svc, wp_user_id: int, display_name: str, raw_code: object, approve: bool) -> dict:
    """The fan (named by WordPress's signed request) approves or denies the grant their code names."""
    with svc.db.session() as s:
        row = _pending(svc, s, wp_user_id, raw_code)
        now = utcnow()
        done = s.execute(sa.update(DeviceAuthorization).where(
            DeviceAuthorization.id == row.id, DeviceAuthorization.status == "pending").values(
            status="approved" if approve else "denied", wp_user_id=int(wp_user_id) if approve else None,
            display_name=(display_name or "")[:200] if approve else "", decided_at=now))
        if done.rowcount != 1:  # decided meanwhile by another request
            raise NotFound("No app is waiting for this code.", code="device_code_unknown")
        if approve:
            listener_for(s, int(wp_user_id), display_name or "")
        return {"status": "approved" if approve else "denied", "client_id": row.client_id,
                "client_name": clients(svc.config).get(row.client_id, row.client_id)}


def _tokens(svc, wp_user_id: int, display_name: str) -> tuple[dict, str]:
    ttl = LISTENER_TOKEN_MAX_SECONDS
    token = make_listener_token(svc.config.wp_shared_secret, wp_user_id, display_name=display_name, ttl=ttl)
    refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    return ({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "refresh_token": refresh_token,
             "listener": {"wp_user_id": wp_user_id, "display_name": display_name[:60]}}, refresh_token)


def _check_client(svc, client_id: object) -> str:
    if not isinstance(client_id, str) or client_id not in clients(svc.config):
        raise DeviceGrantError("invalid_client", "Unknown client_id.")
    return client_id


def exchange(svc, client_id: object, device_code: object) -> dict:
    """The token endpoint's answer to a poll with ``device_code`` (RFC 8628 section 3.4-3.5)."""
    client_id = _check_client(svc, client_id)
    if not isinstance(device_code, str) or not device_code or len(device_code) > 200:
        raise DeviceGrantError("invalid_request", "device_code is missing.")
    if not svc.config.wp_shared_secret:
        raise ServiceUnavailable("This companion has no shared secret configured.", code="signing_disabled")
    now = utcnow()
    with svc.db.session() as s:
        row = s.scalar(sa.select(DeviceAuthorization).where(DeviceAuthorization.device_code_hash == _hash(device_code)))
        if row is None or row.client_id != client_id:
            raise DeviceGrantError("invalid_grant", "Unknown device_code.")
        if row.status == "used":
            raise DeviceGrantError("invalid_grant", "This device_code has been used: start again.")
        if row.expires_at <= now:
            raise DeviceGrantError("expired_token", "The code expired before the fan approved it: start again.")
        if row.status == "denied":
            raise DeviceGrantError("access_denied", "The fan denied this app.")
        if row.status == "pending":
            if row.last_polled_at is not None and (now - row.last_polled_at).total_seconds() < row.interval:
                row.interval += SLOW_DOWN_STEP
                row.last_polled_at = now
                s.commit()
                raise DeviceGrantError("slow_down", f"Poll at most every {row.interval} seconds.")
            row.last_polled_at = now
            s.commit()
            raise DeviceGrantError("authorization_pending", "The fan has not approved this app yet.")
        # approved: hand out the tokens once (a conditional update, so two racing polls get one)
        body, refresh_token = _tokens(svc, int(row.wp_user_id), row.display_name or "")
        done = s.execute(sa.update(DeviceAuthorization).where(
            DeviceAuthorization.id == row.id, DeviceAuthorization.status == "approved").values(
            status="used", last_polled_at=now, refresh_hash=_hash(refresh_token),
            refresh_expires_at=now + dt.timedelta(days=int(svc.config.device_refresh_days))))
        if done.rowcount != 1:
            raise DeviceGrantError("invalid_grant", "This device_code has been used: start again.")
    return body


def refresh(svc, client_id: object, refresh_token: object) -> dict:
    """A new listener token (and a new refresh token; the old one stops working) for a signed-in app."""
    client_id = _check_client(svc, client_id)
    if not isinstance(refresh_token, str) or not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 200:
        raise DeviceGrantError("invalid_request", "refresh_token is missing.")
    now = utcnow()
    with svc.db.session() as s:
        row = s.scalar(sa.select(DeviceAuthorization).where(DeviceAuthorization.refresh_hash == _hash(refresh_token)))
        if (row is None or row.client_id != client_id or row.status != "used" or row.refresh_expires_at is None
                or row.refresh_expires_at <= now):
            raise DeviceGrantError("invalid_grant", "This refresh token is unknown, used or expired: sign in again.")
        body, new_refresh = _tokens(svc, int(row.wp_user_id), row.display_name or "")
        done = s.execute(sa.update(DeviceAuthorization).where(
            DeviceAuthorization.id == row.id, DeviceAuthorization.refresh_hash == _hash(refresh_token)).values(
            refresh_hash=_hash(new_refresh)))
        if done.rowcount != 1:
            raise DeviceGrantError("invalid_grant", "This refresh token has been used: sign in again.")
    return body


def revoke(svc, wp_user_id: int) -> int:
    """Sign a fan out of every app (WordPress: the user was deleted or reset their password): their
    refresh tokens stop working, and codes they approved but no app has taken yet are void. Access
    tokens already issued end at their expiry (at most an hour). Returns how many grants it ended."""
    with svc.db.session() as s:
        ended = s.execute(sa.update(DeviceAuthorization).where(
            DeviceAuthorization.wp_user_id == int(wp_user_id),
            sa.or_(DeviceAuthorization.refresh_hash.is_not(None), DeviceAuthorization.status == "approved")).values(
            refresh_hash=None, refresh_expires_at=None, status="used")).rowcount
    return int(ended or 0)
