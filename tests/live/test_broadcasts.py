"""Scheduled broadcasts (/api/live/broadcasts): who may schedule, reschedule and cancel them, what
anyone may read, bad input, and the start job's idempotence (a job run twice, or two at once, starts one
session; a cancelled or rescheduled broadcast starts none). The session itself is hosted by a "live"
queue worker (tests/player/test_broadcast_browser.py and tests/wordpress/test_broadcast.py run it)."""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa

from companion.band.signing import sign
from companion.db import utcnow


def iso(when: dt.datetime) -> str:
    return when.replace(microsecond=0).isoformat() + "Z"


def soon(seconds: float = 3600) -> str:
    return iso(utcnow() + dt.timedelta(seconds=seconds))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def schedule(client, headers, **over):
    body = {"wp_post_id": 42, "title": "Friday night robots", "starts_at": soon(), "params": {"key": "D minor"},
            "seed": 3, **over}
    return client.post("/api/live/broadcasts", json=body, headers=headers)


def scheduled(app, broadcast_id: int) -> list[float]:
    """When the broadcast's start jobs are due on RQ's schedule (unix seconds)."""
    from rq.registry import ScheduledJobRegistry

    reg = ScheduledJobRegistry(queue=app.extensions["scripthammer"].queue_for("jobs.broadcast.start_broadcast"))
    return [reg.get_scheduled_time(j).timestamp() for j in reg.get_job_ids()
            if j.startswith(f"shm-broadcast-{broadcast_id}-")]


def sessions(app) -> list:
    from companion.live.models import LiveSession

    with app.extensions["scripthammer"].db.session() as s:
        return list(s.scalars(sa.select(LiveSession.id)))


def live_jobs(app) -> list:
    from companion.tasks.models import Job

    with app.extensions["scripthammer"].db.session() as s:
        return [(j.params, j.rq_id) for j in s.scalars(sa.select(Job).where(Job.kind == "live"))]


def test_a_member_schedules_anyone_reads_the_public_fields_and_the_start_is_on_rqs_schedule(app, client, auth):
    from rq.registry import ScheduledJobRegistry

    r = schedule(client, auth("chops"))
    assert r.status_code == 201, r.json
    b = r.json
    assert b["state"] == "scheduled" and b["created_by"] == "chops" and b["params"]["key"] == "D minor"
    assert b["session_id"] is None and b["wp_post_id"] == 42
    # anyone (the countdown page) reads the public fields, not the parameters or who scheduled it
    pub = client.get(f"/api/live/broadcasts/{b['id']}")
    assert pub.status_code == 200
    assert pub.json["title"] == "Friday night robots" and pub.json["starts_at"] == b["starts_at"]
    assert pub.json["state"] == "scheduled" and "params" not in pub.json and "created_by" not in pub.json
    listed = client.get("/api/live/broadcasts?wp_post_id=42").json
    assert [x["id"] for x in listed] == [b["id"]] and "params" not in listed[0]
    # the start job waits on RQ's schedule for starts_at
    svc = app.extensions["scripthammer"]
    reg = ScheduledJobRegistry(queue=svc.queue_for("jobs.broadcast.start_broadcast"))
    ids = reg.get_job_ids()
    assert len(ids) == 1 and ids[0].startswith(f"shm-broadcast-{b['id']}-")
    when = reg.get_scheduled_time(ids[0]).replace(tzinfo=None)
    assert abs((when - dt.datetime.fromisoformat(b["starts_at"][:-1])).total_seconds()) < 1
    # one active broadcast per post
    again = schedule(client, auth("crash"))
    assert again.status_code == 409 and again.json["code"] == "broadcast_exists"
    assert again.json["details"]["broadcast"] == b["id"]


