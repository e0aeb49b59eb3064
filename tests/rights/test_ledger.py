"""The Merkle log against RFC 6962's definition, its proofs, signed heads, and the edition rules."""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.errors import Conflict, InvalidInput
from companion.rights import ledger


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1, literally (recursive, on entries)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


ENTRIES = [f"entry {i}".encode() for i in range(70)]


@pytest.fixture(scope="module")
def log():
    t = ledger.MerkleLog()
    for e in ENTRIES:
        t.append(e)
    return t


def test_roots_match_rfc6962_at_every_size(log):
    for n in range(0, len(ENTRIES) + 1):
        assert log.root(n) == mth(ENTRIES[:n]), n


def test_every_inclusion_proof_verifies_and_a_forged_one_does_not(log):
    for size in (1, 2, 3, 7, 8, 9, 31, 64, 70):
        root = log.root(size)
        for i in range(size):
            proof = log.inclusion(i, size)
            leaf = ledger.leaf_hash(ENTRIES[i])
            assert ledger.verify_inclusion(leaf, i, size, proof, root)
            assert not ledger.verify_inclusion(ledger.leaf_hash(b"tampered"), i, size, proof, root)
            if proof:
                forged = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]
                assert not ledger.verify_inclusion(leaf, i, size, forged, root)
            if size > 1:
                assert not ledger.verify_inclusion(leaf, (i + 1) % size, size, proof, root)


def test_consistency_proofs(log):
    for second in (1, 2, 5, 8, 13, 64, 70):
        for first in range(1, second + 1):
            proof = log.consistency(first, second)
            assert ledger.verify_consistency(first, second, log.root(first), log.root(second), proof)
            other = mth(ENTRIES[: first - 1] + [b"rewritten"])
            assert not ledger.verify_consistency(first, second, other, log.root(second), proof)
    assert len(ledger.b64(b"".join(log.consistency(3, 70)))) < 1000


def test_proof_requests_out_of_range_are_refused(log):
    with pytest.raises(InvalidInput):
        log.inclusion(70, 70)
    with pytest.raises(InvalidInput):
        log.consistency(0, 5)
    with pytest.raises(InvalidInput):
        log.root(71)


def test_signed_heads():
    key = Ed25519PrivateKey.generate()
    head = ledger.sign_head(key, 3, b"\x01" * 32, 1700000000000)
    assert ledger.head_valid(key.public_key(), head)
    assert not ledger.head_valid(key.public_key(), {**head, "size": 4})
    assert not ledger.head_valid(Ed25519PrivateKey.generate().public_key(), head)
    assert not ledger.head_valid(key.public_key(), {**head, "signature": "!!"})


def test_edition_rules():
    ed = ledger.Editions()
    for e in ({"kind": "series", "work": "composition:1", "count": 2},
              {"kind": "issue", "work": "composition:1", "number": 1, "to": "wp:5"},
              {"kind": "issue", "work": "composition:1", "number": 2, "to": "wp:6"}):
        ed.check(e)
        ed.apply(e)
    refused = [
        ({"kind": "issue", "work": "composition:1", "number": 3, "to": "wp:7"}, "beyond_edition_count"),
        ({"kind": "issue", "work": "composition:1", "number": 1, "to": "wp:7"}, "already_issued"),
        ({"kind": "issue", "work": "composition:2", "number": 1, "to": "wp:7"}, "no_series"),
        ({"kind": "transfer", "work": "composition:1", "number": 1, "from": "wp:6", "to": "wp:7",
          "consents": {"from": "t", "to": "t"}}, "not_owner"),
        ({"kind": "transfer", "work": "composition:1", "number": 1, "from": "wp:5", "to": "wp:7",
          "consents": {"from": "t"}}, "consent_missing"),
        ({"kind": "series", "work": "composition:1", "count": 5}, "series_exists"),
        ({"kind": "mint"}, "bad_entry"),
    ]
    for entry, code in refused:
        with pytest.raises((Conflict, InvalidInput)) as err:
            ed.check(entry)
        assert err.value.code == code
    assert ed.owner == {"composition:1#1": "wp:5", "composition:1#2": "wp:6"}
