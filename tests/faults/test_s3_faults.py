"""S3 unavailable or slow, through a fault-injecting proxy in front of moto's S3 server: uploads are
refused (503 storage_unavailable, nothing stored, queued or changed) or, once queued, retried until the
store is back; playback answers 503 with a clear code instead of a 500 or a hang; a slow store is only slow."""
from __future__ import annotations

import hashlib
import io
import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from companion import create_app
from companion.catalog.models import Rendition
from companion.tasks.models import Job
from tests.catalog.test_catalog_api import make_wav
from tests.conftest import build_config, prepare, stop_group
from tests.faults.conftest import FAST_RECOVERY
from tests.faults.procs import job_row, start_worker, wait_job, wait_until
from tests.faults.proxy import FaultProxy


@pytest.fixture
def s3_proxy(s3_endpoint):
    u = urlsplit(s3_endpoint)
    proxy = FaultProxy(u.hostname, u.port)
    yield proxy
    proxy.close()


@pytest.fixture
def s3_app(tmp_path, redis_url, s3_settings, s3_proxy):
    settings = dict(s3_settings, s3_endpoint_url=f"http://{s3_proxy.url_host}")
    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url,
                       **dict(FAST_RECOVERY, job_retry_intervals="3"), **settings)
    tokens = prepare(cfg)
    app = create_app(cfg)
    app.test_tokens = tokens
    yield app
    app.extensions["scripthammer"].close()


def _h(app, who="ivory"):
    return {"Authorization": f"Bearer {app.test_tokens[who]}"}


def _upload(client, h, track_id, data: bytes):
    return client.post(f"/api/tracks/{track_id}/upload", data={"file": (io.BytesIO(data), "take.wav")}, headers=h,
                       content_type="multipart/form-data")


def _media(client, url: str):
    return client.get("/media/" + url.split("/media/", 1)[1])


def _jobs(svc) -> int:
    with svc.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Job))


def _assert_whole(svc, track_id: int) -> None:
    with svc.db.session() as s:
        rows = list(s.scalars(sa.select(Rendition).where(Rendition.track_id == track_id)))
    assert rows
    for r in rows:
        data = svc.store.get_bytes(r.key)
        assert len(data) == r.size and hashlib.sha256(data).hexdigest() == r.sha256, r.name


def test_s3_down_refuses_uploads_cleanly_and_playback_says_why(s3_app, s3_proxy):
    client, svc, h = s3_app.test_client(), s3_app.extensions["scripthammer"], _h(s3_app)
    played = client.post("/api/tracks", json={"title": "On Air", "release_state": "public"}, headers=h).get_json()
    assert _upload(client, h, played["id"], make_wav(3.0)).status_code == 202
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    track = client.get(f"/api/tracks/{played['id']}").get_json()
    assert track["status"] == "ready"
    other = client.post("/api/tracks", json={"title": "Waiting"}, headers=h).get_json()
    objects, jobs = sorted(svc.store.list("")), _jobs(svc)

    s3_proxy.down()
    t0 = time.time()
    r = _upload(client, h, other["id"], make_wav(1.0))
    assert r.status_code == 503 and r.get_json()["code"] == "storage_unavailable", r.get_json()
    assert time.time() - t0 < 60  # botocore's retries with backoff, then a clear answer
    for url in (track["hls_url"], track["peaks"][0]["url"]):  # what the player asks the companion for
        got = _media(client, url)
        assert got.status_code == 503 and got.get_json()["code"] == "storage_unavailable"
    assert client.get(f"/api/tracks/{other['id']}", headers=h).get_json()["status"] == "empty"
    assert _jobs(svc) == jobs and svc.queue("release").count == 0  # nothing queued

    s3_proxy.up()
    assert sorted(svc.store.list("")) == objects  # nothing half-stored while it was down
    assert _media(client, track["hls_url"]).status_code == 200
    assert _upload(client, h, other["id"], make_wav(1.0)).status_code == 202  # the same upload, now accepted


def test_s3_down_during_a_release_is_retried_until_it_is_back(s3_app, s3_proxy, tmp_path):
    client, svc, h = s3_app.test_client(), s3_app.extensions["scripthammer"], _h(s3_app)
    t = client.post("/api/tracks", json={"title": "Patience"}, headers=h).get_json()
    job_id = _upload(client, h, t["id"], make_wav(3.0)).get_json()["job_id"]
    s3_proxy.down()
    worker = start_worker(svc.config, "release", tmp_path / "worker.log")
    try:
        retrying = wait_until(lambda: (lambda r: r if r["state"] == "retrying" else None)(job_row(svc, job_id)), 180,
                              what="the first attempt failing")
        assert retrying["error_code"] == "transient_error" and "Endpoint" in retrying["error_message"]
        assert client.get(f"/api/tracks/{t['id']}", headers=h).get_json()["status"] == "processing"
        s3_proxy.up()
        done = wait_job(svc, job_id, timeout=300)
        assert done["state"] == "finished" and done["attempts"] >= 2, done
        assert client.get(f"/api/tracks/{t['id']}", headers=h).get_json()["status"] == "ready"
        _assert_whole(svc, t["id"])
    finally:
        stop_group(worker)


def test_a_slow_s3_is_slower_and_nothing_else(s3_app, s3_proxy):
    client, svc, h = s3_app.test_client(), s3_app.extensions["scripthammer"], _h(s3_app)
    s3_proxy.latency(0.05)  # every chunk, both ways
    t = client.post("/api/tracks", json={"title": "Slow Lane"}, headers=h).get_json()
    assert _upload(client, h, t["id"], make_wav(2.0)).status_code == 202
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    assert client.get(f"/api/tracks/{t['id']}", headers=h).get_json()["status"] == "ready"
    _assert_whole(svc, t["id"])
    s3_proxy.heal()
