"""HMAC-SHA256 request signing shared by WordPress and the companion.

The string to sign is ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256(body)`` where PATH is the
request path with its query string. Headers: ``X-ScriptHammer-Timestamp`` (Unix seconds),
``X-ScriptHammer-Nonce`` (16-64 URL-safe characters, used once) and
``X-ScriptHammer-Signature`` (lowercase hex). Requests older or newer than five minutes are
refused, and a nonce seen within the window is a replay.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Callable

WINDOW_SECONDS = 300
_NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")


class SignatureError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def sign(secret: str, method: str, path: str, body: bytes = b"", *, timestamp: int | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """The headers that sign one request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    mac = hmac.new(secret.encode(), string_to_sign(method, path, ts, nonce, body).encode(), hashlib.sha256)
    return {"X-ScriptHammer-Timestamp": ts, "X-ScriptHammer-Nonce": nonce,
            "X-ScriptHammer-Signature": mac.hexdigest()}


def verify(secret: str, method: str, path: str, body: bytes, headers, *,
           remember_nonce: Callable[[str, int], bool], now: float | None = None) -> None:
    """Raise SignatureError unless the headers sign this request, in time, for the first time.

    ``remember_nonce(nonce, ttl)`` stores the nonce and returns False if it was already there.
    """
    if not secret:
        raise SignatureError("signing_disabled", "This companion has no shared secret configured.")
    ts = headers.get("X-ScriptHammer-Timestamp", "")
    nonce = headers.get("X-ScriptHammer-Nonce", "")
    given = headers.get("X-ScriptHammer-Signature", "")
    if not (ts and nonce and given):
        raise SignatureError("signature_missing", "The request is not signed.")
    if not ts.isdigit() or not _NONCE_RE.match(nonce):
        raise SignatureError("signature_malformed", "The signature headers are malformed.")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > WINDOW_SECONDS:
        raise SignatureError("signature_expired", "The signature is outside the five-minute window.")
    expected = hmac.new(secret.encode(), string_to_sign(method, path, ts, nonce, body).encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise SignatureError("signature_invalid", "The signature does not match.")
    if not remember_nonce(nonce, 2 * WINDOW_SECONDS):
        raise SignatureError("signature_replayed", "This signed request was already used.")
