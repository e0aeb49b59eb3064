"""A live session started by hand gets a performance post of its own in a real WordPress: started with
``"performance": true``, the companion's worker makes the post (published, its live block, the session in
``scripthammer_live_session``) and the post's page embeds the live player; when the session ends, the
worker puts its mix through the release pipeline (a draft track), and once that recording is published
the post plays it (``scripthammer_recording_track``). Real programs (jackd, scsynth, ffmpeg, Janus), a real
RQ worker, a real WordPress on MariaDB."""
from __future__ import annotations

import time

import pytest
import requests

from .test_broadcast import _iframe, _meta, _wait

pytestmark = pytest.mark.slow


def test_a_session_started_by_hand_gets_its_performance_post_then_its_recording(wordpress, companion,
                                                                               companion_worker):
    from companion.catalog.models import Track

    band = {"Authorization": f"Bearer {companion.tokens['ivory']}"}
    # bad input first: clear errors, no session, no broadcast row
    for body, code in (({"performance": "yes"}, "invalid_performance"), ({"premium": 1}, "invalid_premium"),
                       ({"performance": True, "title": ""}, "invalid_title")):
        r = requests.post(f"{companion.url}/api/live/sessions", json=body, headers=band, timeout=30)
        assert r.status_code == 400 and r.json()["code"] == code, r.text
    listener = {"Authorization": f"Bearer {companion.tokens['listener']}"}
    r = requests.post(f"{companion.url}/api/live/sessions", json={"performance": True}, headers=listener, timeout=30)
    assert r.status_code == 403

    r = requests.post(f"{companion.url}/api/live/sessions", headers=band, timeout=90,
                      json={"params": {"tempo": 120}, "seed": 5, "performance": True, "title": "Tuesday jam"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        def own():
            rows = requests.get(f"{companion.url}/api/live/broadcasts", headers=band, timeout=30).json()
            return next((b for b in rows if b["session_id"] == sid), None)

        row = own()
        assert row and row["by_hand"] is True and row["premium"] is False and row["title"] == "Tuesday jam"
        made = _wait(lambda: (own() or {}).get("wp_post_id") or None, 90, "the performance post")
        post = int(made)
        got = wordpress.php(f"$p = get_post( {post} ); return array( $p->post_type, $p->post_status, $p->post_title );")
        assert got == ["sh_performance", "publish", "Tuesday jam"]
        assert _meta(wordpress, post, "scripthammer_live_session") == sid
        assert _iframe(wordpress, post).startswith(f"{companion.url}/embed/live/{sid}")
        assert own()["state"] == "live" and own()["wp_linked"] is True
        time.sleep(3)  # a few bars to record
    finally:
        st = requests.post(f"{companion.url}/api/live/sessions/{sid}/stop", headers=band, timeout=90).json()
    assert st["status"] == "ended", st
    # the worker releases the mix through the pipeline (a draft track): not yet linked to the post
    track_id = _wait(lambda: requests.get(f"{companion.url}/api/live/sessions/{sid}", timeout=30).json()["track_id"],
                     120, "the released recording")
    svc = companion.svc
    with svc.db.session() as db:
        assert db.get(Track, track_id).release_state == "draft"
    assert own()["state"] == "ended"
    assert _meta(wordpress, post, "scripthammer_recording_track") == 0
    # the band publishes it: the post plays the recording
    r = requests.patch(f"{companion.url}/api/tracks/{track_id}", json={"release_state": "public"}, headers=band,
                       timeout=30)
    assert r.status_code == 200 and r.json()["release_state"] == "public", r.text
    _wait(lambda: own() and _meta(wordpress, post, "scripthammer_recording_track") == track_id, 90, "the link")
    assert _iframe(wordpress, post) == f"{companion.url}/embed/track/{track_id}"
    # one post for the session, whatever the jobs' retries did
    assert wordpress.php("return count( get_posts( array( 'post_type' => 'sh_performance', 'name' => "
                         f"'live-session-{sid}', 'post_status' => 'any' ) ) );") == 1
    # the job run again makes no second post
    from companion.live import broadcasts

    again = broadcasts.performance_post(svc, own()["id"])
    assert again["created"] is False and again["wp_post_id"] == post
    # a link job lost (Redis flushed, a worker gone): the sweep finds the published recording the post does not
    # show and queues the link again; a broadcast linked already is not queued
    from companion.live.models import LiveBroadcast

    bid = own()["id"]
    # every link job already queued (the session's end queues one, the publish another, retries wait in RQ's
    # schedule) runs first: a late one would link the post again and hide the loss simulated below
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    from companion.live.followups import RECORDING_FUNC

    queue = svc.queue_for(RECORDING_FUNC)

    def links_pending() -> list:
        ids = (queue.get_job_ids() + StartedJobRegistry(queue=queue).get_job_ids()
               + ScheduledJobRegistry(queue=queue).get_job_ids())
        jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
        return [j for j in jobs if j is not None and j.func_name == RECORDING_FUNC and tuple(j.args) == (bid,)]

    _wait(lambda: links_pending() == [], 150, "this broadcast's link jobs to finish")
    assert broadcasts.unlinked_recordings_ids(svc) == []
    with svc.db.session() as db:
        db.get(LiveBroadcast, bid).recording_track_id = None
    wordpress.php(f"update_post_meta( {post}, 'scripthammer_recording_track', 0 ); return 1;")
    assert broadcasts.unlinked_recordings_ids(svc) == [bid]
    # (the sweep's part for recordings: the whole start_due would also start other tests' due broadcasts,
    # whose sessions would then hold this suite's one worker)
    assert broadcasts.relink_recordings(svc) == [bid]
    _wait(lambda: _meta(wordpress, post, "scripthammer_recording_track") == track_id, 90, "the link, again")
    _wait(lambda: broadcasts.unlinked_recordings_ids(svc) == [], 30, "the row to say so")
