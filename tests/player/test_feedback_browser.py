"""Fans' timed feedback in Debian's Chromium: a signed-in fan reacts at the current time, the marker
appears on the waveform (pending, theirs); once approved, anyone sees it; anonymous has no bar."""
from __future__ import annotations

import pytest

from companion.access.tokens import make_listener_token

pytestmark = pytest.mark.browser

FAN = 9101


def open_player(page, url):
    page.goto(url)
    page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length && "
                           "ScriptHammer.players[0].getState().ready", timeout=20000)


def test_a_fan_reacts_and_the_marker_lands_on_the_waveform(browser, page, live):
    track = live.tracks[0]  # 20 s
    token = make_listener_token(live.app.config["SCRIPTHAMMER"].wp_shared_secret, FAN, display_name="Wave Fan")
    ctx = browser.new_context(viewport={"width": 1024, "height": 720})
    fan = ctx.new_page()
    fan.errors = []
    fan.on("pageerror", lambda e: fan.errors.append(str(e)))
    try:
        open_player(fan, f"{live.url}/embed/track/{track['id']}?vis=off#shl={token}")
        assert fan.locator(".shp-feedback").is_visible()
        fan.evaluate("ScriptHammer.players[0].seek(10)")
        fan.fill(".shp-fb-text", "this bit!")
        fan.click(".shp-react[data-reaction='fire']")
        mark = fan.locator(".shp-mark")
        mark.wait_for(timeout=10000)
        assert mark.count() == 1
        assert mark.text_content() == "\U0001F525"
        assert mark.get_attribute("data-state") == "pending" and "shp-mark-mine" in mark.get_attribute("class")
        assert "this bit!" in mark.get_attribute("title") and "awaiting approval" in mark.get_attribute("title")
        # where it sits: 10 s of 20 s is the middle of the waveform
        box, wave = mark.bounding_box(), fan.locator(".shp-wave").bounding_box()
        centre = (box["x"] + box["width"] / 2 - wave["x"]) / wave["width"]
        assert 0.45 < centre < 0.55, centre
        assert fan.input_value(".shp-fb-text") == ""  # sent, the field is cleared
        assert "approved" in fan.text_content(".shp-fb-note")
        # markup is refused with the companion's message, nothing is added
        fan.fill(".shp-fb-text", "<b>loud</b>")
        fan.click(".shp-fb-send")
        fan.wait_for_function("() => document.querySelector('.shp-fb-note').textContent.includes('plain text')")
        assert fan.locator(".shp-mark").count() == 1
        fan.evaluate("ScriptHammer.players[0].lastFeedback.then(() => ScriptHammer.players[0].beacons.flush())")
        assert fan.errors == []
    finally:
        ctx.close()
    # the kept reaction went out as a beacon too (the heat map counts it); the refused one did not
    for _ in range(40):
        reactions = [e.data for e in live.events(event="reaction", track_id=track["id"])]
        if {"emoji": "fire", "text": "this bit!"} in reactions:
            break
        page.wait_for_timeout(250)
    assert {"emoji": "fire", "text": "this bit!"} in reactions, reactions
    assert not any("loud" in (d.get("text") or "") for d in reactions)
    # stored on the companion, pending
    client = live.app.test_client()
    listed = client.get("/api/feedback?state=pending", headers=live.auth("ivory")).get_json()["feedback"]
    mine = [f for f in listed if f["track_id"] == track["id"] and f["author_name"] == "Wave Fan"]
    assert len(mine) == 1 and mine[0]["emoji"] == "fire" and mine[0]["text"] == "this bit!"
    assert 9.5 <= mine[0]["position"] <= 10.5
    # anyone: no bar, and no marker until it is approved
    open_player(page, f"{live.url}/embed/track/{track['id']}?vis=off")
    assert page.locator(".shp-feedback").is_hidden()
    page.wait_for_timeout(500)
    assert page.locator(".shp-mark").count() == 0
    r = client.post(f"/api/feedback/{mine[0]['id']}", json={"state": "approved"}, headers=live.auth("ivory"))
    assert r.status_code == 200
    page.reload()
    page.wait_for_selector(".shp-mark", timeout=20000)
    assert page.locator(".shp-mark").count() == 1
    assert page.locator(".shp-mark").get_attribute("data-state") == "approved"
    assert "Wave Fan" in page.locator(".shp-mark").get_attribute("title")
    assert page.errors == []
