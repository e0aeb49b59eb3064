"""Listener tokens: WordPress tells the companion which signed-in fan is listening.

Format (docs/signing.md): ``shmls.<body>.<mac>`` where ``body`` is base64url (no padding) of the
JSON ``{"u": wp_user_id, "exp": unix_seconds, "n": nonce, "nm": display_name, "iat": unix_seconds}``
(``iat``, when it was minted, is optional: a token without it counts as minted
LISTENER_TOKEN_MAX_SECONDS before it expires) and ``mac`` is
the lowercase hex HMAC-SHA256, with the shared secret, of ``"shmls." + body`` (the prefix is part
of the MAC, so no other token kind can be passed off as a listener token). A token lives at most
LISTENER_TOKEN_MAX_SECONDS. WordPress mints one per page view for a signed-in user; the embed
carries it in the iframe URL's fragment (``#shl=<token>``), which browsers never send to a server
nor put in a Referer, and the player sends it back as ``Authorization: Bearer <token>``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from companion.errors import Unauthorized

LISTENER_TOKEN_PREFIX = "shmls."
LISTENER_TOKEN_MAX_SECONDS = 3600


def _mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), (LISTENER_TOKEN_PREFIX + body).encode(), hashlib.sha256).hexdigest()


def make_listener_token(secret: str, wp_user_id: int, *, display_name: str = "", ttl: int = 1800,
                        now: float | None = None) -> str:
    """A token naming one WordPress user as the listener (what the plugin mints, in Python)."""
    now = time.time() if now is None else now
    payload = json.dumps({"u": int(wp_user_id), "exp": int(now) + min(int(ttl), LISTENER_TOKEN_MAX_SECONDS),
                          "n": secrets.token_urlsafe(9), "nm": display_name[:60], "iat": int(now)}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{LISTENER_TOKEN_PREFIX}{body}.{_mac(secret, body)}"


def read_listener_token(secret: str, token: str, *, now: float | None = None) -> dict:
    """The claims ``{"wp_user_id", "exp", "display_name", "iat"}`` of a valid token; Unauthorized otherwise."""
    if not secret:
        raise Unauthorized("This companion has no shared secret configured.", code="signing_disabled")
    try:
        prefix_body, mac = token.rsplit(".", 1)
        if not prefix_body.startswith(LISTENER_TOKEN_PREFIX):
            raise ValueError
        body = prefix_body[len(LISTENER_TOKEN_PREFIX):]
        if not hmac.compare_digest(_mac(secret, body), mac.lower()):
            raise Unauthorized("The listener token's signature does not match.", code="listener_token_invalid")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        user, exp = int(claims["u"]), int(claims["exp"])
        iat = int(claims["iat"]) if "iat" in claims else exp - LISTENER_TOKEN_MAX_SECONDS
        if user <= 0:
            raise ValueError
    except Unauthorized:
        raise
    except Exception:
        raise Unauthorized("The listener token is malformed.", code="listener_token_malformed") from None
    now = time.time() if now is None else now
    if exp < now:
        raise Unauthorized("The listener token has expired: reload the page.", code="listener_token_expired")
    if exp - now > LISTENER_TOKEN_MAX_SECONDS + 5:
        raise Unauthorized("The listener token lives longer than allowed.", code="listener_token_invalid")
    return {"wp_user_id": user, "exp": exp, "display_name": str(claims.get("nm", ""))[:60], "iat": iat}
