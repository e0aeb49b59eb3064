"""Queues per kind of work on RQ's JSON serializer: routing, what Redis holds, forged jobs refused,
and a long release that does not delay a WooCommerce webhook (real worker processes)."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from companion.tasks import queues
from companion.tasks.models import Job
from companion.tasks.service import create_job, enqueue_job
from tests.commerce import payloads
from tests.conftest import make_audio, stop_group
from tests.faults.procs import REPO, start_worker, wait_job, wait_until


@pytest.fixture
def svc(app):
    return app.extensions["scripthammer"]


def test_each_kind_of_job_has_its_own_queue(svc):
    assert queues.kind_of("jobs.release.release_track") == "release"
    assert queues.kind_of("jobs.render.render_job") == "render"
    assert queues.kind_of("jobs.render.attach_shf_job") == "render"
    assert queues.kind_of("jobs.generate.generate_job") == "render"
    assert queues.kind_of("jobs.publish.publish_item") == "publish"
    assert queues.kind_of("jobs.commerce.apply_delivery") == "commerce"
    assert queues.kind_of("jobs.commerce.reconcile_tick") == "commerce"
    assert queues.kind_of("jobs.analytics.rollup") == "analytics"
    assert queues.kind_of("jobs.live.record") == "live"
    assert queues.kind_of("jobs.something_new.run") == "default"
    names = {q.name for q in svc.queues()}
    assert names == {f"{svc.config.queue_name}:{k}" for k in queues.QUEUES}
    with pytest.raises(queues.UnknownQueue):
        svc.queue("everything")


def test_worker_groups_must_cover_every_queue():
    assert queues.parse_groups("publish,commerce,default;release;render;live,analytics") == [
        ["publish", "commerce", "default"], ["release"], ["render"], ["live", "analytics"]]
    with pytest.raises(queues.UnknownQueue, match="render"):
        queues.parse_groups("publish,commerce,default;release;live,analytics")  # nobody would render
    with pytest.raises(queues.UnknownQueue, match="'pickle'"):
        queues.parse_groups("pickle;publish,commerce,default,release,render,live,analytics")


def test_a_queued_job_is_json_in_redis_not_a_pickle(svc):
    with svc.db.session() as s:
        job = create_job(s, kind="publish", params={"kind": "track", "item_id": 1, "action": "publish"})
    enqueue_job(svc, job, "jobs.publish.publish_item")
    assert svc.queue("publish").job_ids == [f"shm-{job.id}"] and svc.queue("release").count == 0
    raw = zlib.decompress(svc.redis.hget(f"rq:job:shm-{job.id}", "data"))
    assert json.loads(raw) == ["jobs.publish.publish_item", None, [job.id], {}]
    assert not raw.startswith(b"\x80")  # pickle's opening byte


class _Exploit:
    """What an attacker with write access to Redis would plant: unpickling it creates a file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_job_planted_in_redis_is_never_unpickled(svc, tmp_path):
    marker = tmp_path / "pwned"
    planted = Queue(svc.queue("release").name, connection=svc.redis)  # RQ's default (pickle) serializer
    evil = planted.enqueue_call("jobs.release.release_track", args=(_Exploit(marker),))
    assert pickle.loads(zlib.decompress(svc.redis.hget(f"rq:job:{evil.id}", "data")))  # it is armed...
    marker.unlink()  # (loading it here to prove that made the file)
    svc.worker(SimpleWorker, kinds=["release"]).work(burst=True, with_scheduler=False)
    assert not marker.exists()  # ...but the companion's worker never unpickled it
    failed = svc.queue("release").failed_job_registry
    assert evil.id in failed.get_job_ids()


def test_a_json_job_naming_a_function_outside_jobs_is_refused(svc, tmp_path):
    marker = tmp_path / "pwned"
    planted = Queue(svc.queue("default").name, connection=svc.redis, serializer=JSONSerializer)
    evil = planted.enqueue_call("os.system", args=(f"touch {marker}",))
    svc.worker(SimpleWorker, kinds=["default"]).work(burst=True, with_scheduler=False)
    assert not marker.exists()
    failed = svc.queue("default").failed_job_registry
    assert evil.id in failed.get_job_ids()
    job = failed.get_queue().fetch_job(evil.id)
    assert "ForbiddenJob" in job.latest_result().exc_string


def test_worker_cli_names_unknown_queues(tmp_path):
    r = subprocess.run([sys.executable, "-m", "companion.cli", "worker", "--queues", "release,everything"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown queue 'everything'" in r.stderr


def test_a_long_release_does_not_delay_a_woocommerce_webhook(app, client, auth, svc, tmp_path):
    """Two real worker processes (release; publish+commerce+default): a webhook that arrives while a
    release is encoding is applied at once, and the release still finishes."""
    logs = tmp_path / "worker.log"
    release_worker = start_worker(svc.config, "release", logs)
    web_worker = start_worker(svc.config, "publish,commerce,default", logs)
    try:
        take = make_audio(tmp_path / "long.wav", seconds=90)
        t = client.post("/api/tracks", json={"title": "Long Take"}, headers=auth("ivory")).get_json()
        with open(take, "rb") as fh:
            up = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "long.wav")}, headers=auth("ivory"),
                             content_type="multipart/form-data").get_json()
        release_job = up["job_id"]
        wait_until(lambda: _state(svc, release_job) == "started", 120, what="release started")
        doc = payloads.order(4242, "completed", [payloads.line_item(501, "track:7")], customer_id=77)
        body = payloads.body_of(doc)
        from companion.commerce.webhooks import webhook_secret

        sent = time.time()
        r = client.post("/api/commerce/woocommerce/webhook", data=body,
                        headers=payloads.headers(webhook_secret(svc.config), body, "order.updated"))
        assert r.status_code == 202, r.get_json()
        applied = wait_job(svc, r.get_json()["job_id"], timeout=60)
        took = time.time() - sent
        assert applied["state"] == "finished" and applied["result"]["granted"] == ["track:7"]
        assert _state(svc, release_job) == "started", "the release finished first: nothing was proven"
        assert took < 30
        done = wait_job(svc, release_job, timeout=600)
        assert done["state"] == "finished", done
    finally:
        stop_group(release_worker)
        stop_group(web_worker)


def _state(svc, job_id: str) -> str:
    with svc.db.session() as s:
        return s.get(Job, job_id).state
