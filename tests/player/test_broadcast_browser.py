"""A scheduled broadcast's countdown page (/embed/broadcast/<id>) in Debian's Chromium: it shows the
title, the start time and a countdown, then, when RQ's scheduler starts the broadcast (real worker
processes: one of the default queue runs the start job, one of the live queue hosts the session on jackd,
scsynth, ffmpeg and Janus), becomes the live player of its session and is heard; a cancelled broadcast's
page says so."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from companion.db import utcnow
from tests.conftest import stop_group
from tests.faults.procs import start_worker
from tests.player.test_live_browser import _programs, fan_token, hears, served, transport  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def iso(when: dt.datetime) -> str:
    return when.replace(microsecond=0).isoformat() + "Z"


def open_page(browser, url):
    ctx = browser.new_context(viewport={"width": 900, "height": 700}, locale="en-GB", timezone_id="Europe/Berlin")
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length", timeout=30000)
    return ctx, page


def test_the_countdown_counts_down_then_plays_the_broadcast_live(app, browser, tmp_path):
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    cfg = app.extensions["scripthammer"].config
    workers = [start_worker(cfg, "publish,commerce,default", tmp_path / "default.log"),
               start_worker(cfg, "live", tmp_path / "live.log")]
    sid = None
    try:
        starts = utcnow() + dt.timedelta(seconds=30)
        r = client.post("/api/live/broadcasts", json={"wp_post_id": 7, "title": "Robots at dawn",
                                                      "starts_at": iso(starts), "params": {"key": "D minor"},
                                                      "seed": 3}, headers=h)
        assert r.status_code == 201, r.json
        bid = r.json["id"]
        page_resp = client.get(f"/embed/broadcast/{bid}")
        assert page_resp.status_code == 200 and page_resp.mimetype == "text/html"
        assert "frame-ancestors *" in page_resp.headers["Content-Security-Policy"]
        assert page_resp.headers["Cache-Control"] == "no-store"
        with served(app) as base:
            ctx, page = open_page(browser, f"{base}/embed/broadcast/{bid}#shl={fan_token(app)}")
            try:
                assert "shl=" not in page.evaluate("location.href")  # the token left the address bar
                assert page.text_content(".shp-broadcast-title") == "Robots at dawn"
                # the start time in the viewer's locale and zone (en-GB, Berlin: UTC+1 in December)
                local = (starts + dt.timedelta(hours=1)).strftime("%H:%M")
                assert local in page.text_content(".shp-broadcast-when"), page.text_content(".shp-broadcast-when")
                assert page.get_attribute(".shp-broadcast-when", "datetime") == iso(starts)
                # it counts down; the ticking figure is hidden from screen readers, a polite region speaks
                first = int(page.get_attribute(".shp-broadcast-countdown", "data-seconds"))
                time.sleep(2.2)
                second = int(page.get_attribute(".shp-broadcast-countdown", "data-seconds"))
                assert 0 < second < first <= 30, (first, second)
                assert page.get_attribute(".shp-broadcast-countdown", "aria-hidden") == "true"
                assert page.get_attribute(".shp-broadcast-announce", "aria-live") == "polite"
                assert "Starts in" in page.text_content(".shp-broadcast-announce")
                # at the start: the live player of the broadcast's session, WebRTC for the signed-in fan, heard
                page.wait_for_selector(".shp-broadcast[data-state='live'] .shp-live", timeout=120000)
                sid = int(page.get_attribute(".shp-broadcast", "data-session"))
                assert transport(page) == "webrtc", page.text_content(".shp-broadcast")
                page.wait_for_selector(".shp-live[data-status='live']", timeout=30000)
                assert hears(page) > 2e-3, "the broadcast is silent"
                assert page.text_content(".shp-broadcast-announce") == "The broadcast is live."
                assert page.is_hidden(".shp-broadcast-countdown-box")
                assert not page.errors, page.errors
            finally:
                ctx.close()
            b = client.get(f"/api/live/broadcasts/{bid}").json
            assert b["state"] == "live" and b["session_id"] == sid

            # a cancelled broadcast: its page says so
            far = client.post("/api/live/broadcasts", json={"wp_post_id": 8, "title": "Never on air",
                                                            "starts_at": iso(utcnow() + dt.timedelta(seconds=40))},
                              headers=h).json
            ctx, page = open_page(browser, f"{base}/embed/broadcast/{far['id']}")
            try:
                page.wait_for_selector(".shp-broadcast[data-state='scheduled']")
                assert client.post(f"/api/live/broadcasts/{far['id']}/cancel", headers=h).status_code == 200
                page.wait_for_selector(".shp-broadcast[data-state='cancelled']", timeout=20000)
                assert page.text_content(".shp-broadcast-message") == "This broadcast was cancelled."
                assert page.is_hidden(".shp-broadcast-countdown-box")
            finally:
                ctx.close()
    finally:
        if sid is not None:
            client.post(f"/api/live/sessions/{sid}/stop", headers=h)
        for w in workers:
            stop_group(w)


def test_the_countdown_page_of_a_missing_broadcast_is_a_clear_404(app):
    client = app.test_client()
    r = client.get("/embed/broadcast/987654")
    assert r.status_code == 404 and r.json["code"] == "broadcast_not_found"
    r = client.get("/embed/broadcast/abc")
    assert r.status_code == 404 and r.is_json
