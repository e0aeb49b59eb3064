"""Credits in SHF bundles: a release's split sheet and per-note provenance summary travel in the bundle
(credits/credits.json, credits/split-sheet.csv), listed and hashed in the signed manifest; the reader
and `scripthammer shf verify` show them; a tampered credits file fails verification.

Real parts: the band's seven algorithms generate into a real git store and Reed edits a measure by
hand (tests/rights/test_credits.py's piece), the version is rendered, the bundle built and signed."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from companion.shf import spec
from companion.shf.cli import shf
from companion.shf.keys import public_hex
from companion.shf.reader import open_bundle
from tests.rights.test_credits import HAND_QUARTERS, _piece
from tests.shf.conftest import rewrite


@pytest.fixture(scope="module")
def credited(tmp_path_factory):
    """(bundle path, credits as computed, head commit) of the band's piece with one hand edit."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from companion.band.roster import load_band
    from companion.compositions.store import Store
    from companion.config import Config
    from companion.render.service import RenderSettings, render_version
    from companion.rights import credits as C
    from companion.shf.build import build_from_store
    from companion.storage import open_store

    d = tmp_path_factory.mktemp("shf-credits")
    band = load_band(Config(var_dir=d).band_file)
    comps = Store(d / "compositions")
    ids = _piece(comps, band)
    repo = comps.repo("blue-dot")
    head = str(comps.resolve(repo, "main").id)
    files = comps.read_files(repo, comps.resolve(repo, head))
    objects = open_store(Config(var_dir=d))
    manifest = render_version(objects, files, d / "work", RenderSettings())
    key = Ed25519PrivateKey.generate()
    members = C.bundle_credits(comps, band, "blue-dot", head, iswc="T0345246801")
    path = build_from_store(objects, files, manifest, d / "blue-dot.shf", key, d / "work",
                            composition_ref={"id": "blue-dot", "commit": head}, musicxml=False, credits=members)
    return {"path": path, "credits": C.compute(comps, band, "blue-dot", head), "head": head, "ids": ids, "key": key,
            "members": members}


def test_the_bundle_carries_the_releases_credits_under_its_signature(credited):
    with open_bundle(credited["path"]) as b:
        names = b.verify_all()
        assert {spec.CREDITS_JSON, spec.CREDITS_CSV} <= set(names)
        assert b.files[spec.CREDITS_JSON]["role"] == "credits"
        sig = b.signature({})
        assert sig.present and sig.valid  # the manifest listing the credits' hashes is what is signed
        assert b.manifest["credits"] == {"file": spec.CREDITS_JSON, "split_sheet": spec.CREDITS_CSV,
                                         "composition": "blue-dot", "version": credited["head"]}
        doc = b.credits()
        summary = b.summary()
    expected = credited["credits"]
    assert doc["shares"] == expected["shares"] and doc["performers"] == expected["performers"]
    assert doc["version"]["id"] == credited["head"] and doc["iswc"] == "T0345246801"
    assert sum(Fraction(s["share_exact"]) for s in doc["shares"]) == 1
    # the per-note provenance, folded: Reed's hand-written measure 2 of the sax, and a generated guitar
    hand = [r for r in doc["provenance_summary"] if r["kind"] == "hand"]
    assert [(r["part"], r["member"], r["commit"], Fraction(r["quarters"]), r["notes"], r["first_measure"])
            for r in hand] == [("sax", "reed", credited["ids"]["edit"], HAND_QUARTERS, 3, 2)]
    guitar = [r for r in doc["provenance_summary"] if r["part"] == "guitar"]
    assert guitar and all(r["kind"] == "generated" and r["algorithm"] == "chops/chops-guitar" and r["seed"] == 5
                          for r in guitar)
    assert sum(r["notes"] for r in doc["provenance_summary"]) == expected["notes"]
    assert summary["credits"]["version"] == credited["head"]


def test_the_split_sheet_in_the_bundle_is_the_releases(credited):
    from companion.rights.credits import split_csv

    with open_bundle(credited["path"]) as b:
        sheet = b.read(spec.CREDITS_CSV).decode()
    assert sheet == split_csv(credited["credits"], "T0345246801")
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert {r["member"] for r in rows} == {s["member"] for s in credited["credits"]["shares"]}
    assert all(r["version"] == credited["head"] and r["iswc"] == "T0345246801" for r in rows)