def test_who_may_schedule_reschedule_and_cancel(app, client, auth, make_guest_token):
    guest, fan = bearer(make_guest_token()), auth("listener")
    for who in (None, fan, guest):
        r = schedule(client, who or {})
        assert r.status_code == (401 if who is None else 403), r.json
        assert r.json["code"] in ("auth_required", "missing_right")
    assert client.get("/api/live/broadcasts").json == []  # nothing was written
    b = schedule(client, auth("chops")).json
    # another member may not change it; a guest or a fan neither; the leader and WordPress may
    for who, code in ((auth("crash"), "not_your_broadcast"), (guest, "missing_right"), (fan, "missing_right")):
        r = client.patch(f"/api/live/broadcasts/{b['id']}", json={"starts_at": soon(7200)}, headers=who)
        assert r.status_code == 403 and r.json["code"] == code, r.json
        r = client.post(f"/api/live/broadcasts/{b['id']}/cancel", headers=who)
        assert r.status_code == 403 and r.json["code"] == code, r.json
    assert client.get(f"/api/live/broadcasts/{b['id']}").json["starts_at"] == b["starts_at"]
    r = client.patch(f"/api/live/broadcasts/{b['id']}", json={"starts_at": soon(7200), "title": "Later"},
                     headers=auth("ivory"))
    assert r.status_code == 200 and r.json["title"] == "Later" and r.json["starts_at"] != b["starts_at"]
    # one start job on RQ's schedule, at the new time
    assert [round(t) for t in scheduled(app, b["id"])] == [round(dt.datetime.fromisoformat(
        r.json["starts_at"][:-1]).replace(tzinfo=dt.timezone.utc).timestamp())]
    # WordPress (a signed request: the service role, live.schedule) cancels for its editor
    path = f"/api/live/broadcasts/{b['id']}/cancel"
    secret = app.extensions["scripthammer"].config.wp_shared_secret
    r = client.post(path, headers=sign(secret, "POST", path, b""))
    assert r.status_code == 200 and r.json["state"] == "cancelled", r.json
    assert scheduled(app, b["id"]) == []  # its start job is off the schedule
    # WordPress schedules too, but may not start a session itself
    body = {"wp_post_id": 43, "title": "From wp-admin", "starts_at": soon()}
    raw = json.dumps(body).encode()
    r = client.post("/api/live/broadcasts", data=raw, content_type="application/json",
                    headers=sign(secret, "POST", "/api/live/broadcasts", raw))
    assert r.status_code == 201 and r.json["created_by"] == "wordpress", r.json
    raw = json.dumps({}).encode()
    r = client.post("/api/live/sessions", data=raw, content_type="application/json",
                    headers=sign(secret, "POST", "/api/live/sessions", raw))
    assert r.status_code == 403 and r.json["code"] == "missing_right"


@pytest.mark.parametrize("change, code", [
    ({"starts_at": "2020-01-01T00:00:00Z"}, "starts_at_past"),
    ({"starts_at": "2099-01-01T00:00:00Z"}, "starts_at_too_far"),
    ({"starts_at": "next friday"}, "invalid_starts_at"),
    ({"starts_at": "2030-01-01T20:00:00"}, "invalid_starts_at"),  # no offset: ambiguous
    ({"starts_at": 1767225600}, "invalid_starts_at"),
    ({"title": ""}, "invalid_title"),
    ({"title": "x" * 201}, "invalid_title"),
    ({"wp_post_id": -3}, "invalid_wp_post_id"),
    ({"wp_post_id": "42"}, "invalid_wp_post_id"),
    ({"params": {"key": "H major"}}, "invalid_params"),
    ({"params": "loud"}, "invalid_params"),
    ({"seed": -1}, "invalid_seed"),
])
def test_bad_input_is_a_clear_400_and_writes_nothing(app, client, auth, change, code):
    r = schedule(client, auth("chops"), **change)
    assert r.status_code == 400, r.json
    assert r.json["code"] == code and r.json["message"]
    assert client.get("/api/live/broadcasts").json == []


def test_a_start_time_just_past_is_accepted_within_the_clock_skew_margin(client, auth):
    r = schedule(client, auth("chops"), starts_at=iso(utcnow() - dt.timedelta(seconds=20)))
    assert r.status_code == 201, r.json


def test_reschedule_bad_input_and_states(client, auth):
    b = schedule(client, auth("chops")).json
    r = client.patch(f"/api/live/broadcasts/{b['id']}", json={"starts_at": "2020-01-01T00:00:00+02:00"},
                     headers=auth("chops"))
    assert r.status_code == 400 and r.json["code"] == "starts_at_past"
    r = client.patch(f"/api/live/broadcasts/{b['id']}", json={}, headers=auth("chops"))
    assert r.status_code == 400 and r.json["code"] == "nothing_to_change"
    assert client.post(f"/api/live/broadcasts/{b['id']}/cancel", headers=auth("chops")).status_code == 200
    r = client.patch(f"/api/live/broadcasts/{b['id']}", json={"title": "again"}, headers=auth("chops"))
    assert r.status_code == 409 and r.json["code"] == "broadcast_not_scheduled"
    assert client.get("/api/live/broadcasts/999").status_code == 404
    assert client.get("/api/live/broadcasts/999").json["code"] == "broadcast_not_found"


