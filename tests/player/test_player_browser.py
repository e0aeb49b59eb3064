"""The player in Debian's Chromium against a live companion: real audio, seeking, HLS levels,
downloads, the iframe API, oEmbed discovery, beacons stored, and screenshots at 1024 and 320 px."""
from __future__ import annotations

import html
import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def wait_for(page, js, timeout=15000, arg=None):
    page.wait_for_function(js, arg=arg, timeout=timeout)


def open_track(page, live, idx=0, query=""):
    t = live.tracks[idx]
    page.goto(f"{live.url}/embed/track/{t['id']}{query}")
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players.length && ScriptHammer.players[0].track")
    return t


def test_plays_real_audio_through_hls_and_the_analyser_hears_it(page, live):
    t = open_track(page, live, query="?vis=spectrum")
    state = page.evaluate("ScriptHammer.players[0].getState()")
    assert state["mode"] == "hls.js" and state["track"]["id"] == t["id"]
    page.click(".shp-play")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 1.0")
    t0 = page.evaluate("ScriptHammer.players[0].currentTime")
    page.wait_for_timeout(1000)
    t1 = page.evaluate("ScriptHammer.players[0].currentTime")
    assert 0.5 < t1 - t0 < 2.0, (t0, t1)
    # The AnalyserNode on the output sees a signal, not silence.
    levels = []
    for _ in range(10):
        levels.append(page.evaluate("ScriptHammer.players[0].audioLevel()"))
        page.wait_for_timeout(50)
    assert max(levels) > 0.01, levels
    assert page.evaluate("ScriptHammer.players[0].visualizer.frames") > 5
    st = page.evaluate("ScriptHammer.players[0].getState()")
    assert len(st["levels"]) >= 3 and not st["paused"]
    assert page.get_attribute(".shp-play", "aria-label") == "Pause"
    assert page.errors == []


def test_clicking_the_waveform_seeks(page, live):
    t = open_track(page, live)
    wait_for(page, "() => ScriptHammer.players[0].waveform.bars !== null")  # peaks drawn
    box = page.locator(".shp-wave").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    pos = page.evaluate("ScriptHammer.players[0].currentTime")
    assert abs(pos - 0.75 * t["duration"]) < 1.0, pos
    assert int(page.get_attribute(".shp-wave", "aria-valuenow")) == round(pos)
    page.click(".shp-play")
    wait_for(page, f"() => ScriptHammer.players[0].currentTime > {pos + 0.3}")
    # Keyboard: left arrow on the slider goes back 5 s.
    page.focus(".shp-wave")
    before = page.evaluate("ScriptHammer.players[0].currentTime")
    page.keyboard.press("ArrowLeft")
    after = page.evaluate("ScriptHammer.players[0].currentTime")
    assert before - 5.5 < after < before - 4.0


def test_switches_hls_level_when_asked(page, live):
    open_track(page, live)
    page.evaluate("""() => { window.switches = [];
        ScriptHammer.players[0].on('levelswitch', d => switches.push(d)); }""")
    page.click(".shp-play")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 0.3")
    levels = page.evaluate("ScriptHammer.players[0].getState().levels")
    bitrates = [lv["bitrate"] for lv in levels]
    assert bitrates == sorted(bitrates) and bitrates[-1] > 2 * bitrates[0]
    for target in (0, len(levels) - 1):
        page.select_option(".shp-quality", str(target))  # as a listener would
        wait_for(page, f"() => switches.some(s => s.level === {target})")
        wait_for(page, "() => !ScriptHammer.players[0].paused && ScriptHammer.players[0].audio.readyState >= 3")
        assert page.evaluate("ScriptHammer.players[0].getState().level") == target
    assert page.evaluate("ScriptHammer.players[0].setLevel(-1)") is True
    assert page.evaluate("ScriptHammer.players[0].getState().autoLevel") is True


