"""A local push-service STAND-IN (no registry offers a real push service): an HTTP server that takes the
companion's Web Push POSTs the way a push service does, checks the VAPID JWT (RFC 8292) against the
companion's public key and decrypts the aes128gcm body (RFC 8291) with the subscription's private key.

Each endpoint is ``<url>/push/<name>``; ``answers[name]`` is a list of HTTP statuses to give in turn
(201 once they run out). What arrived is in ``received`` (decrypted JSON) and ``refused`` (why not).
"""
from __future__ import annotations

import base64
import json
import os
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(salt, ikm, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


class Browser:
    """What a browser keeps for one subscription: its P-256 key pair and auth secret."""

    def __init__(self, private=None, auth=None):
        self.private = private or ec.generate_private_key(ec.SECP256R1())
        self.auth = auth or os.urandom(16)
        self.public = self.private.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)

    def keys(self) -> dict:
        return {"p256dh": b64u(self.public), "auth": b64u(self.auth)}

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 from the user agent's side (one record)."""
        salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
        as_public = body[21:21 + idlen]
        ciphertext = body[21 + idlen:]
        assert idlen == 65 and rs >= 18 and len(ciphertext) <= rs
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
        shared = self.private.exchange(ec.ECDH(), sender)
        ikm = _hkdf(self.auth, shared, b"WebPush: info\x00" + self.public + as_public, 32)
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        data = padded.rstrip(b"\x00")
        assert data.endswith(b"\x02"), "the last record's delimiter"
        return data[:-1]


def verify_vapid(header: str, audience: str, expected_key: str) -> dict:
    """The JWT claims of ``Authorization: vapid t=..., k=...``; AssertionError says what is wrong."""
    assert header.startswith("vapid "), header
    params = dict(p.strip().split("=", 1) for p in header[len("vapid "):].split(","))
    assert params["k"] == expected_key, "k is not the companion's public key"
    head_b64, claims_b64, sig_b64 = params["t"].split(".")
    head = json.loads(unb64u(head_b64))
    assert head == {"typ": "JWT", "alg": "ES256"}, head
    sig = unb64u(sig_b64)
    assert len(sig) == 64
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(params["k"]))
    try:
        key.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify") from None
    claims = json.loads(unb64u(claims_b64))
    assert claims["aud"] == audience, claims
    assert time.time() < claims["exp"] <= time.time() + 86400, claims
    assert claims["sub"].startswith(("mailto:", "https:")), claims
    return claims


class PushServiceStandIn:
    def __init__(self):
        self.browsers: dict[str, Browser] = {}
        self.answers: dict[str, list[int]] = {}
        self.received: list[dict] = []
        self.refused: list[str] = []
        self.attempts: dict[str, int] = {}
        self.expected_key = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def subscription(self, name: str) -> dict:
        """A PushSubscription JSON as a browser would hand it over, for endpoint ``name``."""
        self.browsers[name] = Browser()
        return {"endpoint": f"{self.url}/push/{name}", "keys": self.browsers[name].keys()}

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                name = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.attempts[name] = outer.attempts.get(name, 0) + 1
                queue = outer.answers.get(name) or []
                status = queue.pop(0) if queue else 201
                if status == 201:
                    try:
                        assert self.headers["Content-Encoding"] == "aes128gcm"
                        assert int(self.headers["TTL"]) > 0
                        verify_vapid(self.headers["Authorization"], outer.url, outer.expected_key)
                        plain = outer.browsers[name].decrypt(body)
                        outer.received.append({"endpoint": name, "message": json.loads(plain)})
                    except Exception as exc:  # noqa: BLE001 - a refusal the test reads
                        outer.refused.append(f"{name}: {exc!r}")
                        status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()
