"""Web Push message encryption (RFC 8291, aes128gcm of RFC 8188) and VAPID (RFC 8292).

The encryption is http_ece's and the VAPID signature py_vapid's (the two libraries pywebpush is built
on; pywebpush itself is not used to send, because every send goes through the companion's own address
checks, companion/notify/service.py). Checked against RFC 8291's own example (tests/notify/test_push.py)
and against a push-service stand-in that decrypts independently.
"""
from __future__ import annotations

import base64
import os
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import http_ece
from py_vapid import Vapid02

from companion.errors import InvalidInput

#: One record holds the whole message (push services take at most 4096 bytes of body).
RECORD_SIZE = 4096
MAX_PLAINTEXT = 3993  # 4096 - 86 (header with a 65-byte key) - 16 (tag) - 1 (delimiter)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    text = str(text).strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point (65 bytes), as the Push API and VAPID carry keys."""
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def private_key_from_bytes(secret: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from 32 secret bytes (a machine key, or the raw scalar of SCRIPTHAMMER_VAPID_PRIVATE_KEY)."""
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    scalar = int.from_bytes(secret, "big") % (n - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def check_subscription_keys(p256dh: str, auth: str) -> tuple[bytes, bytes]:
    """The browser's public key (65 bytes, on P-256) and auth secret (16 bytes); InvalidInput otherwise."""
    try:
        ua_public = unb64u(p256dh)
        secret = unb64u(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    except Exception:  # noqa: BLE001 - any decoding failure is the caller's bad input
        raise InvalidInput("keys.p256dh must be the browser's P-256 public key (base64url).",
                           code="push_keys_invalid") from None
    if len(ua_public) != 65 or len(secret) != 16:
        raise InvalidInput("keys.p256dh must be 65 bytes and keys.auth 16 bytes (base64url).",
                           code="push_keys_invalid")
    return ua_public, secret


def encrypt(plaintext: bytes, ua_public: bytes, auth_secret: bytes, *,
            as_private: ec.EllipticCurvePrivateKey | None = None, salt: bytes | None = None) -> bytes:
    """The aes128gcm body of a push message for the browser key ``ua_public`` (RFC 8291 section 3.4).

    ``as_private`` and ``salt`` are fresh for every message; they are parameters only so that RFC 8291's
    example can be reproduced.
    """
    if len(plaintext) > MAX_PLAINTEXT:
        raise InvalidInput(f"A push message may be at most {MAX_PLAINTEXT} bytes.", code="push_message_too_large")
    as_private = as_private or ec.generate_private_key(ec.SECP256R1())
    # the header's key id is the sender's public key (http_ece puts it there for aes128gcm with dh)
    return http_ece.encrypt(plaintext, salt=salt or os.urandom(16), private_key=as_private, dh=ua_public,
                            auth_secret=auth_secret, version="aes128gcm", rs=RECORD_SIZE)


def vapid_headers(endpoint: str, private: ec.EllipticCurvePrivateKey, subject: str, *, ttl_seconds: int = 43200,
                  now: float | None = None) -> dict[str, str]:
    """``Authorization: vapid t=<JWT>, k=<public key>`` for ``endpoint``'s push service (RFC 8292)."""
    parts = urlsplit(endpoint)
    now = time.time() if now is None else now
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(now) + min(int(ttl_seconds), 86400),
              "sub": subject}
    return {"Authorization": Vapid02(private_key=private).sign(claims)["Authorization"]}
