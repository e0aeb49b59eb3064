"""A premium track in Debian's Chromium: as anyone, as a fan who bought it, and after the refund.

The fan's listener token travels as WordPress sends it: in the embed iframe URL's fragment
(``#shl=...``); the player takes it out of the address, asks the companion for the fan's view
and plays the signed per-listener stream.
"""
from __future__ import annotations

import urllib.request
import uuid

import pytest

from companion.access import service as access
from companion.access.tokens import make_listener_token
from tests.conftest import make_audio

pytestmark = pytest.mark.browser

BUY = "http://shop.test/product/gold-standard/"
SUBSCRIBE = "http://shop.test/membership/"
FAN = 9001


@pytest.fixture(scope="module")
def premium(live):
    """A 45-second premium track (its preview is the first 30 s) in an album with a buy link."""
    from rq import SimpleWorker

    from jobs import context

    app = live.app
    cfg = app.config["SCRIPTHAMMER"]
    client = app.test_client()
    h = live.auth("ivory")
    album = client.post("/api/albums", json={"title": "Gold", "release_state": "premium", "buy_url": BUY},
                        headers=h).get_json()
    t = client.post("/api/tracks", json={"title": "Gold Standard", "release_state": "premium",
                                         "album_id": album["id"], "track_number": 1}, headers=h).get_json()
    wav = make_audio(cfg.var_dir / "gold.wav", seconds=45.0, volume_db=-14)
    with open(wav, "rb") as fh:
        r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "gold.wav")}, headers=h,
                        content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    context.configure(cfg)
    svc = app.extensions["scripthammer"]
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    band = client.get(f"/api/tracks/{t['id']}", headers=h).get_json()
    assert band["status"] == "ready" and band["duration"] > 44, band
    before, cfg.unlock_url = cfg.unlock_url, SUBSCRIBE
    yield band
    cfg.unlock_url = before


def token_for(live, wp_user_id=FAN):
    return make_listener_token(live.app.config["SCRIPTHAMMER"].wp_shared_secret, wp_user_id, display_name="Fan")


def entitle(live, track_id):
    ref = f"wc-order:{uuid.uuid4().hex[:8]}"
    with live.app.extensions["scripthammer"].db.session() as s:
        access.upsert(s, listener=access.listener_for(s, FAN), source="purchase", source_ref=ref,
                      scope=access.scope_of("track", track_id))
    return ref


def revoke(live, ref):
    with live.app.extensions["scripthammer"].db.session() as s:
        access.revoke(s, source="purchase", source_ref=ref, reason="refunded")


def open_player(page, url):
    page.goto(url)
    page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length && "
                           "ScriptHammer.players[0].getState().ready", timeout=20000)


def assert_preview_only(page):
    st = page.evaluate("ScriptHammer.players[0].getState()")
    assert st["mode"] == "preview", st
    assert page.locator(".shp-badge").is_visible()
    prompt = page.locator(".shp-prompt")
    assert prompt.is_visible() and "preview" in prompt.text_content()
    # the links carry the play attribution (this player's session and the track) for the shop to keep
    play = page.evaluate("(() => { const p = ScriptHammer.players[0]; return `${p.beacons.session}.${p.track.id}`; })()")
    assert _unplayed(prompt.locator("a.shp-prompt-buy").get_attribute("href"), play) == BUY
    assert _unplayed(prompt.locator("a.shp-prompt-subscribe").get_attribute("href"), play) == SUBSCRIBE
    page.click(".shp-play")
    page.wait_for_function("() => ScriptHammer.players[0].currentTime > 0.3")
    # The preview is all there is: 30 s, and seeking beyond it goes nowhere past it.
    assert 29 < page.evaluate("ScriptHammer.players[0].audio.duration") < 31
    page.evaluate("ScriptHammer.players[0].seek(40)")
    page.wait_for_timeout(500)
    assert page.evaluate("ScriptHammer.players[0].currentTime") <= 30.5
    page.click(".shp-dl-toggle")
    assert page.locator(".shp-downloads a.shp-dl").count() == 0
    assert _unplayed(page.locator(".shp-downloads .shp-dl-locked a").first.get_attribute("href"), play) == BUY


def _unplayed(href: str, play: str) -> str:
    """``href`` without its sh_play argument, which must be ``play``."""
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    parts = urlsplit(href)
    query = parse_qs(parts.query)
    assert query.pop("sh_play") == [play], href
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