def test_lists_downloads_with_sizes_and_a_locked_track_lists_none(page, live):
    t = open_track(page, live)
    page.click(".shp-dl-toggle")
    assert page.get_attribute(".shp-dl-toggle", "aria-expanded") == "true"
    items = page.eval_on_selector_all(".shp-downloads a.shp-dl", """els => els.map(a => ({
        format: a.dataset.format, href: a.href, size: a.querySelector('.shp-dl-size').textContent,
        label: a.getAttribute('aria-label')}))""")
    expected = {r["name"] for r in t["renditions"] if r["kind"] == "download"}
    assert {i["format"] for i in items} == expected and len(expected) >= 8
    for i in items:
        assert i["size"].endswith(("KB", "MB")) and i["href"].startswith(live.url + "/media/")
        assert i["label"].startswith("Download ")
    # A premium track a fan has not bought: the companion sends only the preview, and the menu lists no
    # format, only where to buy (tests/player/test_access_browser.py plays the real thing).
    premium = dict(t, release_state="premium", hls_url=None, buy_url="http://shop.test/product/x/",
                   renditions=[r for r in t["renditions"] if r["kind"] == "preview"],
                   access={"stream": "preview", "download": False, "why": "locked", "expires_at": None,
                           "buy_url": "http://shop.test/product/x/"})
    page.evaluate("t => ScriptHammer.players[0].load(t)", premium)
    assert page.locator(".shp-downloads a.shp-dl").count() == 0
    note = page.locator(".shp-downloads .shp-dl-locked")
    assert "Buy this track" in note.text_content()
    # the buy link carries this play's attribution (docs/analytics.md: tips and purchases attributed to a play)
    session = page.evaluate("ScriptHammer.players[0].beacons.session")
    assert note.locator("a").first.get_attribute("href") == f"http://shop.test/product/x/?sh_play={session}.{t['id']}"
    assert page.locator(".shp-prompt").is_visible()


def test_album_mode_next_previous_continuous_play_and_remembered_positions(page, live):
    album = live.album
    page.goto(f"{live.url}/embed/album/{album['id']}")
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players[0] && ScriptHammer.players[0].track")
    assert page.locator(".shp-list li").count() == 3
    assert page.get_attribute(".shp-list li:nth-child(1) button", "aria-current") == "true"
    page.evaluate("ScriptHammer.players[0].seek(6)")
    page.click(".shp-next")
    assert page.evaluate("ScriptHammer.players[0].track.id") == album["tracks"][1]["id"]
    # Continuous play: the end of track 2 starts track 3.
    page.evaluate("p => { const pl = ScriptHammer.players[0]; pl.seek(pl.duration - 0.6); pl.play(); }", None)
    wait_for(page, f"() => ScriptHammer.players[0].track.id === {album['tracks'][2]['id']} && "
                   "!ScriptHammer.players[0].paused", timeout=20000)
    # Back on track 1 it resumes where the listener left it.
    page.evaluate("ScriptHammer.players[0].load(%d)" % album["tracks"][0]["id"])
    wait_for(page, "() => Math.abs(ScriptHammer.players[0].currentTime - 6) < 0.6")
    page.reload()
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players[0] && ScriptHammer.players[0].track")
    wait_for(page, "() => Math.abs(ScriptHammer.players[0].currentTime - 6) < 0.6")


def test_keyboard_space_arrows_and_m(page, live):
    open_track(page, live)
    page.locator(".shp").focus()
    page.keyboard.press("Space")
    wait_for(page, "() => !ScriptHammer.players[0].paused && ScriptHammer.players[0].currentTime > 0.2")
    t = page.evaluate("ScriptHammer.players[0].currentTime")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("ScriptHammer.players[0].currentTime") > t + 4
    page.keyboard.press("m")
    assert page.evaluate("ScriptHammer.players[0].muted") is True
    page.wait_for_selector(".shp-mute[aria-label='Unmute'][aria-pressed='true']", timeout=3000)
    page.keyboard.press("M")
    assert page.evaluate("ScriptHammer.players[0].muted") is False
    v = page.evaluate("ScriptHammer.players[0].volume")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("ScriptHammer.players[0].volume") == pytest.approx(v - 0.1, abs=0.01)
    page.keyboard.press("Space")
    assert page.evaluate("ScriptHammer.players[0].paused") is True
    # Every control has a name a screen reader can say.
    unnamed = page.eval_on_selector_all(".shp button, .shp select, .shp [role=slider]", """els => els
        .filter(e => !e.hidden && !(e.getAttribute('aria-label') || e.textContent.trim()))
        .map(e => e.outerHTML.slice(0, 80))""")
    assert unnamed == []


