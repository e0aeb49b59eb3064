"""Listeners in Chromium, each in a context of its own (its own browser, user agent, session), play a
released track, seek, replay, react and use the visualizer; the band's figures and heat map from the API
match what they did (beacons through the real stream, drained as the consumers would)."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.player.conftest import release_tracks

pytestmark = pytest.mark.browser


def wait_for(page, js, timeout=20000):
    page.wait_for_function(js, timeout=timeout)


@pytest.fixture(scope="module")
def heat_track(live):
    config = live.app.extensions["scripthammer"].config
    tracks, _album = release_tracks(live.app, live.tokens, config, [("Heat Map Song", 10.0, -16)],
                                    album_title="Heat Map Album")
    return tracks[0]


def _listener(browser, live, track, n):
    ctx = browser.new_context(user_agent=f"Mozilla/5.0 (X11; Linux x86_64) HeatListener/{n}")
    page = ctx.new_page()
    page.goto(f"{live.url}/embed/track/{track['id']}")
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players.length && ScriptHammer.players[0].track")
    return ctx, page


def _leave(ctx, page):
    page.goto("about:blank")   # the rest goes with sendBeacon as the page is left
    page.wait_for_timeout(300)
    ctx.close()


def test_the_figures_and_heat_map_match_what_the_listeners_did(browser, live, heat_track):
    tid = heat_track["id"]
    did = {}
    # 1: plays from the start, reacts a little in, pauses, leaves (a skip: under 30 s, not complete)
    ctx, page = _listener(browser, live, heat_track, 1)
    page.click(".shp-play")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 2.2")
    page.click(".shp-play")
    did["react_at"] = page.evaluate("ScriptHammer.players[0].currentTime")
    assert page.evaluate("ScriptHammer.players[0].react('heart')") is True
    did["l1_reach"] = page.evaluate("ScriptHammer.players[0].currentTime")
    _leave(ctx, page)
    # 2: plays, jumps to 6 s and listens to the end
    ctx, page = _listener(browser, live, heat_track, 2)
    page.click(".shp-play")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 0.5")
    page.evaluate("ScriptHammer.players[0].seek(6)")
    wait_for(page, "() => ScriptHammer.players[0].audio.ended", timeout=30000)
    _leave(ctx, page)
    # 3: plays, jumps to 7 s, goes back to 2 s (a replay), switches the visualizer, pauses, leaves
    ctx, page = _listener(browser, live, heat_track, 3)
    page.click(".shp-play")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 0.5")
    page.evaluate("ScriptHammer.players[0].seek(7)")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 7.3")
    did["l3_reach"] = page.evaluate("ScriptHammer.players[0].currentTime")
    page.evaluate("ScriptHammer.players[0].seek(2)")
    page.evaluate("ScriptHammer.players[0].setVisualizer('spectrum')")
    page.click(".shp-play")
    _leave(ctx, page)

    live.events(track_id=tid)  # drains the stream, as the consumers do
    today = dt.datetime.now(dt.timezone.utc).date()
    client = live.app.test_client()
    day = client.get(f"/api/analytics/tracks/{tid}/daily?from={today}&to={today}", headers=live.auth("crash"))
    assert day.status_code == 200, day.get_json()
    (row,) = day.get_json()["days"]
    events = live.events(track_id=tid)
    # A listener is (address, user agent) within a day: the three contexts share 127.0.0.1, and Chromium
    # does not always send a beacon made as the page is left with the context's user agent, so they may
    # count as one to three listeners; the figure must be the count of distinct pseudonymous ids stored.
    assert row["plays"] == 3, row
    assert row["listeners"] == len({e.listener for e in events}) and 1 <= row["listeners"] <= 3, row
    assert len({e.session_id for e in events}) == 3
    assert row["completions"] == 1 and row["completion_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert row["skips"] == 2 and row["plays_30s"] == 0   # a 10 s song: only the complete one is not a skip
    heat = client.get(f"/api/analytics/tracks/{tid}/heatmap?from={today}&to={today}", headers=live.auth("crash"))
    h = heat.get_json()
    nz = {k: {i: v for i, v in enumerate(h[k]) if v} for k in ("starts", "seeks", "replays", "dropoffs", "reactions")}
    assert nz["starts"].get(0) == 3, nz
    assert nz["seeks"] == {6: 1, 7: 1, 2: 1}, nz
    assert nz["replays"] == {2: 1}, nz
    assert nz["reactions"] == {math.floor(did["react_at"]): 1}, (nz, did)
    # drop-offs: listener 1 where they paused, listener 3 at the furthest point reached (not the replay)
    assert sum(nz["dropoffs"].values()) == 2, nz
    assert math.floor(did["l1_reach"]) in nz["dropoffs"], (nz, did)
    assert max(nz["dropoffs"]) >= math.floor(did["l3_reach"]), (nz, did)
    assert h["interactions"].get("visualizer") == 1, h["interactions"]
    assert h["duration"] == pytest.approx(heat_track["duration"], abs=0.1)
