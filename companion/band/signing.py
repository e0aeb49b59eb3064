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


UPLOAD_TOKEN_PREFIX = "shmup."
UPLOAD_TOKEN_MAX_SECONDS = 900


def make_upload_token(secret: str, track_id: int, *, ttl: int = 600, user: str = "", now: float | None = None) -> str:
    """A short-lived token that lets a browser upload one recording to one track.

    Format: ``shmup.<base64url(JSON {"t": track_id, "exp": unix, "n": nonce, "u": user})>.<hex HMAC-SHA256>``,
    the HMAC taken with the shared secret over the base64url part. WordPress mints these for editors so
    that large files go straight from the browser to the companion, never through PHP.
    """
    import base64
    import json

    now = time.time() if now is None else now
    payload = json.dumps({"t": int(track_id), "exp": int(now) + min(int(ttl), UPLOAD_TOKEN_MAX_SECONDS),
                          "n": secrets.token_urlsafe(9), "u": user[:60]}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{UPLOAD_TOKEN_PREFIX}{body}.{mac}"


def read_upload_token(secret: str, token: str, *, now: float | None = None) -> dict:
    """The claims of a valid upload token; SignatureError when forged, malformed or expired."""
    import base64
    import json

    if not secret:
        raise SignatureError("signing_disabled", "This companion has no shared secret configured.")
    try:
        _, body, mac = token.split(".", 2)
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, mac.lower()):
            raise SignatureError("upload_token_invalid", "The upload token's signature does not match.")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        track_id, exp = int(claims["t"]), int(claims["exp"])
    except SignatureError:
        raise
    except Exception:
        raise SignatureError("upload_token_malformed", "The upload token is malformed.") from None
    now = time.time() if now is None else now
    if exp < now:
        raise SignatureError("upload_token_expired", "The upload token has expired: reload the editor.")
    if exp - now > UPLOAD_TOKEN_MAX_SECONDS + 5:
        raise SignatureError("upload_token_invalid", "The upload token lives longer than allowed.")
    return {"track_id": track_id, "exp": exp, "user": str(claims.get("u", ""))}
