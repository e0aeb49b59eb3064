"""`scripthammer render` from a shell: a process of its own (nothing imported before the command),
rendering here and now through a job row, as the README says."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path


def test_render_command_in_a_process_of_its_own(app):
    from companion.algorithms.base import Params
    from companion.algorithms.generate import generate
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store

    svc = app.extensions["scripthammer"]
    piece = generate(Store(svc.config.compositions_dir), svc.band, member_actor(svc.band, "ivory"), title="Shell Render",
                     seed=2, measures=4, params=Params(tempo=150))
    env = dict(os.environ)
    env.update({"SCRIPTHAMMER_" + f.name.upper(): str(getattr(svc.config, f.name))
                for f in dataclasses.fields(svc.config)})
    proc = subprocess.run([sys.executable, "-m", "companion.cli", "render", piece["composition"], "--rev",
                           piece["branch"], "--engine", "fluidsynth"], env=env, capture_output=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json.loads(proc.stdout)
    assert out["state"] == "finished", out
    assert out["result"]["commit"] == piece["head"] and out["result"]["shf"]["key"].endswith(".shf")
    assert {s["engine"] for s in out["result"]["stems"]} == {"fluidsynth"}
    assert svc.store.exists(out["result"]["mixdown_key"])
    # the bundle carries the version's credits (split sheet, provenance summary) under its signature
    from companion.shf import spec
    from companion.shf.reader import open_bundle

    bundle = Path(svc.config.var_dir) / "render-test.shf"
    bundle.write_bytes(svc.store.get_bytes(out["result"]["shf"]["key"]))
    with open_bundle(bundle) as b:
        b.verify_all()
        assert b.signature({}).valid
        credits = b.credits()
    assert credits["version"]["id"] == piece["head"] and credits["composition"] == piece["composition"]
    writers = {s["member"] for s in credits["shares"]}
    assert len(writers) >= 3 and writers <= {c["member"] for c in piece["commits"]}
    assert all(r["kind"] == "generated" and r["commit"] in {c["id"] for c in piece["commits"]}
               for r in credits["provenance_summary"])
    assert b.manifest["credits"]["file"] == spec.CREDITS_JSON
    # a piece that does not exist: a clear error on stderr and a failing exit status
    denied = subprocess.run([sys.executable, "-m", "companion.cli", "render", "no-such-piece"], env=env,
                            capture_output=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert denied.returncode == 1 and json.loads(denied.stderr)["status"] == 404
