"""The standalone verifier (verifier/scripthammer_verify.py), run as a separate process in isolated mode
(no PYTHONPATH, another working folder): it needs the band's public key and the files, nothing else.

Logs are made with the companion's own log code (companion/rights/ledger.py), so these tests also
check that two independent implementations of RFC 6962 agree."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.rights import ledger

VERIFIER = Path(__file__).resolve().parents[2] / "verifier" / "scripthammer_verify.py"


class Band:
    def __init__(self, folder: Path):
        self.folder = folder
        self.key = Ed25519PrivateKey.generate()
        self.pub = folder / "band.pub"
        self.pub.write_bytes(self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def log(self, entries: list[dict], ts: int = 1) -> tuple[dict, ledger.MerkleLog]:
        t = ledger.MerkleLog()
        for e in entries:
            t.append(ledger.canonical(e))
        return {"entries": json.loads(json.dumps(entries)), "head": ledger.sign_head(self.key, len(t), t.root(), ts)}, t

    def write(self, name: str, doc) -> Path:
        p = self.folder / name
        p.write_text(json.dumps(doc))
        return p

    def verify(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-I", str(VERIFIER), *args, "--key", str(self.pub)],
                              capture_output=True, text=True, cwd=self.folder, timeout=60)


SERIES = {"kind": "series", "work": "composition:9", "count": 2}
ISSUE1 = {"kind": "issue", "work": "composition:9", "number": 1, "to": "wp:11"}
ISSUE2 = {"kind": "issue", "work": "composition:9", "number": 2, "to": "wp:12"}
MOVE = {"kind": "transfer", "work": "composition:9", "number": 1, "from": "wp:11", "to": "wp:13",
        "consents": {"from": "2026-12-01T10:00:00Z", "to": "2026-12-01T10:05:00Z"}}
GOOD = [SERIES, ISSUE1, ISSUE2, MOVE]
#: a refunded order takes edition 1 back from whoever holds it
REVOKE = {"kind": "revoke", "work": "composition:9", "number": 1, "from": "wp:11", "order": "wc-order:5:1000",
          "reason": "wc-refunded"}


@pytest.fixture
def band(tmp_path):
    return Band(tmp_path)


def test_the_verifier_does_not_import_the_companion():
    tree = ast.parse(VERIFIER.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(n and n.split(".")[0] in ("companion", "jobs") for n in names), names


def test_a_good_log_verifies(band):
    doc, _ = band.log(GOOD)
    r = band.verify("log", str(band.write("log.json", doc)))
    assert r.returncode == 0, r.stderr
    assert "4 entries" in r.stdout


def test_a_tampered_entry_is_caught(band):
    doc, _ = band.log(GOOD)
    doc["entries"][1] = {**ISSUE1, "to": "wp:666"}
    r = band.verify("log", str(band.write("log.json", doc)))
    assert r.returncode == 1 and "do not hash to the signed root" in r.stderr


def test_a_rewritten_log_is_caught_with_an_older_head(band):
    old, _ = band.log(GOOD[:3], ts=1)
    band.write("old-head.json", old["head"])
    # The band rewrites history (edition 1 never went to wp:11) and re-signs: the signature is fine...
    rewritten, _ = band.log([SERIES, {**ISSUE1, "to": "wp:99"}, ISSUE2], ts=2)
    assert band.verify("log", str(band.write("new.json", rewritten))).returncode == 0
    # ...but a fan who kept the older head sees it.
    r = band.verify("log", str(band.folder / "new.json"), "--previous", str(band.folder / "old-head.json"))
    assert r.returncode == 1 and "rewritten" in r.stderr
    honest, _ = band.log(GOOD, ts=3)
    r = band.verify("log", str(band.write("honest.json", honest)), "--previous", str(band.folder / "old-head.json"))
    assert r.returncode == 0, r.stderr


def test_another_key_or_a_bad_signature_is_caught(band, tmp_path):
    doc, _ = band.log(GOOD)
    doc["head"]["signature"] = ledger.b64(Ed25519PrivateKey.generate().sign(b"x"))
    r = band.verify("log", str(band.write("log.json", doc)))
    assert r.returncode == 1 and "not the band's" in r.stderr


@pytest.mark.parametrize("entries,why", [
    ([SERIES, ISSUE1, ISSUE2, {**ISSUE2, "number": 3, "to": "wp:14"}], "beyond its count"),
    ([SERIES, ISSUE1, {**ISSUE1, "to": "wp:14"}], "issued twice"),
    ([SERIES, ISSUE1, {**MOVE, "consents": {"from": "2026-12-01T10:00:00Z"}}], "without both"),
    ([SERIES, ISSUE1, {**MOVE, "from": "wp:12"}], "does not own"),
    ([ISSUE1], "no series"),
    ([SERIES, ISSUE1, {**REVOKE, "from": "wp:99"}], "who does not hold it"),
    ([SERIES, ISSUE1, {**REVOKE, "order": ""}], "without the order"),
    ([SERIES, ISSUE1, REVOKE, REVOKE], "which is not issued"),
    ([SERIES, ISSUE1, REVOKE, {**MOVE, "from": "wp:11"}], "never issued"),
])
def test_a_signed_log_that_breaks_the_edition_rules_is_refused(band, entries, why):
    doc, _ = band.log(entries)
    r = band.verify("log", str(band.write("log.json", doc)))
    assert r.returncode == 1 and why in r.stderr, r.stderr


def _certificate(doc, t, number, older=()):
    size = doc["head"]["size"]
    chain = [{"index": i, "entry": e, "proof": [ledger.b64(p) for p in t.inclusion(i, size)]}
             for i, e in enumerate(doc["entries"]) if e.get("number") == number and e["kind"] != "series"]
    cons = [{"head": h, "proof": [ledger.b64(p) for p in t.consistency(h["size"], size)]} for h in older]
    return {"work": "composition:9", "number": number, "head": doc["head"], "chain": chain, "consistency": cons}


def test_an_edition_certificate_verifies_offline(band):
    old, _ = band.log(GOOD[:2])
    doc, t = band.log(GOOD + [{**ISSUE2, "kind": "transfer", "from": "wp:12", "to": "wp:11",
                               "consents": {"from": "a", "to": "b"}}])
    r = band.verify("edition", str(band.write("cert.json", _certificate(doc, t, 1, [old["head"]]))))
    assert r.returncode == 0, r.stderr
    assert "owner wp:13" in r.stdout and "2 links" in r.stdout


def test_a_revoked_edition_is_issued_again_and_its_chain_verifies(band):
    """A refund's revocation ends an ownership; the number is issued again; the log and the certificate
    verify, and a chain that skips the new issue after the revocation is refused."""
    doc, t = band.log([SERIES, ISSUE1, REVOKE, {**ISSUE1, "to": "wp:14"}])
    r = band.verify("log", str(band.write("log.json", doc)))
    assert r.returncode == 0, r.stderr
    cert = _certificate(doc, t, 1)
    r = band.verify("edition", str(band.write("cert.json", cert)))
    assert r.returncode == 0 and "owner wp:14" in r.stdout and "3 links" in r.stdout, r.stderr
    only_revoked = {**cert, "chain": cert["chain"][:2]}
    r = band.verify("edition", str(band.write("cert2.json", only_revoked)))
    assert r.returncode == 0 and "revoked" in r.stdout, r.stderr
    doc2, t2 = band.log([SERIES, ISSUE1, REVOKE, {**MOVE, "from": None}])
    bad = _certificate(doc2, t2, 1)
    r = band.verify("edition", str(band.write("cert3.json", bad)))
    assert r.returncode == 1 and "not a new issue" in r.stderr


def test_a_forged_proof_or_tampered_certificate_is_caught(band):
    doc, t = band.log(GOOD)
    cert = _certificate(doc, t, 1)
    forged = json.loads(json.dumps(cert))
    p = ledger.unb64(forged["chain"][1]["proof"][0])
    forged["chain"][1]["proof"][0] = ledger.b64(bytes([p[0] ^ 0x80]) + p[1:])
    r = band.verify("edition", str(band.write("forged.json", forged)))
    assert r.returncode == 1 and "not in the signed log" in r.stderr
    tampered = json.loads(json.dumps(cert))
    tampered["chain"][1]["entry"]["to"] = "wp:666"
    r = band.verify("edition", str(band.write("tampered.json", tampered)))
    assert r.returncode == 1 and "not in the signed log" in r.stderr
    dropped = json.loads(json.dumps(cert))
    dropped["chain"] = dropped["chain"][1:]  # a chain that hides the issue
    r = band.verify("edition", str(band.write("dropped.json", dropped)))
    assert r.returncode == 1 and "start with the edition's issue" in r.stderr


def test_a_certificate_against_a_rewritten_log_fails_consistency(band):
    old, _ = band.log(GOOD[:3])
    doc, t = band.log([SERIES, {**ISSUE1, "to": "wp:99"}, ISSUE2, {**MOVE, "from": "wp:99"}])
    cert = _certificate(doc, t, 1)
    cert["consistency"] = [{"head": old["head"], "proof": [ledger.b64(p) for p in t.consistency(3, 4)]}]
    r = band.verify("edition", str(band.write("cert.json", cert)))
    assert r.returncode == 1 and "rewritten" in r.stderr


def test_garbage_input_is_a_clear_failure(band):
    (band.folder / "junk.json").write_text("not json")
    r = band.verify("log", str(band.folder / "junk.json"))
    assert r.returncode == 1 and r.stderr.startswith("FAILED")
    r = band.verify("log", str(band.write("list.json", [1, 2])))
    assert r.returncode == 1 and r.stderr.startswith("FAILED")
