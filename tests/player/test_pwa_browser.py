"""The player as an installable app in Debian's Chromium: the manifest and the Workbox service worker
(installable: no errors from Page.getInstallabilityErrors), a saved track playing with the network off,
the Media Session actions, playback that goes on in a hidden page, Web Push messages shown by the real
service worker (delivered through CDP), and the adversarial cases: a fan who may not download a premium
track cannot save it, and a saved premium track is not served to another listener on the same profile.

The app's tests run in a persistent browser profile (not an incognito context, where Chromium does not
offer installation), launched from the module's Chromium (tests/browser.py's binary and arguments).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.player.test_access_browser import FAN, entitle, premium, token_for  # noqa: F401

pytestmark = pytest.mark.browser

READY = "() => window.ScriptHammer && ScriptHammer.players.length && ScriptHammer.players[0].getState().ready"
CONTROLLED = "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null"


@pytest.fixture
def device(browser, tmp_path):
    """A persistent Chromium profile (one 'device'), closed after the test."""
    ctx = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1024, "height": 720})
    yield ctx
    ctx.close()


@pytest.fixture
def profile(device, live):
    """A device where the fan opened the app once (/app installed the service worker for the site)."""
    page = open_app(device, f"{live.url}/app")
    page.close()
    return device


def open_app(ctx, url, page=None):
    page = page or ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(READY, timeout=30000)
    page.wait_for_function(CONTROLLED, timeout=30000)
    return page


def eventually(page, fn, timeout=10.0):
    """``fn``'s (awaited) value once truthy, or its last value after ``timeout`` seconds (an async check:
    wait_for_function takes a returned promise for a true value)."""
    import time

    until = time.monotonic() + timeout
    while True:
        value = page.evaluate(fn)
        if value or time.monotonic() > until:
            return value
        page.wait_for_timeout(100)


def state(page):
    return page.evaluate("ScriptHammer.players[0].getState()")


def offline_items(page):
    return page.evaluate("ScriptHammer.players[0].offlineItems()")


def test_an_embed_page_alone_starts_no_service_worker_nor_offers_offline_saves(device, live):
    page = device.new_page()
    page.goto(f"{live.url}/embed/track/{live.tracks[0]['id']}?vis=off")
    page.wait_for_function(READY, timeout=30000)
    page.wait_for_timeout(1000)
    assert page.evaluate("navigator.serviceWorker.getRegistrations().then(rs => rs.length)") == 0
    page.click(".shp-dl-toggle")
    assert page.locator(".shp-offline").count() == 0
    assert page.evaluate("ScriptHammer.players[0].saveOffline().then(() => 'saved', e => e.code)") == "offline_unavailable"


def test_the_app_installs_manifest_service_worker_and_app_shell(device, live):
    profile = device
    # ?album=: the session's companion is shared by the player tests, and another module's album may be
    # the newest one, which /app shows by default
    page = open_app(profile, f"{live.url}/app?album={live.album['id']}")
    assert page.title().startswith(f"{live.album['title']} by ")
    assert state(page)["tracks"] == [t["id"] for t in live.tracks]
    manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/app" and manifest["scope"] == "/"
    assert {i["sizes"] for i in manifest["icons"] if i["purpose"] == "any"} == {"192x192", "512x512"}
    # the icons are real PNGs of the sizes they claim
    for icon in manifest["icons"]:
        size = page.evaluate("""(src) => new Promise((ok, no) => { const im = new Image(); im.onload = () =>
            ok(im.naturalWidth + 'x' + im.naturalHeight); im.onerror = () => no(new Error(src)); im.src = src; })""",
                             icon["src"])
        assert size == icon["sizes"]
    sw = page.evaluate("navigator.serviceWorker.ready.then(r => [r.active.state, r.active.scriptURL, r.scope])")
    assert sw == ["activated", f"{live.url}/sw.js", f"{live.url}/"]
    cdp = profile.new_cdp_session(page)
    app_manifest = cdp.send("Page.getAppManifest")
    assert app_manifest["url"] == f"{live.url}/manifest.webmanifest" and app_manifest["errors"] == []
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    # the app shell is precached (Workbox), the page kept for offline starts; nothing of a listener's own
    cached = page.evaluate("""async () => { const out = {}; for (const name of await caches.keys()) {
        const c = await caches.open(name); out[name] = (await c.keys()).map(r => new URL(r.url).pathname); } return out; }""")
    precache = next(v for k, v in cached.items() if k.startswith("workbox-precache"))
    assert {"/player/player.js", "/player/player.css", "/player/boot.js", "/player/icon-192.png"} <= set(precache)
    assert eventually(page, "() => caches.open('sh-pages').then(c => c.match(location.href)).then(Boolean)")
    assert not any(name.startswith("sh-offline-") for name in cached)
    assert not page.errors, page.errors


def test_a_saved_track_plays_with_the_network_off_and_can_be_removed(profile, live):
    track = live.tracks[0]  # 20 s, public
    page = open_app(profile, f"{live.url}/embed/track/{track['id']}?vis=off")
    page.click(".shp-dl-toggle")
    page.click(".shp-offline-save")
    page.wait_for_selector(".shp-offline-saved", timeout=30000)
    items = offline_items(page)
    assert [(i["id"], i["title"]) for i in items] == [(track["id"], track["title"])]
    download = {r["name"]: r for r in track["renditions"]}[items[0]["format"]]
    assert items[0]["bytes"] == download["size"] > 10000
    page.wait_for_selector(f".shp-offline-list li[data-track='{track['id']}']")

    profile.set_offline(True)
    try:
        page.reload()
        page.wait_for_function(READY, timeout=30000)
        assert page.evaluate("fetch('/api/tracks/%d', {cache: 'no-store', headers: {Authorization: 'Bearer x'}})"
                             ".then(() => 'online', () => 'offline')" % track["id"]) == "offline"
        st = state(page)
        assert st["offline"] and st["mode"] == "offline", st
        page.evaluate("ScriptHammer.players[0].play()")
        page.wait_for_function("() => ScriptHammer.players[0].currentTime > 1.5", timeout=20000)
        t0 = page.evaluate("ScriptHammer.players[0].currentTime")
        page.wait_for_timeout(1000)
        assert page.evaluate("ScriptHammer.players[0].currentTime") > t0 + 0.4
        assert 19 < page.evaluate("ScriptHammer.players[0].audio.duration") < 21
        # the saved waveform came along: peaks drawn from the saved copy
        page.wait_for_function("() => ScriptHammer.players[0].waveform.bars && ScriptHammer.players[0].waveform.bars.length > 0",
                               timeout=10000)
        page.evaluate("ScriptHammer.players[0].seek(15)")  # a range from the saved bytes
        page.wait_for_function("() => ScriptHammer.players[0].currentTime > 15.3", timeout=10000)
    finally:
        profile.set_offline(False)
    page.click(".shp-dl-toggle") if page.is_hidden(".shp-offline") else None
    page.click(".shp-offline-remove")
    page.wait_for_selector(".shp-offline-save", timeout=10000)
    assert offline_items(page) == []
    status = page.evaluate("fetch(location.origin + '/offline/anon/%d/audio').then(r => r.status)" % track["id"])
    assert status == 404


def test_media_session_actions_drive_the_player_and_hidden_pages_keep_playing(browser, live):
    ctx = browser.new_context(viewport={"width": 1024, "height": 720})
    ctx.add_init_script("""
      window.__ms = {};
      const ms = navigator.mediaSession;
      const setHandler = ms.setActionHandler.bind(ms);
      ms.setActionHandler = (action, fn) => { window.__ms[action] = fn; return setHandler(action, fn); };
      const setPos = ms.setPositionState.bind(ms);
      ms.setPositionState = (s) => { window.__pos = s; return setPos(s); };
    """)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        album = live.album
        page.goto(f"{live.url}/embed/album/{album['id']}?vis=off")
        page.wait_for_function(READY, timeout=30000)
        assert sorted(page.evaluate("Object.keys(window.__ms)")) == sorted(
            ["play", "pause", "stop", "seekto", "seekbackward", "seekforward", "previoustrack", "nexttrack"])
        meta = page.evaluate("(m => ({title: m.title, artist: m.artist, album: m.album, art: m.artwork.map(a => a.src)}))"
                             "(navigator.mediaSession.metadata)")
        first = live.tracks[0]
        assert meta["title"] == first["title"] and meta["artist"] == first["artist"] and meta["album"] == album["title"]
        assert meta["art"] == ([first["cover_url"]] if first.get("cover_url") else [])

        def act(action, **details):
            page.evaluate("([a, d]) => window.__ms[a](Object.assign({action: a}, d))", [action, details])

        act("play")
        page.wait_for_function("() => !ScriptHammer.players[0].paused && ScriptHammer.players[0].currentTime > 0.3", timeout=20000)
        assert page.evaluate("navigator.mediaSession.playbackState") == "playing"
        act("seekto", seekTime=8)
        page.wait_for_function("() => ScriptHammer.players[0].currentTime >= 8", timeout=10000)
        pos = page.evaluate("window.__pos")
        assert 8 <= pos["position"] < 9.5 and 19 < pos["duration"] < 21, pos
        act("seekforward", seekOffset=4)
        page.wait_for_function("() => ScriptHammer.players[0].currentTime >= 12", timeout=10000)
        act("seekbackward")  # the default step: 10 s
        page.wait_for_function("() => ScriptHammer.players[0].currentTime < 4", timeout=10000)

        # background: the page is hidden (another app in front); the audio goes on
        page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
            Object.defineProperty(document, 'hidden', {value: true, configurable: true});
            document.dispatchEvent(new Event('visibilitychange')); window.dispatchEvent(new Event('blur')); }""")
        t0 = page.evaluate("ScriptHammer.players[0].currentTime")
        page.wait_for_timeout(1500)
        assert not page.evaluate("ScriptHammer.players[0].paused")
        assert page.evaluate("ScriptHammer.players[0].currentTime") > t0 + 0.8

        act("pause")
        page.wait_for_function("() => ScriptHammer.players[0].paused", timeout=5000)
        assert page.evaluate("navigator.mediaSession.playbackState") == "paused"
        act("nexttrack")
        page.wait_for_function(f"() => ScriptHammer.players[0].getState().track.id === {live.tracks[1]['id']}", timeout=10000)
        assert page.evaluate("navigator.mediaSession.metadata.title") == live.tracks[1]["title"]
        act("previoustrack")
        page.wait_for_function(f"() => ScriptHammer.players[0].getState().track.id === {live.tracks[0]['id']}", timeout=10000)
        act("play")
        page.wait_for_function("() => !ScriptHammer.players[0].paused", timeout=10000)
        act("stop")
        page.wait_for_function("() => ScriptHammer.players[0].paused && ScriptHammer.players[0].currentTime < 0.5", timeout=5000)
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_a_fan_who_may_not_download_a_premium_track_cannot_save_it(profile, live, premium):
    page = open_app(profile, f"{live.url}/embed/track/{premium['id']}?vis=off#shl={token_for(live, 9102)}")
    assert state(page)["mode"] == "preview"
    page.click(".shp-dl-toggle")
    assert page.locator(".shp-offline-save").count() == 0
    assert page.locator(".shp-offline-locked").is_visible()
    err = page.evaluate("ScriptHammer.players[0].saveOffline().then(() => 'saved', e => e.code)")
    assert err == "not_downloadable"
    # a forged track JSON claiming a download of the premium file (its unsigned URL): the companion refuses
    band_url = next(r["url"] for r in premium["renditions"] if r["name"] == "mp3-320")
    key_url = f"{live.url}/media/" + band_url.split("/media/", 1)[1].split("?")[0]
    forged = {"id": premium["id"], "title": "x", "access": {"download": True},
              "renditions": [{"name": "mp3-320", "kind": "download", "url": key_url, "format": "mp3"}]}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(key_url, timeout=10)
    assert (refused.value.code, "sig=" in key_url) == (404, False)
    err = page.evaluate("t => ScriptHammer.players[0].saveOffline(t).then(() => 'saved', e => e.code)", forged)
    assert err == "download_refused"
    assert offline_items(page) == []
    stored = page.evaluate("""async () => { let n = 0; for (const name of await caches.keys())
        if (name.startsWith('sh-offline-')) n += (await (await caches.open(name)).keys()).length; return n; }""")
    assert stored == 0


