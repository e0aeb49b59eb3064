"""HMAC-SHA256 request signing shared by WordPress and the companion.

The string to sign is ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256(body)`` where PATH is the
request path with its query string. Headers: ``X-ScriptHammer-Timestamp`` (Unix seconds),
``X-ScriptHammer-Nonce`` (16-64 URL-safe characters, used once) and
``X-ScriptHammer-Signature`` (lowercase hex). Requests older or newer than five minutes are
refused, and a nonce seen within the window is a replay.

Verification is split so that a server reads nothing it need not: :func:`check_headers` looks
only at the headers (secret configured, headers present and well-formed, timestamp inside the
window) and runs before the body is read; the caller then caps the body (the companion:
``Config.signed_body_max_kb``) and :func:`verify_body` checks the HMAC and the nonce.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Callable

from companion.errors import Unauthorized

WINDOW_SECONDS = 300
_NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")


class RequestSignatureError(Unauthorized):
    """A signed request or an upload token that does not hold (401 with a stable code)."""

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)


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


_SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def check_headers(secret: str, headers, *, now: float | None = None) -> tuple[str, str, str]:
    """(timestamp, nonce, signature) when the headers could sign a request now; RequestSignatureError
    otherwise. Reads no body: servers call this before reading one."""
    if not secret:
        raise RequestSignatureError("signing_disabled", "This companion has no shared secret configured.")
    ts = headers.get("X-ScriptHammer-Timestamp", "")
    nonce = headers.get("X-ScriptHammer-Nonce", "")
    given = headers.get("X-ScriptHammer-Signature", "")
    if not (ts and nonce and given):
        raise RequestSignatureError("signature_missing", "The request is not signed.")
    if not (ts.isascii() and ts.isdigit()) or len(ts) > 12 or not _NONCE_RE.match(nonce) or not _SIGNATURE_RE.match(given):
        raise RequestSignatureError("signature_malformed", "The signature headers are malformed.")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > WINDOW_SECONDS:
        raise RequestSignatureError("signature_expired", "The signature is outside the five-minute window.")
    return ts, nonce, given


def verify_body(secret: str, method: str, path: str, body: bytes, signed: tuple[str, str, str], *,
                remember_nonce: Callable[[str, int], bool]) -> None:
    """Check the HMAC over the request (``signed`` from :func:`check_headers`), then use up the nonce.

    ``remember_nonce(nonce, ttl)`` stores the nonce and returns False if it was already there.
    """
    ts, nonce, given = signed
    expected = hmac.new(secret.encode(), string_to_sign(method, path, ts, nonce, body).encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise RequestSignatureError("signature_invalid", "The signature does not match.")
    if not remember_nonce(nonce, 2 * WINDOW_SECONDS):
        raise RequestSignatureError("signature_replayed", "This signed request was already used.")


def verify(secret: str, method: str, path: str, body: bytes, headers, *,
           remember_nonce: Callable[[str, int], bool], now: float | None = None) -> None:
    """Raise RequestSignatureError unless the headers sign this request, in time, for the first time
    (:func:`check_headers` then :func:`verify_body`)."""
    signed = check_headers(secret, headers, now=now)
    verify_body(secret, method, path, body, signed, remember_nonce=remember_nonce)


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
    """The claims of a valid upload token; RequestSignatureError when forged, malformed or expired."""
    import base64
    import json

    if not secret:
        raise RequestSignatureError("signing_disabled", "This companion has no shared secret configured.")
    try:
        _, body, mac = token.split(".", 2)
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, mac.lower()):
            raise RequestSignatureError("upload_token_invalid", "The upload token's signature does not match.")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        track_id, exp = int(claims["t"]), int(claims["exp"])
    except RequestSignatureError:
        raise
    except Exception:
        raise RequestSignatureError("upload_token_malformed", "The upload token is malformed.") from None
    now = time.time() if now is None else now
    if exp < now:
        raise RequestSignatureError("upload_token_expired", "The upload token has expired: reload the editor.")
    if exp - now > UPLOAD_TOKEN_MAX_SECONDS + 5:
        raise RequestSignatureError("upload_token_invalid", "The upload token lives longer than allowed.")
    return {"track_id": track_id, "exp": exp, "user": str(claims.get("u", ""))}


STUDIO_TOKEN_PREFIX = "shmst."
STUDIO_TOKEN_MAX_SECONDS = 3600


def _studio_mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), (STUDIO_TOKEN_PREFIX + body).encode(), hashlib.sha256).hexdigest()


def make_studio_token(secret: str, member: str, *, ttl: int = 900, user: str = "", now: float | None = None) -> str:
    """A short-lived token that signs a band member in to the studio (what WordPress mints at "Open in studio").

    Format: ``shmst.<base64url(JSON {"m": member id, "exp": unix, "n": nonce, "u": login})>.<hex HMAC-SHA256>``,
    the HMAC over ``"shmst." + the base64url part`` (so no other token kind passes for one).
    """
    import base64
    import json

    now = time.time() if now is None else now
    payload = json.dumps({"m": member, "exp": int(now) + min(int(ttl), STUDIO_TOKEN_MAX_SECONDS),
                          "n": secrets.token_urlsafe(12), "u": user[:60]}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{STUDIO_TOKEN_PREFIX}{body}.{_studio_mac(secret, body)}"


def read_studio_token(secret: str, token: str, *, now: float | None = None) -> dict:
    """The claims ``{"member", "exp", "user"}`` of a valid studio token; RequestSignatureError otherwise."""
    import base64
    import json

    if not secret:
        raise RequestSignatureError("signing_disabled", "This companion has no shared secret configured.")
    try:
        prefix_body, mac = token.rsplit(".", 1)
        if not prefix_body.startswith(STUDIO_TOKEN_PREFIX):
            raise ValueError
        body = prefix_body[len(STUDIO_TOKEN_PREFIX):]
        if not hmac.compare_digest(_studio_mac(secret, body), mac.lower()):
            raise RequestSignatureError("studio_token_invalid", "The studio token's signature does not match.")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        member, exp = str(claims["m"]), int(claims["exp"])
    except RequestSignatureError:
        raise
    except Exception:
        raise RequestSignatureError("studio_token_malformed", "The studio token is malformed.") from None
    now = time.time() if now is None else now
    if exp < now:
        raise RequestSignatureError("token_expired", "The studio token has expired: open the studio again from "
                                                     "WordPress.")
    if exp - now > STUDIO_TOKEN_MAX_SECONDS + 5:
        raise RequestSignatureError("studio_token_invalid", "The studio token lives longer than allowed.")
    return {"member": member, "exp": exp, "user": str(claims.get("u", ""))[:60]}
