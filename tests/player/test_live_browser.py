"""The player's live mode in Chromium (/embed/live/<session>) against a real live session started
through the API: jackd (dummy driver), scsynth in real time, ffmpeg's live HLS and a Janus per session.

A signed-in listener's page plays over WebRTC (Janus' offer through the companion) and hears the robots
through its AnalyserNode; ``?transport=hls``, an anonymous page and a session without WebRTC play the
live HLS playlist; a vote from the page is accepted and the page shows it take effect."""
from __future__ import annotations

import contextlib
import shutil
import time

import pytest

from tests.conftest import serving
from tests.player.conftest import build_player

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PROGRAMS = ("jackd", "jack_lsp", "jack_connect", "scsynth", "ffmpeg", "janus")


@pytest.fixture(autouse=True)
def _programs():
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:  # a missing precondition fails, never skips
        pytest.fail(f"not installed: {missing} (scripts/setup.sh installs jackd2, supercollider-server, ffmpeg, janus)")


@contextlib.contextmanager
def served(app):
    build_player()
    with serving(app) as base:
        yield base


@contextlib.contextmanager
def live_session(app, **params):
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    r = client.post("/api/live/sessions", json={"params": {"key": "D minor", "tempo": 120, **params}, "seed": 3},
                    headers=h)
    assert r.status_code == 201, r.json
    try:
        yield r.json["id"]
    finally:
        client.post(f"/api/live/sessions/{r.json['id']}/stop", headers=h)


def fan_token(app) -> str:
    from companion.access.tokens import make_listener_token

    return make_listener_token(app.config["SCRIPTHAMMER"].wp_shared_secret, 4242, display_name="Fan")


def open_live(browser, url, before=None):
    ctx = browser.new_context(viewport={"width": 900, "height": 700})
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    if before is not None:
        before(page)
    page.goto(url)
    page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length", timeout=30000)
    return ctx, page


def transport(page, timeout=45000) -> str:
    page.wait_for_selector(".shp-live[data-transport]:not([data-transport=''])", timeout=timeout)
    return page.get_attribute(".shp-live", "data-transport")


def hears(page, seconds=30.0) -> float:
    """The loudest RMS the page's AnalyserNode heard within ``seconds`` (stops at the first clear sound)."""
    best, deadline = 0.0, time.time() + seconds
    while time.time() < deadline:
        best = max(best, page.evaluate("ScriptHammer.players[0].level()"))
        if best > 2e-3:
            break
        time.sleep(0.25)
    return best


def test_live_page_webrtc_for_a_listener_hls_when_asked_or_anonymous_and_votes_take_effect(app, browser):
    with live_session(app) as sid, served(app) as base:
        token = fan_token(app)
        r = app.test_client().get(f"/embed/live/{sid}")
        assert r.status_code == 200 and r.mimetype == "text/html"
        assert "frame-ancestors *" in r.headers["Content-Security-Policy"] and r.headers["Cache-Control"] == "no-store"

        # (a) a signed-in listener: WebRTC through the companion, the robots heard
        ctx, page = open_live(browser, f"{base}/embed/live/{sid}#shl={token}")
        try:
            assert "shl=" not in page.evaluate("location.href")  # the token left the address bar
            assert transport(page) == "webrtc", page.text_content(".shp-live")
            assert page.text_content(".shp-live-transport") == "WebRTC"
            page.wait_for_selector(".shp-live[data-status='live']", timeout=30000)
            assert page.text_content(".shp-live-status") == "Live"
            assert hears(page) > 2e-3, "the WebRTC stream is silent"
            assert page.locator(".shp-live-params dd[data-param='key']").text_content() == "D minor"
            assert int(page.get_attribute(".shp-live-bar", "data-bar")) >= 0

            # (d) a vote from the page: accepted (202), counted, then shown taking effect at a bar line
            page.click(".shp-live-choice[data-parameter='key'][data-value='E major']")
            page.wait_for_selector(".shp-live-vote-msg[data-status='202']", timeout=15000)
            assert "counted" in page.text_content(".shp-live-vote-msg")
            page.wait_for_selector(".shp-live-vote-msg[data-state='applied']", timeout=45000)
            assert "took effect at bar" in page.text_content(".shp-live-vote-msg")
            page.wait_for_function(
                "() => document.querySelector(\".shp-live-params dd[data-param='key']\").textContent === 'E major'",
                timeout=15000)
            assert page.locator(".shp-live-applied li[data-value='E major']").count() >= 1
            assert not page.errors, page.errors
        finally:
            ctx.close()

        # (b) ?transport=hls: the live playlist through hls.js, heard
        ctx, page = open_live(browser, f"{base}/embed/live/{sid}?transport=hls#shl={token}")
        try:
            assert transport(page) == "hls"
            assert page.text_content(".shp-live-transport").startswith("HLS")
            assert hears(page, 45) > 2e-3, "the HLS broadcast is silent"
        finally:
            ctx.close()

        # (d) an anonymous fan: listens (HLS: WebRTC listening is for signed-in listeners), cannot vote
        ctx, page = open_live(browser, f"{base}/embed/live/{sid}")
        try:
            assert transport(page) == "hls"
            assert "sign in" in page.text_content(".shp-live-transport").lower()
            assert "Sign in to vote" in page.text_content(".shp-live-ballot")
            assert page.locator(".shp-live-choice").first.is_disabled()
            assert hears(page, 45) > 2e-3
        finally:
            ctx.close()

        # the session ends: the page says so
        ctx, page = open_live(browser, f"{base}/embed/live/{sid}?transport=hls")
        try:
            page.wait_for_selector(".shp-live[data-status='live']", timeout=30000)
            r = app.test_client().post(f"/api/live/sessions/{sid}/stop",
                                       headers={"Authorization": f"Bearer {app.test_tokens['ivory']}"})
            assert r.status_code == 200, r.json
            page.wait_for_selector(".shp-live[data-status='ended']", timeout=20000)
            assert page.text_content(".shp-live-status") == "Ended"
        finally:
            ctx.close()


def test_a_session_without_webrtc_falls_back_to_hls_by_itself(app_with, browser):
    app = app_with(live_webrtc=False)
    asked = []

    def not_written_yet(route):
        """The first request for the playlist finds it not written yet (a fan early for the broadcast)."""
        asked.append(route.request.url)
        if len(asked) == 1:
            route.fulfill(status=404, content_type="application/json",
                          body='{"code": "hls_not_found", "message": "No such HLS file.", "status": 404}')
        else:
            route.continue_()

    with live_session(app) as sid, served(app) as base:
        ctx, page = open_live(browser, f"{base}/embed/live/{sid}#shl={fan_token(app)}",
                              before=lambda p: p.route("**/hls/live.m3u8", not_written_yet))
        try:
            assert transport(page) == "hls"
            assert "no WebRTC" in page.text_content(".shp-live-transport")
            assert hears(page, 45) > 2e-3
            assert len(asked) >= 2  # it asked again after the 404, and plays
            assert not page.locator(".shp-live-choice").first.is_disabled()  # signed in: may vote
        finally:
            ctx.close()


def test_live_embed_of_a_missing_or_malformed_session_is_a_clear_404(app):
    client = app.test_client()
    r = client.get("/embed/live/987654")
    assert r.status_code == 404 and r.json["code"] == "live_session_not_found"
    for bad in ("/embed/live/abc", "/embed/live/-1", "/embed/live/1%3Cscript%3E", "/embed/live/",
                f"/embed/live/{2 ** 70}"):
        r = client.get(bad)
        assert r.status_code == 404 and r.is_json and r.json["status"] == 404, (bad, r.status_code, r.data[:200])
