"""Jobs retry transient failures with backoff and succeed once the cause is gone; the CLI follows jobs."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rq import SimpleWorker

from companion import create_app
from tests.conftest import build_config, make_audio, prepare

ROOT = Path(__file__).resolve().parents[2]


def test_transient_failure_is_retried_then_succeeds(tmp_path, redis_url):
    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url, job_retries=1)
    tokens = prepare(cfg)
    app = create_app(cfg)
    client, svc = app.test_client(), app.extensions["scripthammer"]
    auth = {"Authorization": f"Bearer {tokens['crash']}"}
    take = make_audio(tmp_path / "groove.wav", seconds=3)
    t = client.post("/api/tracks", json={"title": "Groove"}, headers=auth).get_json()
    with open(take, "rb") as fh:
        r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "groove.wav")}, headers=auth,
                        content_type="multipart/form-data")
    job_url = r.get_json()["job_url"]
    key = next(svc.store.list("uploads/"))
    original = svc.store.get_bytes(key)
    svc.store.delete(key)  # the store is briefly unavailable for this object
    svc.worker(SimpleWorker).work(burst=True)
    job = client.get(job_url, headers=auth).get_json()
    assert job["state"] == "retrying" and job["error"]["code"] == "transient_error"
    assert client.get(f"/api/tracks/{t['id']}", headers=auth).get_json()["status"] == "processing"
    svc.store.put_bytes(key, original)  # back again
    time.sleep(5.5)  # the first retry interval
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=True)
    deadline = time.time() + 30
    while client.get(job_url, headers=auth).get_json()["state"] != "finished" and time.time() < deadline:
        svc.worker(SimpleWorker).work(burst=True, with_scheduler=True)
        time.sleep(0.5)
    job = client.get(job_url, headers=auth).get_json()
    assert job["state"] == "finished" and job["attempts"] == 2 and job["error"] is None
    assert client.get(f"/api/tracks/{t['id']}", headers=auth).get_json()["status"] == "ready"


def test_cli_upload_inline_and_jobs(tmp_path, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRIPTHAMMER_")}
    env.update(SCRIPTHAMMER_VAR_DIR=str(tmp_path / "var"), SCRIPTHAMMER_REDIS_URL=redis_url,
               SCRIPTHAMMER_QUEUE_NAME="cli-test")
    cli = [sys.executable, "-m", "companion.cli"]
    seed = subprocess.run([*cli, "seed"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert seed.returncode == 0, seed.stderr
    assert "crash" in seed.stdout and "shm_" in seed.stdout
    again = subprocess.run([*cli, "seed"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "shm_" not in again.stdout  # tokens are printed once
    take = make_audio(tmp_path / "solo.flac", seconds=3, codec_args=("-c:a", "flac"))
    up = subprocess.run([*cli, "upload", str(take), "--title", "Sax Solo", "--inline"], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr
    assert "release job" in up.stdout and "100%" in up.stderr
    jobs = subprocess.run([*cli, "jobs"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "release  finished  100%" in jobs.stdout
    bad = tmp_path / "notes.flac"
    bad.write_text("not a recording")
    r = subprocess.run([*cli, "upload", str(bad), "--track", "1", "--inline"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "not_audio" in r.stderr
