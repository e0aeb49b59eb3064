"""The ownership log: an append-only transparency log in the style of RFC 6962 (Certificate Transparency).

* Leaves are entries (canonical JSON: sorted keys, no spaces); a leaf's hash is
  ``SHA-256(0x00 || entry)``, an inner node's ``SHA-256(0x01 || left || right)``; the tree over n
  leaves splits at the largest power of two below n (RFC 6962 section 2.1).
* :class:`MerkleLog` keeps the hash of every complete aligned subtree, so an append costs two
  hashes on average, a root or a proof O(log n) hashes.
* Inclusion proofs (``PATH``) and consistency proofs (``PROOF``) as RFC 6962 2.1.1 and 2.1.2;
  their verification (RFC 9162 2.1.3.2 and 2.1.4.2) is here and, independently, in the standalone verifier ``verifier/scripthammer_verify.py``.
* Tree heads ``{"size", "root", "timestamp"}`` are signed with the band's Ed25519 key.
* Entries about editions (:func:`check_entry`): ``issue`` (a numbered edition of a work, never beyond
  the series' count and never twice) and ``transfer`` (from its current owner to another, carrying
  both parties' consents). A log that breaks these rules is refused by the verifier.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from companion.errors import Conflict, InvalidInput

_sha = hashlib.sha256


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # made once, not per entry


def canonical(obj: Any) -> bytes:
    """The one byte form of an entry or a tree head: JSON, sorted keys, no spaces, UTF-8."""
    return _CANONICAL.encode(obj).encode()


def leaf_hash(entry: bytes) -> bytes:
    return _sha(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleLog:
    """Leaf hashes and every complete aligned subtree's hash; roots and proofs of any size."""

    def __init__(self, leaves: Iterable[bytes] = ()):
        self.levels: list[list[bytes]] = [[]]
        for h in leaves:
            self.append_hash(h)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append_hash(self, h: bytes) -> int:
        """Add a leaf hash; its index."""
        index = len(self.levels[0])
        self.levels[0].append(h)
        level, i = 0, index
        while i & 1:  # this leaf completes subtrees upwards
            if len(self.levels) == level + 1:
                self.levels.append([])
            up = self.levels[level + 1]
            up.append(node_hash(self.levels[level][i - 1], self.levels[level][i]))
            level, i = level + 1, i >> 1
        return index

    def append(self, entry: bytes) -> int:
        return self.append_hash(leaf_hash(entry))

    def _range(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi)."""
        n = hi - lo
        if n == 0:
            return _sha(b"").digest()
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self._range(lo, lo + k), self._range(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = len(self) if size is None else size
        if not 0 <= size <= len(self):
            raise InvalidInput(f"the log has {len(self)} entries, not {size}", code="bad_tree_size")
        return self._range(0, size)

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size])."""
        size = len(self) if size is None else size
        if not 0 <= index < size <= len(self):
            raise InvalidInput("no such entry in a tree of that size", code="bad_proof_request")
        out: list[bytes] = []

        def path(m: int, lo: int, hi: int) -> None:
            n = hi - lo
            if n <= 1:
                return
            k = _split(n)
            if m < k:
                path(m, lo, lo + k)
                out.append(self._range(lo + k, hi))
            else:
                path(m - k, lo + k, hi)
                out.append(self._range(lo, lo + k))

        path(index, 0, size)
        return out

    def consistency(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(first, D[0:second])."""
        second = len(self) if second is None else second
        if not 0 < first <= second <= len(self):
            raise InvalidInput("consistency needs 0 < first <= second <= size", code="bad_proof_request")
        out: list[bytes] = []

        def sub(m: int, lo: int, hi: int, whole: bool) -> None:
            n = hi - lo
            if m == n:
                if not whole:
                    out.append(self._range(lo, hi))
                return
            k = _split(n)
            if m <= k:
                sub(m, lo, lo + k, whole)
                out.append(self._range(lo + k, hi))
            else:
                sub(m - k, lo + k, hi, False)
                out.append(self._range(lo, lo + k))

        sub(first, 0, second, True)
        return out


# --- verification (RFC 9162), shared by the companion; the standalone verifier has its own copy ---

def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    proof = list(proof)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# --- signed tree heads ----------------------------------------------------------------------------

def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def unb64(s: str) -> bytes:
    return base64.b64decode(s.encode(), validate=True)


def sign_head(key: Ed25519PrivateKey, size: int, root: bytes, timestamp: int) -> dict:
    head = {"size": size, "root": b64(root), "timestamp": timestamp}
    return {**head, "signature": b64(key.sign(canonical(head)))}


def head_valid(pub: Ed25519PublicKey, head: dict) -> bool:
    body = {k: head[k] for k in ("size", "root", "timestamp")}
    try:
        pub.verify(unb64(head["signature"]), canonical(body))
        return True
    except (InvalidSignature, ValueError, KeyError):
        return False


# --- edition rules --------------------------------------------------------------------------------

def consent_message(edition: str, from_owner: str, to_owner: str) -> bytes:
    """What each party of a transfer agrees to (the band records both consents it witnessed)."""
    return canonical({"edition": edition, "from": from_owner, "to": to_owner})


class Editions:
    """The state the entries build: each series' count, each edition's owner. :meth:`check` refuses
    an entry that breaks a rule (nothing changes); :meth:`apply` applies a checked one."""

    def __init__(self) -> None:
        self.series: dict[str, int] = {}  # work -> edition count
        self.owner: dict[str, str] = {}  # "work#number" -> owner

    def check(self, e: dict) -> None:
        kind = e.get("kind")
        if kind == "series":
            if not isinstance(e.get("work"), str) or not isinstance(e.get("count"), int) or e["count"] < 1:
                raise InvalidInput("a series names a work and a count of at least 1", code="bad_entry")
            if e["work"] in self.series:
                raise Conflict(f"{e['work']} already has editions", code="series_exists")
        elif kind == "issue":
            work, number, owner = e.get("work"), e.get("number"), e.get("to")
            if work not in self.series:
                raise InvalidInput(f"{work} has no editions", code="no_series")
            if not isinstance(number, int) or not 1 <= number <= self.series[work]:
                raise Conflict(f"{work} has {self.series[work]} editions; there is no number {number}",
                               code="beyond_edition_count", details={"count": self.series[work]})
            if f"{work}#{number}" in self.owner:
                raise Conflict(f"edition {number} of {work} is already issued", code="already_issued")
            if not isinstance(owner, str) or not owner:
                raise InvalidInput("an issue names its owner", code="bad_entry")
        elif kind == "transfer":
            ed = f"{e.get('work')}#{e.get('number')}"
            if ed not in self.owner:
                raise InvalidInput(f"edition {ed} was never issued", code="not_issued")
            frm, to = e.get("from"), e.get("to")
            if frm != self.owner[ed]:
                raise Conflict(f"{frm} does not own {ed}", code="not_owner")
            if not isinstance(to, str) or not to or to == frm:
                raise InvalidInput("a transfer goes to another owner", code="bad_entry")
            consents = e.get("consents") or {}
            if not (consents.get("from") and consents.get("to")):
                raise InvalidInput("a transfer needs both owners' consent", code="consent_missing")
        elif kind == "revoke":  # the order that paid for it was refunded or cancelled
            ed = f"{e.get('work')}#{e.get('number')}"
            if ed not in self.owner:
                raise InvalidInput(f"edition {ed} is not issued", code="not_issued")
            if e.get("from") != self.owner[ed]:
                raise Conflict(f"{e.get('from')} does not hold {ed}", code="not_owner")
            if not isinstance(e.get("order"), str) or not e["order"]:
                raise InvalidInput("a revocation names the order it undoes", code="bad_entry")
        else:
            raise InvalidInput(f"unknown entry kind {kind!r}", code="bad_entry")

    def apply(self, e: dict) -> None:
        if e["kind"] == "series":
            self.series[e["work"]] = e["count"]
        elif e["kind"] == "revoke":  # the number is free to be issued again
            del self.owner[f"{e['work']}#{e['number']}"]
        else:
            self.owner[f"{e['work']}#{e['number']}"] = e["to"]
