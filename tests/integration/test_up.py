"""The README's main job: `scripthammer up` serves the API with the band and a released demo track."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def test_up_serves_the_band_and_a_playable_demo_track(tmp_path, redis_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRIPTHAMMER_")}
    env.update(SCRIPTHAMMER_VAR_DIR=str(tmp_path / "var"), SCRIPTHAMMER_PORT=str(port),
               SCRIPTHAMMER_REDIS_URL=redis_url.rsplit("/", 1)[0] + "/3",
               SCRIPTHAMMER_QUEUE_NAME=f"up-test-{port}")
    log = open(tmp_path / "up.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "companion.cli", "up", "--demo-seconds", "12"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=120)
        deadline = time.time() + 300
        track = None
        while time.time() < deadline:
            tracks = requests.get(f"{base}/api/tracks", timeout=10).json()
            if tracks and tracks[0]["status"] in ("ready", "failed"):
                track = tracks[0]
                break
            time.sleep(1)
        assert track is not None, (tmp_path / "up.log").read_text()[-3000:]
        assert track["status"] == "ready", track["error"]
        assert track["album_title"] == "Blue Dot Matrix"
        members = requests.get(f"{base}/api/members", timeout=10).json()
        assert len(members) == 7 and members[0]["name"] == "Ivory"
        mp3 = next(r for r in track["renditions"] if r["name"] == "mp3-320")
        audio = requests.get(mp3["url"], timeout=10)
        assert audio.status_code == 200 and len(audio.content) == mp3["size"]
        f = tmp_path / "demo.mp3"
        f.write_bytes(audio.content)
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(f)],
                             capture_output=True, text=True, check=True)
        assert abs(float(out.stdout) - track["duration"]) < 0.2
        health = requests.get(f"{base}/api/health", timeout=10).json()
        assert health["ok"] is True and health["checks"]["workers"]["ok"], health
        text = (tmp_path / "up.log").read_text()
        for _ in range(20):
            if "/api/docs" in text:
                break
            time.sleep(0.5)
            text = (tmp_path / "up.log").read_text()
        assert f"{base}/api/docs" in text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
