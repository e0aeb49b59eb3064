"""Who is listening: listener tokens become an Identity; every identity has a principal for signed URLs."""
from __future__ import annotations

import datetime as dt

from companion.access.service import listener_for
from companion.access.tokens import read_listener_token
from companion.band.identity import Identity
from companion.db import utcnow

#: A listener's last_seen_at is written at most this often (a page view mints one token, and the
#: player calls the API a few times per page: no write per request).
SEEN_EVERY = dt.timedelta(minutes=5)


def listener_identity(svc, token: str) -> Identity:
    """The fan a WordPress-minted listener token names (their listener row made on first sight).

    Raises Unauthorized (listener_token_invalid, _malformed, _expired, signing_disabled).
    """
    claims = read_listener_token(svc.config.wp_shared_secret, token)
    with svc.db.session() as s:
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
