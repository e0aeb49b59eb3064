"""Web Push message encryption (RFC 8291, aes128gcm of RFC 8188) and VAPID (RFC 8292), on ``cryptography``.

pywebpush is not among the companion's dependencies; what it does for us is these two small, fully
specified steps, checked against RFC 8291's own example (tests/notify/test_webpush_rfc.py) and
against a push-service stand-in that decrypts independently.
"""
from __future__ import annotations

import base64
import json
import os
import struct
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from companion.errors import InvalidInput

#: One record holds the whole message (push services take at most 4096 bytes of body).
RECORD_SIZE = 4096
MAX_PLAINTEXT = 3993  # 4096 - 86 (header with a 65-byte key) - 16 (tag) - 1 (delimiter)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    text = str(text).strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


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
    salt = salt or os.urandom(16)
    as_public = public_bytes(as_private.public_key())
    ua_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    shared = as_private.exchange(ec.ECDH(), ua_key)
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + ua_public + as_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)  # \x02: the last (only) record
    header = salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public
    return header + record


def vapid_headers(endpoint: str, private: ec.EllipticCurvePrivateKey, subject: str, *, ttl_seconds: int = 43200,
                  now: float | None = None) -> dict[str, str]:
    """``Authorization: vapid t=<JWT>, k=<public key>`` for ``endpoint``'s push service (RFC 8292)."""
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc}"
    now = time.time() if now is None else now
    header = b64u(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
    claims = b64u(json.dumps({"aud": audience, "exp": int(now) + min(int(ttl_seconds), 86400),
                              "sub": subject}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode()
    r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    key = b64u(public_bytes(private.public_key()))
    return {"Authorization": f"vapid t={header}.{claims}.{signature}, k={key}"}