def test_a_saved_premium_track_is_not_served_to_another_listener_on_the_same_profile(profile, live, premium):
    ref = entitle(live, premium["id"])  # FAN bought it
    assert ref
    a = open_app(profile, f"{live.url}/embed/track/{premium['id']}?vis=off#shl={token_for(live, FAN)}")
    assert state(a)["mode"] != "preview"
    saved = a.evaluate("ScriptHammer.players[0].saveOffline().then(s => s, e => e.code)")
    assert saved["id"] == premium["id"] and saved["bytes"] > 10000, saved
    a_key = a.evaluate("ScriptHammer.players[0].offline.key()")
    a_audio = saved["audio_url"]
    assert a.evaluate("u => fetch(u).then(r => r.status)", a_audio) == 200
    a.reload()  # the token is gone from the address: A's page now asks as anyone
    a.close()

    b = open_app(profile, f"{live.url}/embed/track/{premium['id']}?vis=off#shl={token_for(live, 9103)}")
    assert state(b)["mode"] == "preview" and not state(b)["offline"]
    b_key = b.evaluate("ScriptHammer.players[0].offline.key()")
    assert b_key != a_key and b_key != "anon"
    assert offline_items(b) == []
    pid = premium["id"]
    assert b.evaluate(f"fetch('/offline/{b_key}/{pid}/audio').then(r => r.status)") == 404
    assert b.evaluate(f"fetch('/offline/anon/{pid}/audio').then(r => r.status)") == 404
    b.click(".shp-dl-toggle")
    assert b.locator(".shp-offline-list li").count() == 0
    # the network off, B's page started again (B signed in last on this browser): still nothing of A's
    profile.set_offline(True)
    try:
        b.goto(f"{live.url}/embed/track/{pid}?vis=off")
        b.wait_for_function(READY, timeout=30000)
        assert offline_items(b) == [] and not state(b)["offline"]
    finally:
        profile.set_offline(False)
    # anyone (no token) online: the anonymous store, empty
    anyone = open_app(profile, f"{live.url}/embed/track/{pid}?vis=off")
    assert offline_items(anyone) == [] and state(anyone)["mode"] == "preview"
    # A again: their copy is there, and plays from it
    a = open_app(profile, f"{live.url}/embed/track/{pid}?vis=off#shl={token_for(live, FAN)}")
    assert [i["id"] for i in offline_items(a)] == [pid] and state(a)["offline"]
    assert a.evaluate("ScriptHammer.players[0].offline.key()") == a_key


