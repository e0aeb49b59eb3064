"""Signed media URLs: ``/media/<key>?exp=<unix>&lid=<principal>&sig=<mac>``.

``mac`` is the first 32 hex digits (128 bits) of HMAC-SHA256 with the delivery secret over
``key + "\\n" + exp + "\\n" + lid``: the signature binds the object, the expiry and who it was
issued to, so changing any of them (another key of the same folder, a later expiry, another
listener) breaks it. ``lid`` names the principal: a listener's id (``l.12``), a band member
(``m.ivory``), a guest token (``g.<token id>``) or WordPress (``s``).

The query string carries everything, so a CDN can pass the URL to the companion (or check it
itself with the same secret) and cache per URL. The delivery secret is
``SCRIPTHAMMER_DELIVERY_SECRET``; without one, a random key is made on first use at
``var/keys/delivery.key`` (mode 0600) and shared by every process on the machine.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import re
import time
from urllib.parse import quote
from companion.keys import machine_key

#: Expiries are rounded up to this many seconds so one listener gets the same URL for a while
#: (browser and CDN caches then work per URL).
EXPIRY_STEP = 60
_LID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_SIG_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclasses.dataclass(frozen=True)
class SignedQuery:
    exp: int
    lid: str
    sig: str

    def query(self) -> str:
        return f"exp={self.exp}&lid={quote(self.lid, safe='.:-_')}&sig={self.sig}"


def expiry(seconds: float, now: float | None = None) -> int:
    """The expiry (Unix seconds) of a URL signed now for at least ``seconds``, rounded up to EXPIRY_STEP."""
    now = time.time() if now is None else now
    return int(math.ceil((now + seconds) / EXPIRY_STEP) * EXPIRY_STEP)


class Signer:
    """Signs and checks media URLs with one secret."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("the delivery secret must be at least 16 bytes")
        self._secret = secret

    def mac(self, key: str, exp: int, lid: str) -> str:
        msg = f"{key}\n{exp}\n{lid}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def sign(self, key: str, lid: str, seconds: float, *, now: float | None = None) -> SignedQuery:
        """A signature for ``key`` issued to ``lid``, valid for at least ``seconds``."""
        if not _LID_RE.match(lid):
            raise ValueError(f"bad principal {lid!r}")
        exp = expiry(seconds, now)
        return SignedQuery(exp, lid, self.mac(key, exp, lid))

    def sign_until(self, key: str, lid: str, exp: int) -> SignedQuery:
        """A signature for ``key`` ending at the same ``exp`` (playlists pass theirs to segments)."""
        return SignedQuery(exp, lid, self.mac(key, exp, lid))

    def check(self, key: str, exp: str | None, lid: str | None, sig: str | None, *,
              now: float | None = None) -> str:
        """"ok", "expired" (a genuine signature past its expiry) or "invalid"."""
        if not exp or not lid or not sig or not (exp.isascii() and exp.isdigit()) or len(exp) > 12 or not _LID_RE.match(lid) \
                or not _SIG_RE.match(sig):
            return "invalid"
        if not hmac.compare_digest(self.mac(key, int(exp), lid), sig):
            return "invalid"
        now = time.time() if now is None else now
        return "ok" if int(exp) > now else "expired"


def delivery_secret(config) -> bytes:
    """The configured delivery secret, or the machine's generated one (var/keys/delivery.key)."""
    if config.delivery_secret:
        return config.delivery_secret.encode()
    return machine_key(config.var_dir, "delivery")


_signers: dict[tuple, Signer] = {}


def signer_for(config) -> Signer:
    """One Signer per configuration (the generated key is read from disk once per process)."""
    ident = (config.delivery_secret, str(config.var_dir))
    signer = _signers.get(ident)
    if signer is None:
        signer = _signers[ident] = Signer(delivery_secret(config))
    return signer
