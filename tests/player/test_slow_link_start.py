"""The autoplay start on a slow mobile link (Chromium's network emulation: 1.6 Mbit/s down, 150 ms round
trips): the first segment has the link to itself, the bundle comes after it, and the player still adopts
the fast start's element and buffer."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

MOBILE = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8, "uploadThroughput": 750_000 / 8}


def _resource(page, suffix: str) -> dict:
    entries = page.evaluate("() => performance.getEntriesByType('resource').map(r => "
                            "({name: r.name, start: r.startTime, end: r.responseEnd}))")
    found = [e for e in entries if e["name"].split("?")[0].endswith(suffix)]
    assert len(found) == 1, (suffix, entries)
    return found[0]


def test_on_a_slow_link_the_first_segment_is_not_shared_with_the_bundle(page, live):
    t = live.tracks[0]
    html = page.request.get(f"{live.url}/embed/track/{t['id']}?autoplay=1&vis=off").text()
    # the autoplay page preloads the start rung only; the page without autoplay still preloads the bundle
    assert not re.search(r'<link rel="preload" href="[^"]+/player\.js[^"]*" as="script">', html)
    assert len(re.findall(r'<link rel="preload" href="[^"]+" as="fetch"', html)) == 4
    plain = page.request.get(f"{live.url}/embed/track/{t['id']}?vis=off").text()
    assert re.search(r'<link rel="preload" href="[^"]+/player\.js[^"]*" as="script">', plain)

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", MOBILE)
    page.goto(f"{live.url}/embed/track/{t['id']}?autoplay=1&vis=off", wait_until="commit")
    page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length && "
                           "ScriptHammer.players[0].getState().ready && ScriptHammer.players[0].currentTime > 0.5",
                           timeout=30000)
    st = page.evaluate("ScriptHammer.players[0].getState()")
    assert st["fastStart"] is True and st["mode"] == "hls.js" and not st["paused"]
    segment, bundle = _resource(page, "_00000.m4s"), _resource(page, "/player.js")
    # the bundle was asked for only once the first segment was in (the boot script's hint)
    assert bundle["start"] >= segment["end"] - 1, (segment, bundle)
    assert page.errors == []
