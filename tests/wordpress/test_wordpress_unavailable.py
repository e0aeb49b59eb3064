"""WordPress unavailable during a publish, with the real WordPress behind a fault proxy and the job
run by a real RQ worker: the attempts fail as ``retrying`` with the reason, RQ retries them with the
configured backoff, and then either WordPress is back and the post is made once, or the publication
and the job end ``failed`` with ``wordpress_unavailable``."""
from __future__ import annotations

import dataclasses
import uuid

import pytest

from tests.faults.proxy import FaultProxy
from tests.faults.test_wordpress_unavailable import work_until_final

from .test_publish import _posts_with_companion_id


@pytest.fixture
def proxied(companion, wordpress, ports):
    """(services, config) of a companion that reaches WordPress through a fault proxy, on queues of its
    own (the session's worker does not take its jobs), retrying twice, one second apart."""
    from companion.services import Services
    from jobs import context

    proxy = FaultProxy("127.0.0.1", ports["wp"])
    config = dataclasses.replace(companion.config, wp_url=f"http://{proxy.url_host}", job_retries=2,
                                 job_retry_intervals="1", queue_name=f"shm-wpdown-{uuid.uuid4().hex[:8]}")
    svc = Services(config)
    context.configure(config)
    yield svc, proxy
    context.configure(companion.config)
    proxy.close()
    svc.close()


def _queue_publish(svc, title: str) -> tuple[int, str]:
    from companion.catalog import service as catalog
    from companion.tasks.service import create_job, submit
    from companion.wordpress.service import get_publication

    with svc.db.session() as s:
        track = catalog.create_track(s, title=title, release_state="public")
        tid = track.id
        job = create_job(s, kind="publish", track_id=tid, params={"kind": "track", "item_id": tid, "action": "publish"})
        get_publication(s, "track", tid, create=True)
    submit(svc, job, "jobs.publish.publish_item")
    return tid, job.id


def _forget_other_companions_posts(wordpress, tid: int) -> None:
    """Other companions of this run (each on its own database) share this WordPress, and one may have
    published a track with this id: a WordPress serves one companion, so theirs go before ours is made."""
    for post_id in _posts_with_companion_id(wordpress, "sh_track", tid):
        wordpress.php(f"wp_delete_post( {int(post_id)}, true ); return 1;")


def _publication(svc, tid: int) -> dict:
    from companion.wordpress.service import publication

    return publication(svc, "track", tid)


def test_wordpress_back_before_the_last_retry_publishes_once(proxied, wordpress):
    from rq import SimpleWorker

    svc, proxy = proxied
    proxy.down()
    tid, job_id = _queue_publish(svc, "Published Through An Outage")
    _forget_other_companions_posts(wordpress, tid)
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=True)  # the first attempt, WordPress gone
    pub = _publication(svc, tid)
    assert pub["state"] == "retrying", pub
    assert pub["error"]["code"] == "wordpress_unavailable" and "cannot be reached" in pub["error"]["message"]
    assert _posts_with_companion_id(wordpress, "sh_track", tid) == []
    proxy.up()
    row = work_until_final(svc, job_id, timeout=180)
    assert row["state"] == "finished" and row["attempts"] == 2, row
    pub = _publication(svc, tid)
    assert pub["state"] == "published" and not pub.get("error"), pub
    assert _posts_with_companion_id(wordpress, "sh_track", tid) == [pub["wp_post_id"]]


def test_wordpress_gone_for_every_attempt_ends_failed_with_the_reason(proxied, wordpress):
    svc, proxy = proxied
    proxy.down()
    tid, job_id = _queue_publish(svc, "Never Published")
    _forget_other_companions_posts(wordpress, tid)
    row = work_until_final(svc, job_id, timeout=180)
    assert row["state"] == "failed" and row["attempts"] == 3, row
    assert ("retrying", 1) in row["states"] and ("retrying", 2) in row["states"], row["states"]
    assert row["error_code"] == "wordpress_unavailable", row
    pub = _publication(svc, tid)
    assert pub["state"] == "failed" and pub["error"]["code"] == "wordpress_unavailable", pub
    assert _posts_with_companion_id(wordpress, "sh_track", tid) == []