def test_oembed_discovery_and_the_js_api_across_the_iframe(page, live, host_site):
    """As WordPress does: fetch the track URL, find the oEmbed link, fetch it, put its HTML in a post;
    then the post's page (another origin) drives the player inside the iframe with postMessage."""
    t = live.tracks[0]
    # WordPress discovers the provider server-side: GET the URL, read the <link>, GET the oEmbed JSON.
    track_url = f"{live.url}/embed/track/{t['id']}"
    with urllib.request.urlopen(track_url) as resp:
        link = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', resp.read().decode())
    assert link, "no oEmbed discovery link on the track page"
    with urllib.request.urlopen(html.unescape(link.group(1))) as resp:
        assert resp.headers["Content-Type"].startswith("application/json")
        found = {"oembed": json.loads(resp.read())}
    host_site.pages["/2026/01/new-song/"] = f"""<!doctype html><html><body>
        <article id="post">{found["oembed"]["html"]}</article>
        <script src="{live.url}/player/embed-api.js"></script></body></html>"""
    page.goto(f"{host_site.url}/2026/01/new-song/")
    o = found["oembed"]
    assert o["type"] == "rich" and o["version"] == "1.0" and o["title"] == t["title"]
    assert f'src="{live.url}/embed/track/{t["id"]}"' in o["html"]
    page.evaluate("""() => new Promise(res => {
        window.events = [];
        window.remote = ScriptHammer.connect(document.querySelector('#post iframe'));
        remote.on('*', (type, d) => events.push(type));
        remote.whenReady().then(res);
    })""")
    state = page.evaluate("remote.getState()")
    assert state["track"]["id"] == t["id"] and state["paused"] is True
    page.evaluate("remote.play()")
    wait_for(page, "() => events.includes('play') && events.includes('timeupdate')")
    assert page.evaluate("remote.seek(10)") == 10
    wait_for(page, "() => remote.state && remote.state.currentTime >= 10")
    page.evaluate("remote.setLevel(0)")
    wait_for(page, "() => events.includes('levelswitch')")
    page.evaluate("remote.pause()")
    wait_for(page, "() => events.includes('pause')")
    second = live.tracks[1]
    loaded = page.evaluate(f"remote.load({second['id']})")
    assert loaded["id"] == second["id"]
    assert page.evaluate("remote.getState()")["track"]["title"] == second["title"]
    with pytest.raises(Exception, match="unknown method"):
        page.evaluate("remote.call('destroy')")


def test_beacons_are_sent_and_stored(page, live):
    t = open_track(page, live, idx=2)
    page.evaluate("() => { ScriptHammer.players[0].options.tip = null; }")
    page.click(".shp-play")
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 0.5")
    page.evaluate("ScriptHammer.players[0].seek(5)")
    page.evaluate("ScriptHammer.players[0].setLevel(0)")
    wait_for(page, "() => ScriptHammer.players[0].getState().level === 0")
    page.click(".shp-play")  # pause
    assert page.evaluate("ScriptHammer.players[0].react('fire', 'what a riff')") is True
    page.click(".shp-dl-toggle")
    with page.expect_download():
        page.click(".shp-downloads a[data-format='flac']")
    session = page.evaluate("ScriptHammer.players[0].beacons.session")
    # Leaving the page flushes the rest with sendBeacon.
    page.goto("about:blank")
    deadline = time.time() + 10
    kinds: list[str] = []
    while time.time() < deadline:
        kinds = [e.event for e in live.events(session_id=session)]
        if {"play", "seek", "bitrate", "pause", "download", "reaction"} <= set(kinds):
            break
        time.sleep(0.2)
    assert {"play", "seek", "bitrate", "pause", "download", "reaction"} <= set(kinds), kinds
    rows = live.events(session_id=session)
    assert {r.track_id for r in rows} == {t["id"]}
    seek = next(r for r in rows if r.event == "seek")
    assert seek.data["to"] == 5 and seek.position == 5
    assert next(r for r in rows if r.event == "download").data["format"] == "flac"
    assert next(r for r in rows if r.event == "play").data["mode"] == "hls.js"
    assert next(r for r in rows if r.event == "reaction").data == {"emoji": "fire", "text": "what a riff"}
    # batches are numbered within the session (a replay is refused), and listeners are pseudonymous
    assert {r.event_uid.rsplit(".", 2)[0] for r in rows} == {session}
    assert {int(r.event_uid.rsplit(".", 2)[1]) for r in rows} <= set(range(10))
    assert len({r.listener for r in rows}) == 1 and len(rows[0].listener) == 32