def _inflate_reed(name: str, data: bytes) -> bytes:
    """A forger's edit: Reed's share raised to 90 %."""
    if name != spec.CREDITS_JSON:
        return data
    doc = json.loads(data)
    for s in doc["shares"]:
        if s["member"] == "reed":
            s["percent"], s["share_exact"] = 90.0, "9/10"
    return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"


def _rename_reed(name: str, data: bytes) -> bytes:
    """A forger's edit of the same length: Reed's shares credited to someone else."""
    return data.replace(b'"reed"', b'"rood"') if name == spec.CREDITS_JSON else data


def test_a_tampered_credits_file_fails_verification(credited, tmp_path):
    same_size = rewrite(credited["path"], tmp_path / "renamed.shf", change=_rename_reed)
    with open_bundle(same_size) as b:
        with pytest.raises(spec.IntegrityError) as exc:
            b.verify_all()
        assert exc.value.code == "integrity_error" and spec.CREDITS_JSON in exc.value.message
        with pytest.raises(spec.IntegrityError):
            b.credits()
    resized = rewrite(credited["path"], tmp_path / "tampered.shf", change=_inflate_reed)
    with pytest.raises(spec.IntegrityError):  # another size than the manifest lists: refused on open
        with open_bundle(resized) as b:
            b.verify_all()
    # the forger updates the manifest's hash and size too: the band's signature no longer holds
    with open_bundle(credited["path"]) as b:
        new = _inflate_reed(spec.CREDITS_JSON, b.read(spec.CREDITS_JSON))

    def fix_hash(m):
        m["files"][spec.CREDITS_JSON].update(sha256=hashlib.sha256(new).hexdigest(), size=len(new))

    rehashed = rewrite(credited["path"], tmp_path / "rehashed.shf", change=_inflate_reed, manifest_change=fix_hash)
    with open_bundle(rehashed) as b:
        b.verify_all()  # every member matches the (edited) manifest...
        sig = b.signature({})
        assert sig.present and not sig.valid  # ...which the signature no longer covers
        assert "does not match the manifest" in sig.reason


def test_verify_on_the_command_line_shows_the_credits_and_refuses_tampering(credited, tmp_path):
    pub = tmp_path / "band.pub"
    pub.write_text(public_hex(credited["key"].public_key()))
    env = {"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")}
    r = CliRunner().invoke(shf, ["verify", str(credited["path"]), "--trust", str(pub)], env=env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["ok"] is True and out["signature"]["trusted"] is True
    assert out["credits"]["version"] == credited["head"] and out["credits"]["split_sheet"] == spec.CREDITS_CSV
    assert [(s["member"], s["share_exact"]) for s in out["credits"]["shares"]] == \
        [(s["member"], s["share_exact"]) for s in credited["credits"]["shares"]]
    bad = rewrite(credited["path"], tmp_path / "tampered.shf", change=_rename_reed)
    r = CliRunner().invoke(shf, ["verify", str(bad), "--trust", str(pub)], env=env)
    assert r.exit_code == 1
    err = json.loads(r.stderr if hasattr(r, "stderr") and r.stderr else r.output)
    assert err["code"] == "integrity_error" and spec.CREDITS_JSON in err["message"]


def test_a_bundle_without_credits_still_reads(good_bundle):
    with open_bundle(good_bundle) as b:
        b.verify_all()
        assert b.credits() is None and b.credits_summary() is None and b.summary()["credits"] is None


def test_credits_outside_their_place_are_refused(credited, tmp_path):
    """A member claiming the credits role elsewhere (or credits/ with another role) is refused on open."""
    def wrong_role(m):
        m["files"][spec.CREDITS_JSON]["role"] = "settings"

    bad = rewrite(credited["path"], tmp_path / "role.shf", manifest_change=wrong_role)
    with pytest.raises(spec.UnsafeBundle):
        open_bundle(bad)
