"""Bench: the ownership log (companion/rights/ledger.py) with 1,000,000 appends.

    .venv/bin/python bench/ledger.py            # 1,000,000 entries
    .venv/bin/python bench/ledger.py --n 100000 # a quicker run

Each append is one edition entry made canonical (sorted-key JSON) and added to the RFC 6962 Merkle
tree (leaf hash, plus the inner nodes it completes). The anchor, in the same run, is the simplest
append-only structure: a hash chain (``h_i = SHA-256(h_(i-1) || entry)``, what a blockchain's links
are), which has no proofs shorter than the chain. Then: a signed tree head, inclusion proofs for
1,000 random entries (their size, raw hashes and as JSON), the time to verify one (median), and a
consistency proof from half the log to all of it.

Last line of stdout: {"append_per_s", "anchor_append_per_s", "proof_bytes", "proof_json_bytes",
"verify_ms", "consistency_bytes", "root_ms", "n", "cpu_s", "wall_s", ...}.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from companion.rights import ledger  # noqa: E402


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def entry(i: int) -> dict:
    return {"kind": "issue", "work": f"composition:{i // 1000}", "number": i % 1000 + 1, "to": f"wp:{i * 7 % 100003}",
            "order": f"wc-order:{i}", "time": "2026-12-01T12:00:00Z"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.n
    entries = [entry(i) for i in range(n)]

    w0, c0 = time.perf_counter(), cpu()
    chain = b"\x00" * 32
    for e in entries:
        chain = hashlib.sha256(chain + ledger.canonical(e)).digest()
    anchor_wall, anchor_cpu = time.perf_counter() - w0, cpu() - c0
    say(f"anchor (hash chain): {n / anchor_wall:,.0f} appends/s")

    log = ledger.MerkleLog()
    w0, c0 = time.perf_counter(), cpu()
    for e in entries:
        log.append(ledger.canonical(e))
    wall, cpu_s = time.perf_counter() - w0, cpu() - c0
    say(f"merkle log: {n / wall:,.0f} appends/s ({cpu_s:.1f} s CPU for {n:,})")

    t = time.perf_counter()
    root = log.root()
    root_ms = (time.perf_counter() - t) * 1000
    key = Ed25519PrivateKey.generate()
    head = ledger.sign_head(key, len(log), root, int(time.time() * 1000))
    assert ledger.head_valid(key.public_key(), head)

    rng = random.Random(13)
    sizes, json_sizes, verify_ms = [], [], []
    for _ in range(1000):
        i = rng.randrange(n)
        proof = log.inclusion(i)
        sizes.append(sum(len(p) for p in proof))
        json_sizes.append(len(json.dumps({"index": i, "proof": [ledger.b64(p) for p in proof]})))
        leaf = ledger.leaf_hash(ledger.canonical(entries[i]))
        t = time.perf_counter()
        ok = ledger.verify_inclusion(leaf, i, n, proof, root)
        verify_ms.append((time.perf_counter() - t) * 1000)
        assert ok
    cons = log.consistency(n // 2 + 1, n)
    assert ledger.verify_consistency(n // 2 + 1, n, log.root(n // 2 + 1), root, cons)
    out = {"append_per_s": round(n / wall), "anchor_append_per_s": round(n / anchor_wall),
           "append_per_cpu_s": round(n / cpu_s), "anchor_append_per_cpu_s": round(n / anchor_cpu),
           "proof_bytes": max(sizes), "proof_json_bytes": max(json_sizes),
           "verify_ms": round(statistics.median(verify_ms), 4), "consistency_bytes": sum(len(p) for p in cons),
           "root_ms": round(root_ms, 3), "n": n, "cpu_s": round(cpu_s, 2), "wall_s": round(wall, 2),
           "anchor_cpu_s": round(anchor_cpu, 2), "cores": os.cpu_count()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