def test_the_start_job_run_twice_or_at_once_starts_one_session(db_kind, app, client, auth):
    from companion.live import broadcasts
    from jobs.broadcast import start_broadcast

    b = schedule(client, auth("chops"), starts_at=iso(utcnow() + dt.timedelta(seconds=1))).json
    svc = app.extensions["scripthammer"]
    # too early (a job of a broadcast rescheduled later): nothing
    assert broadcasts.start(svc, b["id"], now=utcnow() - dt.timedelta(minutes=5))["started"] is False
    assert sessions(app) == []
    results = []
    threads = [threading.Thread(target=lambda: results.append(start_broadcast(b["id"]))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r["started"] for r in results) == [False, False, True], results
    assert start_broadcast(b["id"])["started"] is False  # and once more, later
    (sid,) = sessions(app)
    (job,) = live_jobs(app)
    assert job[0] == {"session_id": sid, "broadcast_id": b["id"]} and job[1]  # handed to the live queue
    st = client.get(f"/api/live/broadcasts/{b['id']}", headers=auth("chops")).json
    assert st["state"] == "starting" and st["session_id"] == sid
    # a started broadcast is not cancelled (its session is stopped instead) nor rescheduled
    r = client.post(f"/api/live/broadcasts/{b['id']}/cancel", headers=auth("chops"))
    assert r.status_code == 409 and r.json["code"] == "broadcast_not_scheduled"


def test_a_cancelled_broadcast_starts_no_session(app, client, auth):
    from jobs.broadcast import start_broadcast

    b = schedule(client, auth("chops"), starts_at=iso(utcnow())).json
    assert client.post(f"/api/live/broadcasts/{b['id']}/cancel", headers=auth("chops")).json["state"] == "cancelled"
    assert start_broadcast(b["id"]) == {"broadcast": b["id"], "started": False, "state": "cancelled",
                                        "session_id": None}
    assert sessions(app) == [] and live_jobs(app) == []
    pub = client.get(f"/api/live/broadcasts/{b['id']}").json
    assert pub["state"] == "cancelled" and pub["session_id"] is None


def test_the_broadcast_follows_its_session_and_a_failed_one_says_why(app, client, auth):
    from companion.live import broadcasts
    from companion.live.models import LiveSession

    b = schedule(client, auth("chops"), starts_at=iso(utcnow())).json
    svc = app.extensions["scripthammer"]
    sid = broadcasts.start(svc, b["id"])["session_id"]
    with svc.db.session() as s:
        s.get(LiveSession, sid).status = "live"
    pub = client.get(f"/api/live/broadcasts/{b['id']}").json
    assert pub["state"] == "live" and pub["session_id"] == sid
    with svc.db.session() as s:
        row = s.get(LiveSession, sid)
        row.status, row.error, row.message = "failed", "scsynth_died", "scsynth stopped during the session"
    pub = client.get(f"/api/live/broadcasts/{b['id']}").json
    assert pub["state"] == "failed" and "scsynth_died" in pub["reason"]


def test_wordpress_away_is_retried_and_the_broadcast_is_live_in_the_companion_meanwhile(app, client, auth):
    """The link job against a WordPress that does not answer: it raises for RQ to retry, the reason is kept,
    the broadcast stays started (tests/wordpress/test_broadcast.py writes the meta into a real WordPress)."""
    from companion.live import broadcasts
    from companion.wordpress.client import WordPressClient, WordPressUnavailable
    from tests.conftest import free_port

    svc = app.extensions["scripthammer"]
    b = schedule(client, auth("chops"), starts_at=iso(utcnow())).json
    sid = broadcasts.start(svc, b["id"])["session_id"]
    down = WordPressClient(f"http://127.0.0.1:{free_port()}", "sh", "app pass", timeout=2)
    with pytest.raises(WordPressUnavailable):
        broadcasts.link_post(svc, b["id"], client=down)
    st = client.get(f"/api/live/broadcasts/{b['id']}", headers=auth("chops")).json
    assert st["state"] == "starting" and st["session_id"] == sid
    assert st["wp_linked"] is False and st["wp_error"].startswith("wordpress_unavailable")
    # not configured at all (the tests' companion has no WordPress URL): recorded, not retried
    out = broadcasts.link_post(svc, b["id"])
    assert out["linked"] is False and out["error"] == "wordpress_not_configured"


class FlakyWordPress:
    """An HTTP server standing in for WordPress' REST API that answers 503 ``down`` times, then accepts the
    post update (the real WordPress path is tests/wordpress/test_broadcast.py)."""

    def __init__(self, down: int):
        from werkzeug.serving import make_server

        from tests.conftest import free_port

        self.down, self.requests = down, []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _wsgi(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.requests.append({"method": environ["REQUEST_METHOD"], "query": environ.get("QUERY_STRING", ""),
                              "auth": environ.get("HTTP_AUTHORIZATION", ""), "body": json.loads(body or b"null")})
        if len(self.requests) <= self.down:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"code": "down", "message": "maintenance"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"id": 1, "meta": (json.loads(body) or {}).get("meta", {})}).encode()]

    def close(self):
        self.server.shutdown()
        self.thread.join(10)


