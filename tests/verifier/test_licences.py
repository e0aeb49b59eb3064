"""Algorithm licences checked offline by the standalone verifier: signature, term, tier, revocation."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.errors import InvalidInput
from companion.rights import licences

VERIFIER = Path(__file__).resolve().parents[2] / "verifier" / "scripthammer_verify.py"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def band(tmp_path):
    key = Ed25519PrivateKey.generate()
    (tmp_path / "band.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def run(tmp_path, doc, *extra):
    (tmp_path / "lic.json").write_text(json.dumps(doc))
    return subprocess.run([sys.executable, "-I", str(VERIFIER), "licence", str(tmp_path / "lic.json"),
                           "--key", str(tmp_path / "band.pub"), *extra], capture_output=True, text=True, timeout=60)


def test_a_licence_verifies_and_its_limits_hold(band, tmp_path):
    lic = licences.issue_licence(band, member="crash", algorithm="polyrhythm", licensee="wp:77",
                                 tier="non-commercial", seats=2, days=30, now=NOW)
    r = run(tmp_path, lic, "--now", "2026-12-10T00:00:00Z")
    assert r.returncode == 0 and "polyrhythm by crash for wp:77" in r.stdout, r.stderr
    r = run(tmp_path, lic, "--now", "2026-12-10T00:00:00Z", "--use", "commercial")
    assert r.returncode == 1 and "non-commercial" in r.stderr
    r = run(tmp_path, lic, "--now", "2027-01-02T00:00:00Z")
    assert r.returncode == 1 and "expired" in r.stderr
    r = run(tmp_path, lic, "--now", "2026-11-01T00:00:00Z")
    assert r.returncode == 1 and "not valid yet" in r.stderr


def test_a_tampered_or_forged_licence_is_refused(band, tmp_path):
    lic = licences.issue_licence(band, member="crash", algorithm="polyrhythm", licensee="wp:77",
                                 tier="non-commercial", now=NOW)
    tampered = json.loads(json.dumps(lic))
    tampered["licence"]["tier"] = "commercial"
    r = run(tmp_path, tampered, "--now", "2026-12-02T00:00:00Z")
    assert r.returncode == 1 and "not signed by the band" in r.stderr
    forged = licences.issue_licence(Ed25519PrivateKey.generate(), member="crash", algorithm="polyrhythm",
                                    licensee="wp:77", tier="commercial", now=NOW)
    r = run(tmp_path, forged, "--now", "2026-12-02T00:00:00Z")
    assert r.returncode == 1 and "not signed by the band" in r.stderr


def test_revocation_through_a_signed_list(band, tmp_path):
    lic = licences.issue_licence(band, member="ivory", algorithm="fractal", licensee="wp:8", tier="commercial",
                                 now=NOW, licence_id="abc123")
    clean = licences.revocation_list(band, ["zzz"], now=NOW)
    (tmp_path / "rev.json").write_text(json.dumps(clean))
    assert run(tmp_path, lic, "--now", "2026-12-02T00:00:00Z", "--revocations", str(tmp_path / "rev.json")).returncode == 0
    (tmp_path / "rev.json").write_text(json.dumps(licences.revocation_list(band, ["zzz", "abc123"], now=NOW)))
    r = run(tmp_path, lic, "--now", "2026-12-02T00:00:00Z", "--revocations", str(tmp_path / "rev.json"))
    assert r.returncode == 1 and "revoked" in r.stderr
    # A list someone edited to un-revoke it is not the band's.
    edited = licences.revocation_list(band, ["abc123"], now=NOW)
    edited["revocations"]["revoked"] = []
    (tmp_path / "rev.json").write_text(json.dumps(edited))
    r = run(tmp_path, lic, "--now", "2026-12-02T00:00:00Z", "--revocations", str(tmp_path / "rev.json"))
    assert r.returncode == 1 and "revocation list is not signed" in r.stderr


def test_bad_licence_terms_are_refused(band):
    for kw, code in (({"tier": "free"}, "bad_tier"), ({"seats": 0}, "bad_seats"), ({"licensee": ""}, "bad_licence")):
        args = dict(member="crash", algorithm="polyrhythm", licensee="wp:77", tier="commercial") | kw
        with pytest.raises(InvalidInput) as err:
            licences.issue_licence(band, **args)
        assert err.value.code == code