def shown_when(page, get, n, timeout=10.0):
    """The notifications once there are ``n`` (page.evaluate awaits the promise; wait_for_function would not)."""
    import time

    until = time.monotonic() + timeout
    while True:
        shown = page.evaluate(get)
        if len(shown) >= n or time.monotonic() > until:
            assert len(shown) == n, shown
            return shown
        page.wait_for_timeout(100)


def test_push_messages_are_shown_by_the_service_worker_with_the_page_to_open(profile, live):
    profile.grant_permissions(["notifications"], origin=live.url)
    page = open_app(profile, f"{live.url}/app")
    cdp = profile.new_cdp_session(page)
    regs = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: regs.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(500)
    reg = next(r for r in regs if r["scopeURL"] == f"{live.url}/" and not r.get("isDeleted"))
    from companion.notify.service import message_for

    msg = message_for("broadcast", {"id": 7, "title": "Robots at dawn", "starts_at": "2026-12-03T20:00:00Z"}, live.url)
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live.url, "registrationId": reg["registrationId"],
                                                  "data": json.dumps(msg)})
    get = """() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n =>
        ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"""
    shown = shown_when(page, get, 1)
    assert shown == [{"title": "Broadcast: Robots at dawn", "body": "Live on 2026-12-03T20:00:00Z.",
                      "tag": "broadcast-7", "url": f"{live.url}/embed/broadcast/7"}]
    # a message naming another site opens the app instead (a notification cannot send a fan elsewhere)
    evil = dict(msg, tag="x", url="https://evil.example/phish")
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live.url, "registrationId": reg["registrationId"],
                                                  "data": json.dumps(evil)})
    assert {n["tag"]: n["url"] for n in shown_when(page, get, 2)}["x"] == f"{live.url}/app"