def test_the_link_job_is_retried_while_wordpress_is_down_then_writes_the_session(app_with):
    from rq import SimpleWorker

    from companion.live import broadcasts

    wp = FlakyWordPress(down=2)
    try:
        app = app_with(job_retries=3, job_retry_intervals="0", wp_url=wp.url, wp_user="companion",
                       wp_app_password="app pass")
        client = app.test_client()
        h = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
        b = schedule(client, h, wp_post_id=77, starts_at=iso(utcnow())).json
        svc = app.extensions["scripthammer"]
        sid = broadcasts.start(svc, b["id"])["session_id"]
        svc.worker(SimpleWorker, kinds=["default"]).work(burst=True, with_scheduler=False)
        assert len(wp.requests) == 3  # twice 503, then accepted
        last = wp.requests[-1]
        assert last["method"] == "POST" and "rest_route=/wp/v2/sh-performances/77" in last["query"]
        assert last["body"] == {"meta": {"scripthammer_live_session": sid}} and last["auth"].startswith("Basic ")
        st = client.get(f"/api/live/broadcasts/{b['id']}", headers=h).json
        assert st["wp_linked"] is True and st["wp_error"] == "" and st["session_id"] == sid
        # linked once: a duplicate link job writes nothing more
        assert broadcasts.link_post(svc, b["id"])["linked"] is True and len(wp.requests) == 3
    finally:
        wp.close()


def test_wordpress_down_past_the_retries_keeps_the_reason_and_the_sweep_links_it_later(app_with):
    from rq import SimpleWorker

    from companion.live import broadcasts

    wp = FlakyWordPress(down=2)
    try:
        app = app_with(job_retries=1, job_retry_intervals="0", wp_url=wp.url, wp_user="companion",
                       wp_app_password="app pass")
        client = app.test_client()
        h = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
        b = schedule(client, h, wp_post_id=78, starts_at=iso(utcnow())).json
        svc = app.extensions["scripthammer"]
        sid = broadcasts.start(svc, b["id"])["session_id"]
        svc.worker(SimpleWorker, kinds=["default"]).work(burst=True, with_scheduler=False)
        assert len(wp.requests) == 2
        st = client.get(f"/api/live/broadcasts/{b['id']}", headers=h).json
        assert st["wp_linked"] is False and st["wp_error"].startswith("wordpress_unavailable")
        assert st["state"] == "starting" and st["session_id"] == sid  # on its way in the companion regardless
        assert broadcasts.start_due(svc) == []  # nothing more to start; the link is queued again
        svc.worker(SimpleWorker, kinds=["default"]).work(burst=True, with_scheduler=False)
        st = client.get(f"/api/live/broadcasts/{b['id']}", headers=h).json
        assert st["wp_linked"] is True and st["wp_error"] == "" and len(wp.requests) == 3
    finally:
        wp.close()
