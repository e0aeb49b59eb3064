"""Do-Not-Track's sibling: the WordPress site's consent setting reaches the player (issue 14, Privacy).

In Chromium against the real WordPress and companion: with "Listening statistics consent" required,
a visitor who has not consented plays a track and the companion keeps no event; once they consent
(through the WP Consent API, a labelled stand-in here, or the plugin's own event and cookie), the
same player, without a reload, sends beacons the companion keeps; withdrawn, it stops again.
"""
from __future__ import annotations

import json
import shutil
import uuid

import pytest

HERE = __import__("pathlib").Path(__file__).resolve().parent
STANDIN = HERE / "standins" / "scripthammer-standin-consent-api" / "scripthammer-standin-consent-api.php"


def _events(companion, track_id: int) -> int:
    import sqlalchemy as sa

    from companion.analytics.ingest import drain
    from companion.analytics.models import PlaybackEvent

    drain(companion.svc)  # what the stream's consumers write
    with companion.svc.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(PlaybackEvent).where(PlaybackEvent.track_id == track_id))


def _set_consent_setting(wordpress, value: str) -> None:
    wordpress.php(f"""
update_option( 'scripthammer_settings', array_merge( get_option( 'scripthammer_settings', array() ),
  array( 'analytics_consent' => {json.dumps(value)} ) ) );
return 1;""")


@pytest.fixture
def consent_required(wordpress):
    _set_consent_setting(wordpress, "required")
    yield wordpress
    _set_consent_setting(wordpress, "none")


@pytest.fixture
def consent_api_standin(wordpress):
    mu = wordpress.root / "wp-content" / "mu-plugins"
    mu.mkdir(parents=True, exist_ok=True)
    target = mu / STANDIN.name
    shutil.copyfile(STANDIN, target)
    yield
    target.unlink(missing_ok=True)


@pytest.fixture
def player_page(wordpress, premium_recording) -> str:
    """A page with the player block for the premium recording: its URL."""
    tag = uuid.uuid4().hex[:6]
    page = wordpress.php(f"""
$t = wp_insert_post( array( 'post_type' => 'sh_track', 'post_status' => 'publish', 'post_title' => 'Consent {tag}' ) );
update_post_meta( $t, 'scripthammer_companion_id', {int(premium_recording)} );
return wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Listen {tag}',
  'post_content' => '<!-- wp:scripthammer/player {{"track":' . $t . '}} /-->' ) );""")
    return f"{wordpress.url}/?page_id={int(page)}"


def _open(browser, url: str, cookies=None):
    ctx = browser.new_context()
    if cookies:
        ctx.add_cookies(cookies)
    page = ctx.new_page()
    page.goto(url)
    el = page.wait_for_selector("figure.scripthammer-player iframe")
    frame = el.content_frame()
    frame.wait_for_function("() => { const p = document.querySelector('#player');"
                            " return p && p.scripthammerPlayer && p.scripthammerPlayer.getState().ready; }", timeout=30000)
    # every beacon batch the player hands to the browser, kept as sent (Playwright does not show beacons' bodies)
    frame.evaluate("""() => { window.__sent = []; const send = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (u, body) => { window.__sent.push(body); return send(u, body); }; }""")
    return ctx, page, el, frame


def _sent(frame) -> list[dict]:
    """The beacon batches sent since the last call."""
    bodies = frame.evaluate("""async () => { const out = await Promise.all(window.__sent.map(
      (b) => typeof b === 'string' ? b : b.text())); window.__sent = []; return out; }""")
    return [json.loads(b) for b in bodies]


def _listen(frame) -> dict:
    """Play a second or so, pause, and hand the beacons to the browser at once: what the player sent."""
    frame.evaluate("() => document.querySelector('#player').scripthammerPlayer.play()")
    frame.wait_for_function("() => document.querySelector('#player').scripthammerPlayer.currentTime > 0.6", timeout=20000)
    return frame.evaluate("""() => { const p = document.querySelector('#player').scripthammerPlayer;
      p.pause(); p.seek(0.2); const before = p.beacons.sent; p.beacons.flush();
      return {sent: p.beacons.sent, before, queued: p.beacons.queue.length, consent: p.getState().consent}; }""")