# What a browser's PushManager hands the page, with the endpoint at the push-service stand-in (headless
# Chromium has no push service of its own): the app's own code subscribes, posts and unsubscribes.
FAKE_PUSH = """
  (() => {
    const sub = %s;
    let current = null;
    const make = () => ({ endpoint: sub.endpoint, toJSON: () => sub,
                          unsubscribe: async () => { current = null; return true; } });
    PushManager.prototype.subscribe = async function (opts) {
      window.__pushKey = btoa(String.fromCharCode(...new Uint8Array(opts.applicationServerKey)));
      current = make(); return current; };
    PushManager.prototype.getSubscription = async function () { return current; };
  })();
"""


def test_standin_the_app_signs_in_with_a_device_code_and_opts_in_to_push(profile, live):
    import base64

    from rq import SimpleWorker

    from companion.access.tokens import read_listener_token
    from companion.band.signing import sign
    from companion.notify import service
    from jobs import context
    from tests.notify.standin import PushServiceStandIn

    cfg = live.app.config["SCRIPTHAMMER"]
    svc = live.app.extensions["scripthammer"]
    standin = PushServiceStandIn()
    before = (cfg.wp_url, cfg.push_trusted_origins, cfg.device_poll_interval)
    cfg.wp_url, cfg.push_trusted_origins, cfg.device_poll_interval = "http://wp.example.test", standin.url, 1
    try:
        public_key = json.loads(urllib.request.urlopen(f"{live.url}/api/push/key").read())["public_key"]
        standin.expected_key = public_key
        profile.add_init_script(FAKE_PUSH % json.dumps(standin.subscription("app")))
        profile.grant_permissions(["notifications"], origin=live.url)
        page = open_app(profile, f"{live.url}/app")
        assert page.is_hidden(".shp-app-notify")  # not signed in: nothing to opt in to
        page.click(".shp-app-signin")
        code = page.wait_for_selector(".shp-app-usercode").text_content()
        # the fan confirms the code in WordPress, which tells the companion (a signed request)
        raw = json.dumps({"user_code": code, "wp_user_id": 9301, "display_name": "Pat", "approve": True}).encode()
        headers = sign(cfg.wp_shared_secret, "POST", "/api/auth/device/decision", raw)
        headers["Content-Type"] = "application/json"
        r = live.app.test_client().post("/api/auth/device/decision", data=raw, headers=headers)
        assert r.status_code == 200, r.get_json()
        page.wait_for_selector(".shp-app-signout:not([hidden])", timeout=20000)
        assert page.text_content(".shp-app-who") == "Signed in as Pat"
        token = page.evaluate("ScriptHammer.players[0].listenerToken")
        assert read_listener_token(cfg.wp_shared_secret, token)["wp_user_id"] == 9301
        assert page.evaluate("localStorage.getItem('scripthammer-app-refresh')")  # the app stays signed in

        page.click(".shp-app-notify")
        page.wait_for_selector(".shp-app-notify[aria-pressed='true']", timeout=10000)
        assert base64.urlsafe_b64encode(base64.b64decode(page.evaluate("window.__pushKey"))).rstrip(b"=").decode() \
            == public_key
        mine = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{live.url}/api/push/subscriptions", headers={"Authorization": f"Bearer {token}"})).read())
        assert [s["endpoint"] for s in mine] == [f"{standin.url}/push/app"]

        service.enqueue_announcement(svc, "release", {"kind": "track", "id": live.tracks[0]["id"],
                                                      "title": live.tracks[0]["title"], "artist": "Robots"})
        context.configure(cfg)
        svc.worker(SimpleWorker, kinds=["default"]).work(burst=True, with_scheduler=False)
        assert standin.refused == []
        assert [m["message"]["title"] for m in standin.received] == [f"New track: {live.tracks[0]['title']}"]

        # a reload: signed in again from the refresh token; then opting out removes the subscription
        page.reload()
        page.wait_for_selector(".shp-app-signout:not([hidden])", timeout=20000)
        page.click(".shp-app-notify")  # the fake PushManager forgot it on reload: this opts in again
        page.wait_for_selector(".shp-app-notify[aria-pressed='true']", timeout=10000)
        page.click(".shp-app-notify")
        page.wait_for_selector(".shp-app-notify[aria-pressed='false']", timeout=10000)
        token = page.evaluate("ScriptHammer.players[0].listenerToken")
        mine = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{live.url}/api/push/subscriptions", headers={"Authorization": f"Bearer {token}"})).read())
        assert mine == []
        page.click(".shp-app-signout")
        page.wait_for_selector(".shp-app-signin:not([hidden])")
        assert page.evaluate("localStorage.getItem('scripthammer-app-refresh')") is None
    finally:
        cfg.wp_url, cfg.push_trusted_origins, cfg.device_poll_interval = before
        standin.close()
