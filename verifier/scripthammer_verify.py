#!/usr/bin/env python3
"""Verify ScriptHammer's ownership log offline, with the band's public key and nothing else.

Standalone: the Python standard library and ``cryptography`` (for Ed25519); it does not import
the companion. Usage:

    scripthammer_verify.py log LOG.json --key band.pub [--previous HEAD.json ...]
    scripthammer_verify.py edition CERT.json --key band.pub [--previous HEAD.json ...]
    scripthammer_verify.py licence LICENCE.json --key band.pub [--revocations LIST.json] [--use commercial] [--now ISO]

``log``: a whole exported log (``{"entries": [...], "head": {...}}``). Checks the signed tree head,
recomputes the RFC 6962 Merkle root over every entry, replays the edition rules (a series' count,
no edition issued twice or beyond the count, transfers only from the current owner and with both
consents), and, for each older signed head given with ``--previous`` (one a fan or a monitor kept),
that the log still begins with the tree that head signed: a rewritten log fails here even when the
band re-signed it.

``edition``: a certificate for one edition (``{"work", "number", "head", "chain": [{"index",
"entry", "proof"}...], "consistency": [{"head", "proof"}...]}``): each entry of the chain of
custody is proven included in the signed head, the chain runs issue -> transfer -> ... with each
transfer from the previous owner and with both consents (a ``revoke`` from the holder, naming the
refunded order, ends an ownership; only a new issue may follow), and each older head is proven to be a
prefix of this one (consistency proofs).

``licence``: an algorithm licence file: the band's signature over it, its term (at ``--now``, default
the clock), that its tier allows the intended use (``--use``: a non-commercial licence refuses
commercial use), and that the signed revocation list (if given) does not name it.

Exit status 0 and a summary on stdout when everything holds; 1 and the first failure on stderr.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key


class VerifyError(Exception):
    """One check failed."""


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def b64d(s: str) -> bytes:
    try:
        return base64.b64decode(s.encode(), validate=True)
    except (ValueError, AttributeError) as e:
        raise VerifyError(f"not base64: {s!r}") from e


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, bottom-up: pair the nodes of each level, carry the odd one up."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = leaves
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
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
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def load_key(path: str) -> Ed25519PublicKey:
    with open(path, "rb") as f:
        data = f.read()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip()))
    except ValueError as e:
        raise VerifyError(f"{path}: not an Ed25519 public key") from e
    if not isinstance(key, Ed25519PublicKey):
        raise VerifyError(f"{path}: not an Ed25519 public key")
    return key


def check_head(key: Ed25519PublicKey, head: dict, what: str = "tree head") -> tuple[int, bytes]:
    try:
        body = {"size": int(head["size"]), "root": head["root"], "timestamp": int(head["timestamp"])}
        key.verify(b64d(head["signature"]), canonical(body))
    except (KeyError, TypeError, ValueError) as e:
        raise VerifyError(f"{what}: malformed ({e})") from e
    except InvalidSignature as e:
        raise VerifyError(f"{what}: the signature is not the band's") from e
    return body["size"], b64d(body["root"])


class Rules:
    """Edition rules, replayed entry by entry."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.owner: dict[str, str] = {}

    def apply(self, e: dict, where: str) -> None:
        kind = e.get("kind")
        if kind == "series":
            if e.get("work") in self.count:
                raise VerifyError(f"{where}: {e.get('work')} gets a second series")
            if not isinstance(e.get("count"), int) or e["count"] < 1:
                raise VerifyError(f"{where}: a series without a valid count")
            self.count[e["work"]] = e["count"]
        elif kind == "issue":
            work, n = e.get("work"), e.get("number")
            if work not in self.count:
                raise VerifyError(f"{where}: issue of {work}, which has no series")
            if not isinstance(n, int) or not 1 <= n <= self.count[work]:
                raise VerifyError(f"{where}: edition {n} of {work} is beyond its count of {self.count[work]}")
            if f"{work}#{n}" in self.owner:
                raise VerifyError(f"{where}: edition {n} of {work} is issued twice")
            if not e.get("to"):
                raise VerifyError(f"{where}: an issue without an owner")
            self.owner[f"{work}#{n}"] = e["to"]
        elif kind == "transfer":
            ed = f"{e.get('work')}#{e.get('number')}"
            if ed not in self.owner:
                raise VerifyError(f"{where}: transfer of {ed}, never issued")
            if e.get("from") != self.owner[ed]:
                raise VerifyError(f"{where}: transfer of {ed} from {e.get('from')}, who does not own it")
            consents = e.get("consents") or {}
            if not (consents.get("from") and consents.get("to")):
                raise VerifyError(f"{where}: transfer of {ed} without both owners' consent")
            if not e.get("to") or e.get("to") == e.get("from"):
                raise VerifyError(f"{where}: transfer of {ed} to no one new")
            self.owner[ed] = e["to"]
        elif kind == "revoke":
            ed = f"{e.get('work')}#{e.get('number')}"
            if ed not in self.owner:
                raise VerifyError(f"{where}: revocation of {ed}, which is not issued")
            if e.get("from") != self.owner[ed]:
                raise VerifyError(f"{where}: revocation of {ed} from {e.get('from')}, who does not hold it")
            if not e.get("order"):
                raise VerifyError(f"{where}: revocation of {ed} without the order it undoes")
            del self.owner[ed]  # the number may be issued again
        else:
            raise VerifyError(f"{where}: unknown entry kind {kind!r}")