def _consent_in_player(frame, value) -> None:
    frame.wait_for_function(f"() => document.querySelector('#player').scripthammerPlayer.getState().consent === {value}",
                            timeout=10000)


def _wait_events(page, companion, track_id: int, more_than: int) -> int:
    for _ in range(40):
        got = _events(companion, track_id)
        if got > more_than:
            return got
        page.wait_for_timeout(250)
    return _events(companion, track_id)


@pytest.mark.parametrize("api", ["standin-consent-api"])
def test_no_event_is_kept_until_the_visitor_consents_through_the_wp_consent_api(
        api, consent_required, consent_api_standin, wordpress, companion, browser, player_page, premium_recording):
    tid = premium_recording
    ctx, page, el, frame = _open(browser, player_page)
    try:
        assert el.get_attribute("src").endswith("#shc=0")  # the page knew: no consent yet
        assert "scripthammer-consent-js" in page.content()
        _consent_in_player(frame, "false")
        start = _events(companion, tid)
        got = _listen(frame)
        assert got["sent"] == got["before"] == 0 and got["queued"] == 0 and got["consent"] is False
        page.wait_for_timeout(1000)
        assert _events(companion, tid) == start  # the companion keeps nothing
        assert _sent(frame) == []  # nor did the browser send anything

        page.evaluate("() => wp_set_consent('statistics', 'allow')")  # the visitor consents: no reload
        _consent_in_player(frame, "true")
        got = _listen(frame)
        assert got["sent"] > got["before"]
        after = _wait_events(page, companion, tid, start)
        assert after > start  # now it keeps what the player sent
        batches = _sent(frame)
        assert batches and all(b["consent"] is True for b in batches)

        page.evaluate("() => wp_set_consent('statistics', 'deny')")  # withdrawn: counting stops at once
        _consent_in_player(frame, "false")
        got = _listen(frame)
        assert got["sent"] == got["before"]
        page.wait_for_timeout(1000)
        assert _events(companion, tid) == after and _sent(frame) == []
    finally:
        ctx.close()
    # a later visit with consent given: the page says so in the fragment
    ctx, page, el, frame = _open(browser, player_page, cookies=[
        {"name": "wp_consent_statistics", "value": "allow", "url": wordpress.url}])
    try:
        assert el.get_attribute("src").endswith("#shc=1")
        _consent_in_player(frame, "true")
    finally:
        ctx.close()


def test_without_the_consent_api_the_plugins_event_and_cookie_carry_consent(
        consent_required, wordpress, companion, browser, player_page, premium_recording):
    tid = premium_recording
    ctx, page, el, frame = _open(browser, player_page)
    try:
        assert el.get_attribute("src").endswith("#shc=0")
        _consent_in_player(frame, "false")
        start = _events(companion, tid)
        assert _listen(frame)["sent"] == 0
        page.evaluate("() => document.dispatchEvent(new CustomEvent('scripthammer:consent', {detail: {statistics: true}}))")
        _consent_in_player(frame, "true")
        assert _listen(frame)["sent"] > 0
        assert _wait_events(page, companion, tid, start) > start
    finally:
        ctx.close()
    ctx, page, el, frame = _open(browser, player_page, cookies=[
        {"name": "scripthammer_analytics_consent", "value": "allow", "url": wordpress.url}])
    try:
        assert el.get_attribute("src").endswith("#shc=1")
        _consent_in_player(frame, "true")
    finally:
        ctx.close()


def test_a_site_that_does_not_ask_passes_no_consent(wordpress, companion, browser, player_page):
    ctx, page, el, frame = _open(browser, player_page)
    try:
        assert "#shc=" not in (el.get_attribute("src") or "")
        assert "scripthammer-consent-js" not in page.content()
        _consent_in_player(frame, "null")
    finally:
        ctx.close()