def test_tip_jar_posts_the_amount_to_the_woocommerce_tip_product(page, live):
    t = open_track(page, live)
    posted = {}

    def shop(route):
        posted.update(method=route.request.method, body=route.request.post_data)
        route.fulfill(status=200, content_type="text/html", body="<p>cart</p>")

    page.route("http://shop.test/**", shop)
    page.evaluate("""() => { const p = ScriptHammer.players[0];
        p.options.tip = {url: 'http://shop.test/product/tip/', productId: 42, presets: [2, 5, 20], currency: 'EUR',
                         target: '_self'};
        p.el.tipButton.hidden = false; p._renderTip(p.track); }""")
    page.click(".shp-tip-toggle")
    assert page.locator(".shp-tip-preset").count() == 3
    page.click(".shp-tip-preset[data-amount='20']")
    assert page.input_value(".shp-tip-amount") == "20"
    page.fill(".shp-tip-amount", "7.5")
    session = page.evaluate("ScriptHammer.players[0].beacons.session")
    with page.expect_navigation():
        page.click(".shp-tip-send")
    assert posted["method"] == "POST"
    assert "add-to-cart=42" in posted["body"] and "scripthammer_tip_amount=7.5" in posted["body"]
    assert f"scripthammer_track={t['id']}" in posted["body"]
    assert f"sh_play={session}.{t['id']}" in posted["body"]  # the play attribution the plugin keeps on the order
    deadline = time.time() + 5
    while time.time() < deadline and not live.events(event="tip_click"):
        time.sleep(0.2)
    tip = live.events(event="tip_click")[-1]
    assert tip.data == {"amount": 7.5, "currency": "EUR"}


@pytest.mark.parametrize("width", [1024, 320])
def test_screenshots_at_desktop_and_320px_no_overflow_no_layout_shift(browser, live, width):
    ctx = browser.new_context(viewport={"width": width, "height": 640}, device_scale_factor=1)
    page = ctx.new_page()
    page.add_init_script("""window.__cls = 0; new PerformanceObserver(list => { for (const e of list.getEntries())
        if (!e.hadRecentInput) window.__cls += e.value; }).observe({type: 'layout-shift', buffered: true});""")
    try:
        album = live.album
        page.goto(f"{live.url}/embed/album/{album['id']}")
        page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players[0] && "
                               "ScriptHammer.players[0].waveform.bars !== null")
        page.wait_for_timeout(300)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"player-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 5000
        m = page.evaluate("""() => {
            const de = document.documentElement, root = document.querySelector('.shp');
            const vis = sel => { const e = document.querySelector(sel); if (!e) return null;
                const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
                return {x: r.left, right: r.right, w: r.width, h: r.height, shown: s.display !== 'none' &&
                        s.visibility !== 'hidden' && r.width > 0 && r.height > 0}; };
            const overflowing = [...root.querySelectorAll('*')].filter(e => {
                const r = e.getBoundingClientRect(); return r.width && (r.right > de.clientWidth + 0.5 || r.left < -0.5)
                && getComputedStyle(e).display !== 'none' && !e.closest('.shp-sr'); }).map(e => e.className);
            return {scrollW: de.scrollWidth, clientW: de.clientWidth, overflowing, cls: window.__cls,
                    play: vis('.shp-play'), wave: vis('.shp-wave'), title: vis('.shp-title'), next: vis('.shp-next'),
                    dl: vis('.shp-dl-toggle'), list: vis('.shp-list'), quality: vis('.shp-quality')};
        }""")
        assert m["scrollW"] <= m["clientW"], m
        assert m["overflowing"] == [], m["overflowing"]
        for key in ("play", "wave", "title", "next", "dl", "list"):
            assert m[key] and m[key]["shown"], (key, m[key])
        assert m["play"]["w"] >= 32 and m["play"]["h"] >= 32  # a comfortable touch target
        assert m["wave"]["w"] >= (0.6 * width if width > 400 else 180)
        assert m["cls"] < 0.01, m["cls"]
        # The pixels: the screenshot is not blank (the waveform and the accent colour are drawn).
        png = page.screenshot(clip={"x": m["wave"]["x"], "y": 0, "width": m["wave"]["w"], "height": 200})
        assert len(set(png[::97])) > 20
    finally:
        ctx.close()


