"""`scripthammer rights detect` and `export-log` from a shell, in a process of their own."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]


def _env(svc) -> dict:
    env = dict(os.environ)
    env.update({"SCRIPTHAMMER_" + f.name.upper(): str(getattr(svc.config, f.name))
                for f in dataclasses.fields(svc.config)})
    return env


def test_detect_names_the_buyer_and_refuses_non_audio(app, song, tmp_path):
    from companion.access import service as access
    from companion.catalog import service as catalog
    from companion.rights import service
    from companion.rights import watermark as wm

    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        track = catalog.create_track(s, title="CLI Song", release_state="premium")
        fan = access.listener_for(s, 777, "Fan 777")
        s.flush()
        d = service.delivery_for(s, listener_id=fan.id, track_id=track.id, fmt="flac", order_ref="wc-order:77")
        mark = d.mark
    x, sr = song
    marked = wm.embed(x[: 25 * sr], sr, wm.payload_field(service.watermark_key(svc.config), mark))
    path = tmp_path / "leak.flac"
    sf.write(path, marked, wm.RATE)
    env = _env(svc)
    cli = [sys.executable, "-m", "companion.cli", "rights"]
    proc = subprocess.run([*cli, "detect", str(path)], env=env, capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json.loads(proc.stdout)
    assert out["delivery"]["listener"]["wp_user_id"] == 777 and out["delivery"]["order_ref"] == "wc-order:77"
    clean = tmp_path / "clean.wav"
    sf.write(clean, x[: 25 * sr], sr)
    proc = subprocess.run([*cli, "detect", str(clean)], env=env, capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 1 and json.loads(proc.stdout)["found"] is False
    junk = tmp_path / "notes.txt"
    junk.write_text("not audio at all\n" * 50)
    proc = subprocess.run([*cli, "detect", str(junk)], env=env, capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2 and json.loads(proc.stderr)["error"] == "not_audio"


def test_export_log_feeds_the_offline_verifier(app, tmp_path):
    from companion.rights import service

    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        service.create_series(s, svc.config, work="composition:3", count=5)
        service.issue(s, svc.config, work="composition:3", owner="wp:9")
    proc = subprocess.run([sys.executable, "-m", "companion.cli", "rights", "export-log", str(tmp_path / "log.json"),
                           "--key", str(tmp_path / "band.pem")], env=_env(svc), capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    verify = subprocess.run([sys.executable, "-I", str(ROOT / "verifier" / "scripthammer_verify.py"), "log",
                             str(tmp_path / "log.json"), "--key", str(tmp_path / "band.pem")],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and "2 entries" in verify.stdout, verify.stderr


def test_licence_commands_list_revoke_and_package(app, tmp_path):
    import zipfile

    from companion.rights import licence_store

    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        row, _ = licence_store.issue(s, svc.config, member="chops", tier="commercial", owner="wp:31")
        lic_id = row.id
    cli = [sys.executable, "-m", "companion.cli", "rights"]

    def run(*args):
        return subprocess.run([*cli, *args], env=_env(svc), capture_output=True, text=True, timeout=300, cwd=ROOT)

    listed = run("licences", "--owner", "wp:31")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [lic_id]
    assert run("licences", "--owner", "wp:32").stdout == ""
    pkg = run("licence-package", lic_id, str(tmp_path / "p.zip"))
    assert pkg.returncode == 0 and "run.py" in {n.split("/", 1)[1] for n in zipfile.ZipFile(tmp_path / "p.zip").namelist()}
    assert run("licence-package", "0000000000000000", str(tmp_path / "q.zip")).returncode == 1
    assert run("revoke-licence", lic_id, "--reason", "test").returncode == 0
    again = run("revoke-licence", lic_id)
    assert again.returncode == 1 and json.loads(again.stderr)["error"] == "already_revoked"
    assert run("revocations", str(tmp_path / "rev.json")).returncode == 0
    assert json.loads((tmp_path / "rev.json").read_text())["revocations"]["revoked"] == [lic_id]
