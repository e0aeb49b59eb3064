"""Redis restarted mid-queue: the queued jobs survive (append-only file, fsync always), the API answers
503 queue_unavailable while Redis is down, then recovers by itself; the worker carries on."""
from __future__ import annotations

import io
import time

import pytest

from companion import create_app
from tests.catalog.test_catalog_api import make_wav
from tests.conftest import build_config, make_audio, prepare, stop_group
from tests.faults.conftest import FAST_RECOVERY
from tests.faults.procs import job_row, start_worker, wait_job, wait_until


@pytest.fixture
def redis_app(tmp_path, own_redis):
    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", own_redis.url, **FAST_RECOVERY)
    tokens = prepare(cfg)
    app = create_app(cfg)
    app.test_tokens = tokens
    yield app
    app.extensions["scripthammer"].close()


def _upload(client, h, track_id: int, data: bytes):
    return client.post(f"/api/tracks/{track_id}/upload", data={"file": (io.BytesIO(data), "take.wav")}, headers=h,
                       content_type="multipart/form-data")


def test_queued_jobs_survive_a_redis_crash_and_the_api_recovers_by_itself(redis_app, own_redis, tmp_path):
    svc, client = redis_app.extensions["scripthammer"], redis_app.test_client()
    h = {"Authorization": f"Bearer {redis_app.test_tokens['ivory']}"}
    long_take = make_audio(tmp_path / "long.wav", seconds=40).read_bytes()
    short = make_wav(2.0)
    worker = start_worker(svc.config, "release", tmp_path / "worker.log")
    try:
        tracks = [client.post("/api/tracks", json={"title": f"Take {i}"}, headers=h).get_json()["id"] for i in range(4)]
        jobs = [_upload(client, h, tracks[0], long_take).get_json()["job_id"]]
        wait_until(lambda: job_row(svc, jobs[0])["state"] == "started", 120, what="the first release running")
        jobs += [_upload(client, h, t, short).get_json()["job_id"] for t in tracks[1:3]]
        assert svc.queue("release").count == 2  # waiting behind the running one

        own_redis.crash()
        down = _upload(client, h, tracks[3], short)
        assert down.status_code == 503 and down.get_json()["code"] == "queue_unavailable", down.get_json()
        assert client.get(f"/api/tracks/{tracks[3]}", headers=h).get_json()["status"] == "empty"  # nothing changed
        health = client.get("/api/health")
        assert health.status_code == 503 and health.get_json()["checks"]["redis"]["ok"] is False
        assert client.get("/api/tracks", headers=h).status_code == 200  # what needs no queue still answers

        own_redis.start()
        restarted = time.time()
        assert svc.queue("release").count >= 1  # the waiting jobs came back from the append-only file
        again = _upload(client, h, tracks[3], short)  # the same app: no restart, no reconnect by hand
        recovery = time.time() - restarted
        assert again.status_code == 202, again.get_json()
        assert recovery < 5
        jobs.append(again.get_json()["job_id"])

        done = [wait_job(svc, j, timeout=600) for j in jobs]
        assert [d["state"] for d in done] == ["finished"] * 4, (done, (tmp_path / "worker.log").read_text()[-3000:])
        for t in tracks:
            body = client.get(f"/api/tracks/{t}", headers=h).get_json()
            assert body["status"] == "ready"
            names = [r["name"] for r in body["renditions"]]
            assert len(names) == len(set(names))  # released once each
        assert worker.poll() is None  # the same worker carried on through the outage
    finally:
        stop_group(worker)