def verify_log(doc: dict, key: Ed25519PublicKey, previous: list[dict]) -> str:
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise VerifyError("the log has no entries list")
    size, root = check_head(key, doc.get("head") or {})
    if size != len(entries):
        raise VerifyError(f"the head signs {size} entries, the log has {len(entries)}")
    leaves = [leaf_hash(canonical(e)) for e in entries]
    if merkle_root(leaves) != root:
        raise VerifyError("the entries do not hash to the signed root (an entry was changed)")
    for i, old in enumerate(previous):
        old_size, old_root = check_head(key, old, f"previous head {i + 1}")
        if old_size > size:
            raise VerifyError(f"previous head {i + 1} signs {old_size} entries, more than the log has now")
        if merkle_root(leaves[:old_size]) != old_root:
            raise VerifyError(f"the log was rewritten: its first {old_size} entries are not the ones "
                              f"previous head {i + 1} signed")
    rules = Rules()
    for i, e in enumerate(entries):
        rules.apply(e, f"entry {i}")
    return f"log OK: {size} entries, {len(rules.owner)} editions issued, {len(previous)} older heads consistent"


def verify_edition(doc: dict, key: Ed25519PublicKey) -> str:
    size, root = check_head(key, doc.get("head") or {})
    work, number = doc.get("work"), doc.get("number")
    chain = doc.get("chain")
    if not isinstance(chain, list) or not chain:
        raise VerifyError("the certificate has no chain of custody")
    owner = None
    last = -1
    for i, link in enumerate(chain):
        try:
            index, entry, proof = int(link["index"]), link["entry"], [b64d(p) for p in link["proof"]]
        except (KeyError, TypeError, ValueError) as e:
            raise VerifyError(f"link {i}: malformed") from e
        if index <= last:
            raise VerifyError(f"link {i}: out of order")
        last = index
        if not verify_inclusion(leaf_hash(canonical(entry)), index, size, proof, root):
            raise VerifyError(f"link {i}: entry {index} is not in the signed log (forged proof or tampered entry)")
        if entry.get("work") != work or entry.get("number") != number:
            raise VerifyError(f"link {i}: about another edition")
        kind = entry.get("kind")
        if owner is None:  # the start, or after a revocation: the edition's (new) issue
            if kind != "issue":
                raise VerifyError("the chain does not start with the edition's issue" if i == 0
                                  else f"link {i}: after a revocation, not a new issue")
            if not entry.get("to"):
                raise VerifyError(f"link {i}: an issue without an owner")
        elif kind == "revoke":
            if entry.get("from") != owner or not entry.get("order"):
                raise VerifyError(f"link {i}: not a revocation from the holder before ({owner}) of an order")
            owner = None
            continue
        else:
            if kind != "transfer" or entry.get("from") != owner:
                raise VerifyError(f"link {i}: not a transfer from the owner before ({owner})")
            consents = entry.get("consents") or {}
            if not (consents.get("from") and consents.get("to")):
                raise VerifyError(f"link {i}: a transfer without both owners' consent")
        owner = entry.get("to")
    for i, c in enumerate(doc.get("consistency") or []):
        old_size, old_root = check_head(key, c.get("head") or {}, f"older head {i + 1}")
        if not verify_consistency(old_size, size, old_root, root, [b64d(p) for p in c.get("proof", [])]):
            raise VerifyError(f"older head {i + 1} is not a prefix of this log (the log was rewritten)")
    holder = f"owner {owner}" if owner is not None else "revoked (not issued now)"
    return f"edition OK: {work} #{number}, {holder}, {len(chain)} links, in a log of {size}"