def test_anyone_hears_the_preview_and_is_asked_to_buy(page, live, premium):
    open_player(page, f"{live.url}/embed/track/{premium['id']}")
    assert_preview_only(page)
    assert page.errors == []


def test_an_entitled_fan_hears_it_all_and_downloads_it_then_a_refund_ends_it(browser, live, premium):
    ref = entitle(live, premium["id"])
    ctx = browser.new_context()
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    seen: list[dict] = []
    page.on("request", lambda r: seen.append({"url": r.url, "headers": r.headers}))
    token = token_for(live)
    try:
        open_player(page, f"{live.url}/embed/track/{premium['id']}?vis=off#shl={token}")
        # The token leaves the address bar at once and never travels in a URL or a Referer.
        assert "shl=" not in page.evaluate("location.href")
        assert all(token not in r["url"] and token not in r["headers"].get("referer", "") for r in seen)
        api = [r for r in seen if f"/api/tracks/{premium['id']}" in r["url"]]
        assert api and api[-1]["headers"].get("authorization") == f"Bearer {token}"
        media = [r for r in seen if "/media/" in r["url"]]
        assert all("authorization" not in r["headers"] for r in media)  # media go by signed URL only
        # hls.js lists the ladder once it has parsed the signed master playlist (later on a loaded machine).
        page.wait_for_function("() => (ScriptHammer.players[0].getState().levels || []).length >= 3", timeout=20000)
        st = page.evaluate("ScriptHammer.players[0].getState()")
        assert st["mode"] == "hls.js" and len(st["levels"]) >= 3, st
        assert page.locator(".shp-prompt").is_hidden() and page.locator(".shp-badge").is_hidden()
        # Past the preview's 30 s: the full track, through the signed per-listener playlist.
        page.evaluate("ScriptHammer.players[0].seek(36)")
        page.click(".shp-play")
        page.wait_for_function("() => ScriptHammer.players[0].currentTime > 37.5", timeout=20000)
        assert page.evaluate("ScriptHammer.players[0].duration") > 44
        segs = [r["url"] for r in seen if r["url"].split("?")[0].endswith(".m4s")]
        assert segs and all("sig=" in u and "lid=l." in u for u in segs)
        # ...which are the track's A/B marked variants (premium): this fan's own sequence of them
        assert all("/media/hls-ab/" in u for u in segs)
        # The download menu lists every format, each a link signed for this fan.
        page.click(".shp-dl-toggle")
        links = page.eval_on_selector_all(".shp-downloads a.shp-dl", "els => els.map(a => [a.dataset.format, a.href])")
        formats = {f for f, _ in links}
        assert {"mp3-320", "flac", "wav", "opus-160"} <= formats and len(formats) >= 8
        assert all("sig=" in href for _, href in links)
        mp3 = dict(links)["mp3-320"]
        with urllib.request.urlopen(mp3) as resp:  # the link alone is enough (no cookie, no header)
            data = resp.read()
        size = next(r["size"] for r in premium["renditions"] if r["name"] == "mp3-320")
        assert resp.status == 200 and len(data) == size
        assert page.errors == []
    finally:
        revoke(live, ref)
        ctx.close()
    # After the refund, a new page (a fresh token from WordPress): the preview and the prompt again.
    ctx = browser.new_context()
    page = ctx.new_page()
    page.errors = []
    try:
        open_player(page, f"{live.url}/embed/track/{premium['id']}?vis=off#shl={token_for(live)}")
        assert page.evaluate("ScriptHammer.players[0].track.access.why") == "locked"
        assert_preview_only(page)
    finally:
        ctx.close()


def test_an_expired_token_falls_back_to_the_preview_and_says_so(page, live, premium):
    import time

    ref = entitle(live, premium["id"])
    try:
        old = make_listener_token(live.app.config["SCRIPTHAMMER"].wp_shared_secret, FAN, now=time.time() - 4000)
        open_player(page, f"{live.url}/embed/track/{premium['id']}#shl={old}")
        assert page.evaluate("ScriptHammer.players[0].getState().mode") == "preview"
        assert "sign-in has expired" in page.locator(".shp-prompt").text_content()
        assert "sign-in has expired" in page.locator(".shp-status").text_content()
    finally:
        revoke(live, ref)
