"""Disk full during a release, on a real small filesystem: the companion's var folder (work space and the
local object store) on a tmpfs too small for the release, so writes fail with ENOSPC as on a full disk
(more real than RLIMIT_FSIZE, which limits one file's size and answers EFBIG). The job fails with a
clear disk_full error, no partial object is left in the store, and once the volume grows the next run
succeeds."""
from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from companion import create_app
from companion.catalog.models import Rendition
from tests.conftest import IN_CI, build_config, make_audio, prepare

AUDIO = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aiff", ".aif")


@pytest.fixture
def small_volume(tmp_path):
    mnt = tmp_path / "volume"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=9m,mode=0700", "tmpfs", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        msg = f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}"
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _duration(path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, (path, out.stderr)
    return float(json.loads(out.stdout)["format"]["duration"])


def test_a_full_disk_fails_the_release_clearly_leaves_no_partial_object_and_the_next_run_succeeds(
        tmp_path, redis_url, small_volume):
    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'companion.db'}", redis_url, var_dir=small_volume / "var",
                       job_retries=0, hls_bitrates="64")
    tokens = prepare(cfg)
    app = create_app(cfg)
    svc, client = app.extensions["scripthammer"], app.test_client()
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    take = make_audio(tmp_path / "take.wav", seconds=20)  # 3.5 MB; the release needs several times that
    t = client.post("/api/tracks", json={"title": "No Room"}, headers=h).get_json()
    with open(take, "rb") as fh:
        up = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "take.wav")}, headers=h,
                         content_type="multipart/form-data")
    assert up.status_code == 202, up.get_json()
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)

    job = client.get(up.get_json()["job_url"], headers=h).get_json()
    assert job["state"] == "failed" and job["error"]["code"] == "disk_full", job
    assert "disk is full" in job["error"]["message"] and "Free some space" in job["error"]["message"]
    track = client.get(f"/api/tracks/{t['id']}", headers=h).get_json()
    assert track["status"] == "failed" and track["error"]["code"] == "disk_full" and track["renditions"] == []
    store_root = small_volume / "var" / "objects"
    assert list((store_root / ".tmp").iterdir()) == []  # the write that failed was removed
    source = _duration(take)
    for key in svc.store.list(""):  # whatever did get stored is whole: a full file or nothing
        path = store_root / key
        if path.suffix in AUDIO and not key.startswith("hls/"):
            assert abs(_duration(path) - min(source, cfg.preview_seconds if "preview" in key else source)) < 0.5, key

    subprocess.run(["mount", "-o", "remount,size=256m", str(small_volume)], check=True)
    with open(take, "rb") as fh:
        again = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "take.wav")}, headers=h,
                            content_type="multipart/form-data")
    assert again.status_code == 202, again.get_json()
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    assert client.get(again.get_json()["job_url"], headers=h).get_json()["state"] == "finished"
    track = client.get(f"/api/tracks/{t['id']}", headers=h).get_json()
    assert track["status"] == "ready" and track["error"] is None
    with svc.db.session() as s:
        rows = list(s.scalars(sa.select(Rendition).where(Rendition.track_id == t["id"])))
    assert rows and len({r.name for r in rows}) == len(rows)
    for r in rows:
        data = svc.store.get_bytes(r.key)
        assert len(data) == r.size and hashlib.sha256(data).hexdigest() == r.sha256, r.name
    svc.close()
