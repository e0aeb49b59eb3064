"""Who is listening: listener tokens become an Identity; every identity has a principal for signed URLs."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from companion.access.models import Listener
from companion.access.service import listener_for
from companion.access.tokens import read_listener_token
from companion.band.identity import Identity
from companion.db import utcnow
from companion.errors import Unauthorized

#: A listener's last_seen_at is written at most this often (a page view mints one token, and the
#: player calls the API a few times per page: no write per request).
SEEN_EVERY = dt.timedelta(minutes=5)
#: Redis mark of a fan's erasure (companion/privacy; value: unix time), kept as long as a listener token lives.
ERASED_KEY = "sh:privacy:erased:{}"
log = logging.getLogger(__name__)


def was_erased(svc, wp_user_id: int, issued_at: float) -> bool:
    """Whether a listener token issued at ``issued_at`` (unix seconds) predates an erasure of its fan.

    Fails open when Redis cannot be asked (the account itself is already gone from the database)."""
    try:
        value = svc.redis.get(ERASED_KEY.format(int(wp_user_id)))
    except Exception as err:  # noqa: BLE001 - any Redis failure: log and let the token through
        log.warning("privacy: cannot read the erasure mark of %s: %s", wp_user_id, err)
        return False
    return value is not None and issued_at <= float(value)


def listener_identity(svc, token: str) -> Identity:
    """The fan a WordPress-minted listener token names (their listener row made on first sight).

    Raises Unauthorized (listener_token_invalid, _malformed, _expired, _revoked, signing_disabled).
    A token minted before the fan's data was erased (companion/privacy) cannot make their account again.
    """
    claims = read_listener_token(svc.config.wp_shared_secret, token)
    with svc.db.session() as s:
        known = s.scalar(sa.select(Listener.id).where(Listener.wp_user_id == claims["wp_user_id"]))
        if known is None:
            if was_erased(svc, claims["wp_user_id"], claims["iat"]):
                raise Unauthorized("This listener token was minted before the fan's data was erased: reload the page.",
                                   code="listener_token_revoked")
        listener = listener_for(s, claims["wp_user_id"], claims["display_name"])
        now = utcnow()
        if listener.last_seen_at is None or now - listener.last_seen_at > SEEN_EVERY:
            listener.last_seen_at = now
        listener_id, name = listener.id, listener.display_name or f"listener {listener.wp_user_id}"
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc).replace(tzinfo=None)
    return Identity(kind="listener", role="listener", member_id=None, name=name,
                    rights=svc.band.rights_of("listener"),
                    scopes={"listener_id": listener_id, "wp_user_id": claims["wp_user_id"]}, expires_at=expires)


def listener_id_of(ident: Identity) -> int | None:
    """The Listener row id of a listener-token identity (None for everyone else)."""
    if ident.kind != "listener":
        return None
    value = ident.scopes.get("listener_id")
    return int(value) if value is not None else None


def principal_of(ident: Identity) -> str | None:
    """Who signed URLs are issued to: ``l.<listener>``, ``m.<member>``, ``g.<token>``, ``s``; None: nobody."""
    listener = listener_id_of(ident)
    if listener is not None:
        return f"l.{listener}"
    if ident.kind == "member" and ident.member_id:
        return f"m.{ident.member_id}"
    if ident.role == "guest" and ident.token_id:
        return f"g.{ident.token_id}"
    if ident.role == "service":
        return "s"
    return None