def _signed(key: Ed25519PublicKey, doc: dict, field: str, what: str) -> dict:
    body = doc.get(field) if isinstance(doc, dict) else None
    if not isinstance(body, dict):
        raise VerifyError(f"not a {what}")
    try:
        key.verify(b64d(doc.get("signature") or ""), canonical(body))
    except InvalidSignature as e:
        raise VerifyError(f"the {what} is not signed by the band (tampered or forged)") from e
    return body


def _when(text: str, what: str):
    import datetime as dt

    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError) as e:
        raise VerifyError(f"{what}: not a time") from e


def verify_licence(doc: dict, key: Ed25519PublicKey, revocations: dict | None, use: str, now) -> str:
    import datetime as dt

    lic = _signed(key, doc, "licence", "licence")
    if lic.get("format") != "scripthammer-licence/1":
        raise VerifyError("not a ScriptHammer licence")
    now = _when(now, "--now") if now else dt.datetime.now(dt.timezone.utc)
    if _when(lic.get("issued"), "issued") > now:
        raise VerifyError("the licence is not valid yet")
    if lic.get("expires") and _when(lic["expires"], "expires") <= now:
        raise VerifyError(f"the licence expired on {lic['expires']}")
    if use == "commercial" and lic.get("tier") != "commercial":
        raise VerifyError("a non-commercial licence does not allow commercial use")
    if revocations is not None:
        rev = _signed(key, revocations, "revocations", "revocation list")
        if lic.get("id") in (rev.get("revoked") or []):
            raise VerifyError(f"licence {lic.get('id')} was revoked (list of {rev.get('issued')})")
    return (f"licence OK: {lic.get('algorithm')} by {lic.get('member')} for {lic.get('licensee')}, "
            f"{lic.get('tier')}, {lic.get('seats')} seat(s), until {lic.get('expires') or 'no end'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("log", "edition", "licence"))
    ap.add_argument("file")
    ap.add_argument("--key", required=True, help="the band's Ed25519 public key (PEM, or raw base64)")
    ap.add_argument("--previous", action="append", default=[], help="an older signed tree head (JSON file)")
    ap.add_argument("--revocations", help="the band's signed revocation list (JSON file), for licences")
    ap.add_argument("--use", choices=("non-commercial", "commercial"), default="non-commercial",
                    help="the intended use, for licences")
    ap.add_argument("--now", help="check a licence's term at this time (YYYY-MM-DDTHH:MM:SSZ)")
    args = ap.parse_args(argv)
    try:
        key = load_key(args.key)
        with open(args.file, encoding="utf-8") as f:
            doc = json.load(f)
        previous = []
        for p in args.previous:
            with open(p, encoding="utf-8") as f:
                previous.append(json.load(f))
        if not isinstance(doc, dict):
            raise VerifyError("not a ScriptHammer log or certificate")
        if args.what == "licence":
            revocations = None
            if args.revocations:
                with open(args.revocations, encoding="utf-8") as f:
                    revocations = json.load(f)
            print(verify_licence(doc, key, revocations, args.use, args.now))
            return 0
        if args.what == "edition" and previous:
            raise VerifyError("an edition certificate carries its older heads with consistency proofs; --previous is for logs")
        msg = verify_log(doc, key, previous) if args.what == "log" else verify_edition(doc, key)
    except (VerifyError, OSError, json.JSONDecodeError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
