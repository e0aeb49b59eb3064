"""The ICE servers a WebRTC peer (a listener, a member) uses to reach the session's Janus from behind a
NAT: the TURN server(s) of the deployment (coturn in docker-compose.yml) with short-lived credentials
in coturn's TURN REST API scheme (``use-auth-secret``): the username is ``<expiry>:<who>`` and the
password base64(HMAC-SHA1(static-auth-secret, username)). The secret never leaves the companion; a
credential stops working at its expiry (coturn checks the time in the username)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from companion.config import Config

_WHO = re.compile(r"[^A-Za-z0-9_.@-]")


def turn_urls(config: Config) -> list[str]:
    return [u.strip() for u in str(config.turn_urls or "").split(",") if u.strip()]


def credential(secret: str, who: str, ttl: int, now: float | None = None) -> tuple[str, str, int]:
    """(username, password, expiry as Unix time) for ``who`` (no colon: it separates the expiry)."""
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{_WHO.sub('_', who)[:64] or 'peer'}"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, password, expiry


def ice_servers(config: Config, who: str, now: float | None = None) -> dict:
    """``{"ice_servers": [RTCIceServer...], "expires_at": unix time or None}`` for ``who``: the TURN
    URLs with a credential when a secret is set; without TURN configured, no servers (the peers are
    on one network, or Janus' own public address is enough)."""
    urls = turn_urls(config)
    if not urls:
        return {"ice_servers": [], "expires_at": None}
    if not config.turn_secret:
        stun = [u for u in urls if u.startswith("stun:")]
        return {"ice_servers": [{"urls": stun}] if stun else [], "expires_at": None}
    username, password, expiry = credential(config.turn_secret, who, int(config.turn_ttl), now)
    return {"ice_servers": [{"urls": urls, "username": username, "credential": password}], "expires_at": expiry}
