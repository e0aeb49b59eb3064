"""The studio's view of a live session (/studio/session/<id>) in Chromium against a real session:
jackd (dummy driver), scsynth in real time, ffmpeg and a Janus of the session's own. Each member is a
browser context of its own with Chromium's fake microphone.

- Opus at music settings: the SDPs the page negotiated ask for stereo, 128 kbit/s and no DTX, the
  microphone runs without echo cancellation, gain control or noise suppression, and Janus encodes the
  member's mix-minus at 128 kbit/s, in stereo.
- The shared view: two members see each other in the room (and the robots), the robots' current bar
  moves on with its notes, a chat message and a mark from one appear for both; a listener is refused."""
from __future__ import annotations

import contextlib
import re
import shutil

import pytest

from tests.conftest import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PROGRAMS = ("jackd", "jack_lsp", "jack_connect", "scsynth", "ffmpeg", "janus")
FAKE_MIC = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(autouse=True)
def _programs():
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:  # a missing precondition fails, never skips
        pytest.fail(f"not installed: {missing} (scripts/setup.sh installs jackd2, supercollider-server, ffmpeg, janus)")


@pytest.fixture(scope="module")
def mic_browser(tmp_path_factory):
    """Chromium whose fake microphone (granted without asking) plays an A (440 Hz) held at about -30 dBFS RMS."""
    import subprocess

    from tests.browser import chromium

    tone = tmp_path_factory.mktemp("mic") / "a440.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=f=440:r=48000:d=20,volume=-6dB", "-ac", "2", "-c:a", "pcm_s16le", str(tone)], check=True)
    with chromium(*FAKE_MIC, f"--use-file-for-fake-audio-capture={tone}") as b:
        yield b


@contextlib.contextmanager
def served(app):
    from tests.studio.conftest import build_studio

    build_studio()
    with serving(app) as base:
        yield base


@contextlib.contextmanager
def live_session(app):
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    r = client.post("/api/live/sessions", json={"params": {"key": "D minor", "tempo": 120}, "seed": 3}, headers=h)
    assert r.status_code == 201, r.json
    try:
        yield r.json["id"]
    finally:
        client.post(f"/api/live/sessions/{r.json['id']}/stop", headers=h)


def open_view(browser, base, sid, token):
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    ctx.grant_permissions(["microphone"])
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/studio/session/{sid}#token={token}")
    page.wait_for_selector("#session[data-status='live']", timeout=30000)
    return ctx, page


def opus_fmtp(sdp: str) -> dict[str, str]:
    pt = re.search(r"a=rtpmap:(\d+) opus/48000/2", sdp, re.I).group(1)
    line = re.search(rf"a=fmtp:{pt} (.*)", sdp).group(1).strip()
    return {k.strip().lower(): v.strip() for k, v in (p.split("=", 1) for p in line.split(";") if "=" in p)}


