"""Premium for a session started by hand (``"premium": true`` on POST /api/live/sessions): it gets a
broadcast row of its own, and its listeners are gated exactly as a premium scheduled broadcast's (a ticket
``live:<that row's id>``, a subscription, the band). A real session, HLS only. The performance post of such a
session is tested in a real WordPress (tests/wordpress/test_live_performance.py)."""
from __future__ import annotations

import pytest

from tests.live.test_premium import entitle, error, fan
from tests.live.test_sessions import _programs, wait_for  # noqa: F401 - the programs fixture fails when missing

pytestmark = pytest.mark.slow


def test_a_premium_session_started_by_hand_is_heard_only_by_who_may(app_with):
    app = app_with(live_webrtc=False)
    client = app.test_client()
    band = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    error(client.post("/api/live/sessions", json={"premium": "yes"}, headers=band), 400, "invalid_premium")
    error(client.post("/api/live/sessions", json={"performance": 1}, headers=band), 400, "invalid_performance")
    # a premium session's ticket is sold from its performance post: premium without a post is refused
    error(client.post("/api/live/sessions", json={"premium": True, "performance": False}, headers=band), 400,
          "premium_needs_post")
    from companion.live.models import LiveBroadcast, LiveSession

    with app.extensions["scripthammer"].db.session() as s:  # nothing half-written by the refusals
        assert s.query(LiveSession).count() == 0 and s.query(LiveBroadcast).count() == 0

    r = client.post("/api/live/sessions", json={"premium": True, "params": {"tempo": 120}}, headers=band)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        rows = client.get("/api/live/broadcasts", headers=band).json
        own = next(b for b in rows if b["session_id"] == sid)
        assert own["premium"] is True and own["by_hand"] is True and own["wp_post_id"] == 0
        assert own["wants_post"] is True  # premium implies its performance post (the ticket's page)
        # until the post exists, the ticket job asks WordPress for nothing (never a product for post 0)
        from companion.live import broadcasts

        class NoWordPress:
            def __getattr__(self, name):
                raise AssertionError(f"WordPress was called: {name}")

        svc = app.extensions["scripthammer"]
        assert broadcasts.ticket_product(svc, own["id"], client=NoWordPress()) == {
            "broadcast": own["id"], "ticket": None, "waiting": "performance_post"}
        assert broadcasts.link_post(svc, own["id"], client=NoWordPress())["linked"] is False
        # the sweep: a premium session by hand whose post exists but whose ticket job was lost gets it queued
        from companion.live.followups import TICKET_FUNC

        queue = svc.queue_for(TICKET_FUNC)

        def ticket_jobs():
            return [j for j in queue.get_jobs() if j.func_name == TICKET_FUNC and list(j.args) == [own["id"]]]

        queue.empty()
        broadcasts.start_due(svc)
        assert ticket_jobs() == []  # no post yet: the post job queues the ticket once it made the post
        with svc.db.session() as s:
            s.get(LiveBroadcast, own["id"]).wp_post_id = 4242
        broadcasts.start_due(svc)
        assert len(ticket_jobs()) == 1
        with svc.db.session() as s:
            s.get(LiveBroadcast, own["id"]).wp_post_id = 0
        queue.empty()
        wait_for(lambda: client.get(f"/api/live/sessions/{sid}/hls/live.m3u8", headers=band).status_code == 200,
                 timeout=30)
        # anonymous: no address to listen at, and the playlist refuses
        st = client.get(f"/api/live/sessions/{sid}").json
        assert st["premium"] is True and st["access"]["allowed"] is False and st["hls"] is None
        error(client.get(f"/api/live/sessions/{sid}/hls/live.m3u8"), 401, "premium_sign_in")
        # a fan without a ticket, and one with a ticket to another broadcast: refused
        error(client.get(f"/api/live/sessions/{sid}/hls/live.m3u8", headers=fan(app, 501)), 403,
              "premium_ticket_required")
        entitle(app, 502, f"live:{own['id'] + 1000}")
        error(client.get(f"/api/live/sessions/{sid}/hls/live.m3u8", headers=fan(app, 502)), 403,
              "premium_ticket_required")
        error(client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "key", "value": "E major"},
                          headers=fan(app, 501)), 403, "premium_ticket_required")
        # a ticket to this session's row: their own signed playlist
        entitle(app, 503, f"live:{own['id']}")
        st = client.get(f"/api/live/sessions/{sid}", headers=fan(app, 503)).json
        assert st["access"]["allowed"] is True and "sig=" in st["hls"]
        assert client.get(st["hls"]).status_code == 200
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=band)
    # a session started by hand without premium stays public
    r = client.post("/api/live/sessions", json={"params": {"tempo": 120}}, headers=band)
    assert r.status_code == 201
    try:
        assert client.get(f"/api/live/sessions/{r.json['id']}").json.get("premium") in (None, False)
    finally:
        client.post(f"/api/live/sessions/{r.json['id']}/stop", headers=band)