def test_the_embed_page_preloads_the_start_rung(live):
    t = live.tracks[0]
    with urllib.request.urlopen(f"{live.url}/embed/track/{t['id']}") as resp:
        page_html = resp.read().decode()
    preloads = re.findall(r'<link rel="preload" href="([^"]+)" as="fetch"', page_html)
    assert len(preloads) == 4 and preloads[0] == t["hls_url"].replace("http://localhost", live.url)
    # The start rung's playlist, its fMP4 init segment (#EXT-X-MAP) and first media segment.
    assert preloads[1].endswith(".m3u8") and preloads[2].endswith("_init.mp4") and preloads[3].endswith(".m4s")
    cfg = json.loads(re.search(r'id="scripthammer-config">(.*?)</script>', page_html, re.S).group(1))
    assert cfg["startLevel"] == 1  # the 96 kbps rung of 48/96/192


def test_reduced_motion_starts_with_the_visualizer_off(browser, live):
    ctx = browser.new_context(reduced_motion="reduce")
    page = ctx.new_page()
    try:
        page.goto(f"{live.url}/embed/track/{live.tracks[1]['id']}")
        page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players[0] && ScriptHammer.players[0].track")
        assert page.evaluate("ScriptHammer.players[0].getState().visualizer") == "off"
        assert page.locator(".shp-viz").is_hidden()
        page.click(".shp-play")
        page.wait_for_function("() => ScriptHammer.players[0].currentTime > 0.3")
        assert page.evaluate("ScriptHammer.players[0].visualizer.frames") == 0
        page.select_option(".shp-vizmode", "oscilloscope")  # the listener may still switch it on
        page.wait_for_function("() => ScriptHammer.players[0].visualizer.frames > 3")
    finally:
        ctx.close()


def test_autoplay_fast_start_hands_its_buffer_to_hls_js(page, live):
    """boot.js plays the preloaded init + first segment through MSE before the bundle runs; the player
    adopts that element and buffer, and hls.js goes on from the end of it with adaptive bit rate."""
    t = live.tracks[0]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live.url}/embed/track/{t['id']}?autoplay=1&vis=off")
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players.length && ScriptHammer.players[0].getState().ready")
    st = page.evaluate("ScriptHammer.players[0].getState()")
    assert st["fastStart"] is True and st["mode"] == "hls.js" and not st["paused"]
    assert st["level"] == 1 and len(st["levels"]) >= 3  # the start rung, then whatever the ABR picks
    assert page.evaluate("document.querySelectorAll('audio').length") == 1  # one element, the player's
    assert page.get_attribute(".shp-play", "aria-label") == "Pause"
    # Playback runs across the end of the fast start's segment into fragments hls.js appended.
    wait_for(page, "() => ScriptHammer.players[0].currentTime > 4.6", timeout=20000)
    assert page.evaluate("""() => { const a = ScriptHammer.players[0].audio;
        return a.buffered.length === 1 && a.buffered.end(0) > 8; }""")
    first = [u for u in requests if u.endswith("_00000.m4s")]
    assert len(first) == 1, first  # the fast start's segment is not fetched (or appended) again
    # Level switching still works on the adopted buffer.
    page.evaluate("ScriptHammer.players[0].setLevel(0)")
    wait_for(page, "() => ScriptHammer.players[0].getState().level === 0", timeout=15000)
    assert page.errors == []


def test_no_fast_start_when_starting_elsewhere(page, live):
    t = live.tracks[0]
    page.goto(f"{live.url}/embed/track/{t['id']}?autoplay=1&vis=off&t=6")
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players.length && ScriptHammer.players[0].currentTime > 6.2")
    st = page.evaluate("ScriptHammer.players[0].getState()")
    assert st["fastStart"] is False and st["mode"] == "hls.js" and not st["paused"]
    assert page.errors == []


def test_a_failed_fast_start_falls_back_to_the_usual_start(page, live):
    """When the fast start cannot fetch its segment, the bundle still comes and hls.js starts as usual."""
    aborted: list[str] = []

    def first_segment(route):
        if not aborted:
            aborted.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*_00000.m4s", first_segment)
    page.goto(f"{live.url}/embed/album/{live.album['id']}?autoplay=1&vis=off")
    wait_for(page, "() => window.ScriptHammer && ScriptHammer.players.length && ScriptHammer.players[0].currentTime > 0.5")
    st = page.evaluate("ScriptHammer.players[0].getState()")
    assert aborted and st["fastStart"] is False and st["mode"] == "hls.js" and not st["paused"]
    assert st["track"]["id"] == live.album["tracks"][0]["id"]
    assert page.evaluate("window.ScriptHammerBoot.state") == "failed"
    assert page.evaluate("document.querySelectorAll('audio').length") == 1
    assert page.errors == []