def test_members_join_at_music_settings_and_share_the_studio_view(app, mic_browser):
    tokens = app.test_tokens
    with live_session(app) as sid, served(app) as base:
        r = app.test_client().get(f"/studio/session/{sid}")
        assert r.status_code == 200 and r.mimetype == "text/html" and r.headers["Cache-Control"] == "no-store"

        ctx1, chops = open_view(mic_browser, base, sid, tokens["chops"])
        ctx2, ivory = open_view(mic_browser, base, sid, tokens["ivory"])
        try:
            for page in (chops, ivory):
                page.click("#join")
                page.wait_for_selector("#session[data-joined='true']", timeout=30000)

            # (1) Opus at music settings, in the SDP each side of the negotiation holds
            for page in (chops, ivory):
                sdps = page.evaluate("""() => { const pc = window.sessionView.room.pc;
                    return {local: pc.currentLocalDescription.sdp, remote: pc.currentRemoteDescription.sdp}; }""")
                for side in ("local", "remote"):
                    f = opus_fmtp(sdps[side])
                    assert f.get("stereo") == "1" and f.get("sprop-stereo") == "1", (side, f)
                    assert f.get("maxaveragebitrate") == "128000" and f.get("usedtx") == "0", (side, f)
                settings = page.evaluate("window.sessionView.room.mic.getAudioTracks()[0].getSettings()")
                assert settings["echoCancellation"] is False
                assert settings["autoGainControl"] is False
                assert settings["noiseSuppression"] is False
                page.wait_for_function("() => window.sessionView.room.pc.connectionState === 'connected'",
                                       timeout=20000)
            # Janus' side: the answer it sent (stereo from the room's spatial audio) and its encoder's bitrate
            from companion.live.janus import JanusClient
            from companion.live.models import LiveSession

            with app.extensions["scripthammer"].db.session() as s:
                rtc = dict(s.get(LiveSession, sid).webrtc)
            jc = JanusClient(rtc["janus"], rtc["admin"], rtc["admin_secret"])
            members = {pid: h for pid, h in rtc["handles"].items() if rtc["participants"][pid] in ("chops", "ivory")}
            assert len(members) == 2
            for pid, handle in members.items():
                info = jc.handle_info(*handle)["plugin_specific"]
                assert info["opus-bitrate"] == 128000 and info["spatial_position"] == 50, info
            # the state anyone reads does not carry Janus' admin address or secret
            pub = app.test_client().get(f"/api/live/sessions/{sid}").json["webrtc"]
            assert set(pub) == {"janus", "mountpoint", "room"}

            # (3) the shared view: both see both members and the robots, with their parts
            for page in (chops, ivory):
                page.wait_for_function(
                    "() => document.querySelector('#session').dataset.people === 'chops,ivory,robots'", timeout=20000)
                assert "guitar" in page.text_content("#sv-people li[data-who='chops'] .sv-parts")
                assert "keys" in page.text_content("#sv-people li[data-who='ivory'] .sv-parts")
                assert page.get_attribute("#sv-people li[data-who='robots']", "data-kind") == "robots"
            # live levels, as Janus measures each member (the fake microphone's tone), and the page's own mic
            for page in (chops, ivory):
                for who in ("chops", "ivory"):
                    page.wait_for_function(f"""() => {{ const li = document.querySelector("#sv-people li[data-who='{who}']");
                        return li && li.dataset.level !== undefined && +li.dataset.level > -40; }}""", timeout=20000)
            assert float(chops.get_attribute("#sv-people li[data-who='chops']", "data-mic-level")) > -45

            # the robots' current bar moves on, with what each plays
            bar0 = int(chops.get_attribute("#sv-robots li[data-robot='crash']", "data-bar"))
            chops.wait_for_function(f"""() => +document.querySelector("#sv-robots li[data-robot='crash']").dataset.bar
                >= {bar0 + 2}""", timeout=20000)
            text = chops.text_content("#sv-robots li[data-robot='ivory']")
            assert re.search(r"bar \d+: ([A-G]#?-?\d ?)+", text), text
            assert int(chops.get_attribute("#sv-robots li[data-robot='crash']", "data-count")) > 0

            # the robots hear the members' A (the fake microphones) and follow it into A minor: the view says so
            chops.wait_for_function("() => document.querySelector('#sv-heard').dataset.pitchClass === 'A'",
                                    timeout=20000)
            chops.wait_for_function(
                "() => document.querySelector(\"#sv-params dd[data-param='key']\").textContent === 'A minor'",
                timeout=20000)
            assert "they followed into A minor at bar" in chops.text_content("#sv-heard")
            # a chat message from one and a mark from the other: both see both
            chops.fill("#chat-text", "Take the bridge twice")
            chops.click("#chat-send")
            ivory.fill("#mark-text", "great fill")
            ivory.click("#mark-send")
            for page in (chops, ivory):
                page.wait_for_selector("#sv-notes li[data-kind='chat'][data-author='chops']", timeout=10000)
                page.wait_for_selector("#sv-notes li[data-kind='mark'][data-author='ivory']", timeout=10000)
                assert "Take the bridge twice" in page.text_content("#sv-notes li[data-kind='chat']")
                assert "great fill" in page.text_content("#sv-notes li[data-kind='mark']")
            # an over-long message is refused with the reason shown, and nothing is added
            chops.evaluate("document.querySelector('#chat-text').removeAttribute('maxlength')")
            chops.fill("#chat-text", "x" * 501)
            chops.click("#chat-send")
            chops.wait_for_selector("#sv-status[data-state='error']", timeout=10000)
            assert "500" in chops.text_content("#sv-status")
            assert chops.locator("#sv-notes li").count() == 2
            assert not chops.errors and not ivory.errors, (chops.errors, ivory.errors)
        finally:
            ctx1.close()
            ctx2.close()

        # a listener (a fan) gets no view of the band's room, and the page says why
        from companion.access.tokens import make_listener_token

        fan = make_listener_token(app.config["SCRIPTHAMMER"].wp_shared_secret, 4242, display_name="Fan")
        r = app.test_client().get(f"/api/live/sessions/{sid}/view", headers={"Authorization": f"Bearer {fan}"})
        assert r.status_code == 403 and r.json["code"] == "band_only"
        r = app.test_client().get(f"/api/live/sessions/{sid}/view")
        assert r.status_code == 401


def test_a_premium_sessions_studio_page_is_for_the_band_and_its_invited_guests(app, mic_browser):
    """A premium session's studio page: a guest the band did not invite to its broadcast sees why and no
    chat, marks or room; a guest whose token names the broadcast sees the band's chat and posts to it."""
    import datetime as dt

    from companion.band.tokens import create_token

    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    r = client.post("/api/live/sessions", json={"params": {"tempo": 120}, "seed": 4, "premium": True}, headers=h)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        bid = client.get(f"/api/live/sessions/{sid}", headers=h).json["broadcast_id"]
        assert client.post(f"/api/live/sessions/{sid}/chat", json={"text": "backstage talk"}, headers=h).status_code == 201
        with app.extensions["scripthammer"].db.session() as s:
            _, uninvited = create_token(s, role="guest", label="other", expires_in=dt.timedelta(hours=1),
                                        scopes={"broadcasts": [bid + 1000]})
            _, invited = create_token(s, role="guest", label="invited", expires_in=dt.timedelta(hours=1),
                                      scopes={"broadcasts": [bid]})
        with served(app) as base:
            ctx = mic_browser.new_context()
            try:
                page = ctx.new_page()
                page.goto(f"{base}/studio/session/{sid}#token={uninvited}")
                page.wait_for_selector("#sv-status[data-state='error']", timeout=30000)
                assert "invitation" in page.text_content("#sv-status")
                page.wait_for_timeout(1500)  # it stopped polling: still nothing of the band's
                assert page.locator("#sv-notes li").count() == 0
                assert "backstage" not in page.content()
            finally:
                ctx.close()
            ctx, guest = open_view(mic_browser, base, sid, invited)
            try:
                guest.wait_for_selector("#sv-notes li[data-kind='chat'][data-author='chops']", timeout=10000)
                assert "backstage talk" in guest.text_content("#sv-notes li[data-kind='chat']")
                guest.fill("#chat-text", "thanks for having me")
                guest.click("#chat-send")
                guest.wait_for_selector("#sv-notes li[data-kind='chat'][data-author^='guest:']", timeout=10000)
                assert not guest.errors, guest.errors
            finally:
                ctx.close()
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=h)
