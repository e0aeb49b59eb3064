"""`scripthammer shf ...` and `scripthammer generate` from a shell (click's runner)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from companion.shf.cli import shf
from companion.shf.keys import public_hex

from tests.shf.conftest import rewrite


def test_inspect_verify_extract_regenerate(good_bundle, band_key, tmp_path):
    pub = tmp_path / "band.pub"
    pub.write_text(public_hex(band_key.public_key()))
    env = {"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")}
    run = CliRunner().invoke
    r = run(shf, ["inspect", str(good_bundle), "--trust", str(pub)], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["signature"]["trusted"] is True
    r = run(shf, ["verify", str(good_bundle)], env=env)
    assert r.exit_code == 0 and json.loads(r.output)["signature"]["trusted"] is False
    r = run(shf, ["extract", str(good_bundle), str(tmp_path / "x"), "--member", "score/score.mid"], env=env)
    assert r.exit_code == 0 and (tmp_path / "x" / "score" / "score.mid").is_file()
    r = run(shf, ["regenerate", str(good_bundle)], env=env)  # not trusted: refused, nothing run
    assert r.exit_code == 1 and "untrusted_signature" in r.output
    r = run(shf, ["regenerate", str(good_bundle), "--trust", str(pub), "--no-render"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["composition_identical"] is True


def test_hostile_bundle_gives_a_clear_error(good_bundle, tmp_path):
    bad = rewrite(good_bundle, tmp_path / "v.shf", manifest_change=lambda m: m.update(version=7))
    r = CliRunner().invoke(shf, ["inspect", str(bad)], env={"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")})
    assert r.exit_code == 1 and "unknown_version" in r.output


def test_generate_cli(tmp_path):
    from companion.algorithms.cli import generate_cmd
    env = {"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")}
    r = CliRunner().invoke(generate_cmd, ["--title", "Shell Piece", "--seed", "5", "--measures", "8"], env=env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["branch"] == "generated-5" and len(out["commits"]) == 9


def test_regenerate_refuses_without_a_sandbox(good_bundle, band_key, tmp_path, monkeypatch):
    from companion.shf import sandbox

    pub = tmp_path / "band.pub"
    pub.write_text(public_hex(band_key.public_key()))
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "missing-bwrap"))
    sandbox._probe.cache_clear()
    try:
        r = CliRunner().invoke(shf, ["regenerate", str(good_bundle), "--trust", str(pub), "--no-render"],
                               env={"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")})
    finally:
        sandbox._probe.cache_clear()
    assert r.exit_code == 1
    err = json.loads(r.output.strip().splitlines()[-1])
    assert err["code"] == "sandbox_unavailable" and "bubblewrap" in err["message"]
