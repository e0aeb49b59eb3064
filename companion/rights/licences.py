"""Algorithm licences: an Ed25519-signed licence file per buyer, and a signed revocation list.

A licence names the member's algorithm, the licensee, the tier (``non-commercial`` or
``commercial``), the seats and the term. It is checked offline with the band's public key
(``verifier/scripthammer_verify.py licence``, which does not import the companion): the signature,
the term, the tier against the intended use, and the latest signed revocation list. A tampered
licence fails its signature; a revoked one is refused once the holder has a list newer than it.
"""
from __future__ import annotations

import datetime as dt
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.errors import InvalidInput
from companion.rights.ledger import b64, canonical

TIERS = ("non-commercial", "commercial")
FORMAT = "scripthammer-licence/1"
REVOCATIONS = "scripthammer-revocations/1"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_licence(key: Ed25519PrivateKey, *, member: str, algorithm: str, licensee: str, tier: str, seats: int = 1,
                  days: int | None = 365, now: dt.datetime | None = None, licence_id: str | None = None) -> dict:
    """A signed licence file (JSON-able). ``days`` None: no end."""
    if tier not in TIERS:
        raise InvalidInput(f"A tier is one of {', '.join(TIERS)}.", code="bad_tier")
    if not 1 <= int(seats) <= 10000:
        raise InvalidInput("Seats are 1 to 10,000.", code="bad_seats")
    if not member or not algorithm or not licensee:
        raise InvalidInput("A licence names a member, an algorithm and a licensee.", code="bad_licence")
    now = now or dt.datetime.now(dt.timezone.utc)
    body = {"format": FORMAT, "id": licence_id or secrets.token_hex(8), "member": member, "algorithm": algorithm,
            "licensee": licensee, "tier": tier, "seats": int(seats), "issued": _iso(now),
            "expires": _iso(now + dt.timedelta(days=days)) if days else None}
    return {"licence": body, "signature": b64(key.sign(canonical(body)))}


def revocation_list(key: Ed25519PrivateKey, revoked: list[str], *, now: dt.datetime | None = None) -> dict:
    """The signed list of revoked licence ids, dated (a holder keeps the newest it has seen)."""
    body = {"format": REVOCATIONS, "issued": _iso(now or dt.datetime.now(dt.timezone.utc)),
            "revoked": sorted(set(revoked))}
    return {"revocations": body, "signature": b64(key.sign(canonical(body)))}
