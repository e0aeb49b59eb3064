"""A premium broadcast in Debian's Chromium: once its session is live, the broadcast page tells an
anonymous visitor to sign in and a fan without a ticket to buy one (nothing plays), and plays for a fan
with a ticket, over WebRTC and over the HLS fallback (hls.js fetching the fan's own signed playlist and
segments); once the session ends, the page says the broadcast ended and the recording is not released yet.
Real jackd, scsynth, ffmpeg and Janus host the session."""
from __future__ import annotations

import datetime as dt

import pytest

from companion.db import utcnow
from tests.player.test_live_browser import (_programs, fan_token, hears, live_session, open_live,  # noqa: F401
                                            served, transport)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_premium_broadcast_page_locks_out_anonymous_and_ticketless_fans_and_plays_for_a_ticket_holder(app, browser):
    from companion.access import service as access
    from companion.live.models import LiveBroadcast, LiveSession

    svc = app.extensions["scripthammer"]
    client = app.test_client()
    band = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    starts = (utcnow() + dt.timedelta(hours=1)).replace(microsecond=0).isoformat() + "Z"
    r = client.post("/api/live/broadcasts", json={"wp_post_id": 9, "title": "Ticketed robots", "starts_at": starts,
                                                  "premium": True}, headers=band)
    assert r.status_code == 201, r.json
    bid = r.json["id"]
    with live_session(app) as sid, served(app) as base:
        # the countdown says it is premium
        ctx, page = open_live(browser, f"{base}/embed/broadcast/{bid}")
        try:
            page.wait_for_selector(".shp-broadcast-premium:not([hidden])")
            assert "sign in" in page.text_content(".shp-broadcast-premium")
        finally:
            ctx.close()
        with svc.db.session() as s:  # what the start job does at starts_at
            row = s.get(LiveBroadcast, bid)
            row.state, row.session_id = "live", sid

        # anonymous: told to sign in, nothing plays
        ctx, page = open_live(browser, f"{base}/embed/broadcast/{bid}")
        try:
            page.wait_for_selector(".shp-live[data-locked='sign_in']", timeout=30000)
            assert "sign in" in page.text_content(".shp-live-locked")
            page.wait_for_timeout(3000)
            assert page.get_attribute(".shp-live", "data-transport") == ""
            assert page.evaluate("ScriptHammer.players[0].level()") == 0
            assert not page.errors, page.errors
        finally:
            ctx.close()
        # a signed-in fan without a ticket: told to buy one
        ctx, page = open_live(browser, f"{base}/embed/broadcast/{bid}#shl={fan_token(app)}")
        try:
            page.wait_for_selector(".shp-live[data-locked='ticket']", timeout=30000)
            assert "buy a ticket" in page.text_content(".shp-live-locked")
            page.wait_for_timeout(3000)
            assert page.get_attribute(".shp-live", "data-transport") == ""
        finally:
            ctx.close()

        # the fan (WordPress user 4242) buys a ticket: WebRTC, then the HLS fallback, both heard
        with svc.db.session() as s:
            access.upsert(s, listener=access.listener_for(s, 4242), source="purchase", source_ref="wc-order:77",
                          scope=f"live:{bid}")
        for url, want in ((f"{base}/embed/broadcast/{bid}#shl={fan_token(app)}", "webrtc"),
                          (f"{base}/embed/live/{sid}?transport=hls#shl={fan_token(app)}", "hls")):
            ctx, page = open_live(browser, url)
            try:
                assert transport(page) == want, page.text_content(".shp-live")
                assert page.is_hidden(".shp-live-locked")
                assert hears(page) > 2e-3, f"the premium broadcast is silent over {want}"
                assert not page.errors, page.errors
                if want == "hls":
                    # the ended session: the page says so, and that the recording is not released yet
                    assert client.post(f"/api/live/sessions/{sid}/stop", headers=band).status_code == 200
                    page.wait_for_selector(".shp-live[data-status='ended'] .shp-live-recording:not([hidden])",
                                           timeout=30000)
                    assert "not released yet" in page.text_content(".shp-live-recording")
            finally:
                ctx.close()
    with svc.db.session() as s:
        assert s.get(LiveSession, sid).status == "ended"
