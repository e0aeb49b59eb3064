"""The Listening dashboard in a real WordPress: listeners play a track (beacons through the companion's
stream, rolled up), an administrator opens wp-admin's Listening page and the track's page, sees the
daily chart (one bar and one point per day of the range) and the heat map over the track's real waveform
with one cell per second where listeners did something, and downloads the CSV; a subscriber gets
neither the page nor the export, and the shared secret never reaches the browser."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import uuid

import requests

from .conftest import ADMIN_PASS, ADMIN_USER, SECRET
from tests.wordpress.test_studio_link import _user

KINDS = ("starts", "seeks", "replays", "dropoffs", "reactions")


def _track_with_waveform(companion, tmp_path) -> int:
    """A released 12-second track whose peaks are computed from a real recording (as the release does)."""
    from companion.catalog.models import Track
    from companion.media.peaks import compute_peaks
    from tests.conftest import make_audio

    svc = companion.svc
    audio = make_audio(tmp_path / "orbit.wav", 12.0)
    doc = compute_peaks(audio, [441])[0]
    key = f"peaks/dashboard-{uuid.uuid4().hex[:8]}/peaks-441.json"
    svc.store.put_bytes(key, json.dumps(doc).encode(), "application/json")
    with svc.db.session() as s:
        t = Track(title="Orbit <i>live</i>", slug=f"orbit-{uuid.uuid4().hex[:6]}", release_state="public",
                  duration=12.0, peaks=[{"key": key, "samples_per_pixel": 441, "length": doc["length"]}])
        s.add(t)
        s.flush()
        return t.id


def _listen(companion, track_id: int) -> None:
    """Four listeners (browsers of their own) play, seek, react and leave; then the stream is written
    and today rolled up, as the consumers do."""
    from companion.analytics import ingest, rollups

    sessions = {
        "Fan-A": [("play", 0), ("progress", 5), ("reaction", 5.5, {"emoji": "fire"}), ("complete", 12, {"duration": 12})],
        "Fan-B": [("play", 0), ("seek", 8, {"from": 2, "to": 8}), ("pause", 9.2)],
        "Fan-C": [("play", 0), ("progress", 6), ("seek", 1, {"from": 6, "to": 1}), ("pause", 3.4)],
        "Fan-D": [("play", 0), ("pause", 2.5)],
    }
    now = int(time.time() * 1000)
    for n, (ua, evs) in enumerate(sessions.items()):
        body = {"session": f"dash-{uuid.uuid4().hex[:10]}",
                "events": [{"type": e[0], "pos": e[1], "track": track_id, "t": now, **({"data": e[2]} if len(e) > 2 else {})}
                           for e in evs]}
        r = requests.post(f"{companion.url}/api/beacons", data=json.dumps(body), timeout=30,
                          headers={"Content-Type": "text/plain", "User-Agent": ua})
        assert r.status_code == 202 and r.json()["accepted"] == len(evs), r.text
    ingest.drain(companion.svc)
    rollups.roll(companion.svc.db, [rollups.today()])


def _login(page, wordpress, login: str, password: str, to: str) -> None:
    """Sign in on wp-login.php, sent on to ``to`` (a wp-admin URL) rather than the admin's home."""
    page.goto(f"{wordpress.url}/wp-login.php?redirect_to={requests.utils.quote(to, safe='')}")
    page.fill("#user_login", login)
    page.fill("#user_pass", password)
    with page.expect_navigation(timeout=120_000):
        page.click("#wp-submit")


def test_an_admin_sees_the_charts_and_downloads_the_csv_a_subscriber_gets_nothing(
        wordpress, companion, browser, artifacts, tmp_path):
    tid = _track_with_waveform(companion, tmp_path)
    _listen(companion, tid)
    today = dt.datetime.now(dt.timezone.utc).date()
    start = today - dt.timedelta(days=6)
    lead = {"Authorization": f"Bearer {companion.tokens['ivory']}"}
    q = f"from={start}&to={today}"
    days = requests.get(f"{companion.url}/api/analytics/tracks/{tid}/daily?{q}", headers=lead, timeout=30).json()["days"]
    heat = requests.get(f"{companion.url}/api/analytics/tracks/{tid}/heatmap?{q}", headers=lead, timeout=30).json()
    assert days[-1]["plays"] == 4 and days[-1]["listeners"] == 4 and days[-1]["completions"] == 1
    assert {k: {i: v for i, v in enumerate(heat[k]) if v} for k in KINDS} == {
        "starts": {0: 4}, "seeks": {8: 1, 1: 1}, "replays": {1: 1}, "dropoffs": {9: 1, 6: 1, 2: 1},
        "reactions": {5: 1}}

    context = browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    listening = f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&{q}"
    _login(page, wordpress, ADMIN_USER, ADMIN_PASS, listening)
    if page.url != listening:
        page.screenshot(path=str(artifacts / "listening-login.png"))
        page.goto(listening, timeout=120_000)
    assert page.locator("#toplevel_page_scripthammer-listening").count() == 1  # in the admin menu
    row = page.locator(f"#scripthammer-tracks tr[data-id='{tid}']")
    assert row.locator(".col-plays").text_content() == "4" and row.locator(".col-listeners").text_content() == "4"
    row.locator("a").first.click()
    page.wait_for_selector("#scripthammer-heatmap svg")
    assert f"item=track&id={tid}" in page.url

    # the daily chart: one bar and one point per day of the range; today's bar holds the four plays
    chart = page.locator("#scripthammer-daily-chart svg")
    bars = chart.locator("rect.bar")
    assert bars.count() == 7 and chart.locator("circle.point").count() == 7
    assert bars.evaluate_all("bs => bs.map(b => [b.dataset.day, +b.dataset.value])") == [
        [d["day"], d["plays"]] for d in days]
    assert float(bars.last.get_attribute("height")) > 0
    # the heat map: the real waveform, and one cell per second where listeners did something, per kind
    hm = page.locator("#scripthammer-heatmap svg")
    assert hm.locator("path.waveform").count() == 1
    assert int(hm.locator("path.waveform").get_attribute("data-pixels")) == heat_pixels(companion, tid)
    for kind in KINDS:
        cells = hm.locator(f"rect.cell.{kind}").evaluate_all("cs => cs.map(c => [+c.dataset.second, +c.dataset.value])")
        assert sorted(map(tuple, cells)) == sorted((i, v) for i, v in enumerate(heat[kind]) if v), kind
    assert hm.locator("rect.heat").count() == 7  # seconds 0, 1, 2, 5, 6, 8, 9
    html = page.content()
    assert SECRET not in html and "<script" not in page.inner_html("#scripthammer-heatmap")
    assert "Orbit <i>live</i>" in hm.locator("title").first.text_content()  # the title as text, not markup
    page.screenshot(path=str(artifacts / "listening-dashboard.png"), full_page=True)

    # the CSV export through the admin-only, nonce-checked action: the same figures
    with page.expect_download() as got:
        page.click("#scripthammer-csv-daily")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text())))
    assert [(r["day"], int(r["plays"]), int(r["listeners"])) for r in rows] == [
        (d["day"], d["plays"], d["listeners"]) for d in days]
    assert got.value.suggested_filename == f"scripthammer-track-{tid}-daily-{start}-{today}.csv"
    with page.expect_download() as got:
        page.click("#scripthammer-csv-heatmap")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text())))
    assert [int(r["starts"]) for r in rows] == heat["starts"]
    csv_href = page.get_attribute("#scripthammer-csv-daily", "href")
    assert "_wpnonce=" in csv_href and SECRET not in csv_href
    # without its nonce the export is refused, even for the administrator
    r = page.request.get(csv_href.split("&_wpnonce=")[0].split("?_wpnonce=")[0], max_redirects=0)
    assert r.status in (403, 400) and "day,plays" not in r.text()

    # a subscriber: no menu, no page, no export (not with the admin's link either); a visitor neither
    password = "pw-" + uuid.uuid4().hex
    login = f"sub_{uuid.uuid4().hex[:6]}"
    _user(wordpress, login, password, "subscriber")
    other = browser.new_context()
    p2 = other.new_page()
    _login(p2, wordpress, login, password, f"{wordpress.url}/wp-admin/profile.php")
    assert p2.locator("#toplevel_page_scripthammer-listening").count() == 0
    resp = p2.goto(f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&item=track&id={tid}&{q}")
    assert resp.status == 403 and p2.locator("svg.scripthammer-chart").count() == 0
    assert "plays" not in p2.content().lower() or "not allowed" in p2.content()
    r = p2.request.get(csv_href, max_redirects=0)
    assert r.status == 403 and "day,plays" not in r.text()
    other.close()
    anon = requests.get(csv_href, timeout=30, allow_redirects=False)
    assert "day,plays" not in anon.text and anon.status_code in (302, 400, 403)
    context.close()
    assert errors == []
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()


def heat_pixels(companion, tid: int) -> int:
    from companion.catalog.models import Track

    with companion.svc.db.session() as s:
        return int(s.get(Track, tid).peaks[0]["length"])


def test_an_inlined_chart_keeps_the_drawing_and_nothing_that_runs(wordpress):
    """What the dashboard inlines passes through wp_kses with the chart's elements only: a companion
    that sent script, handlers, links or foreign objects (compromised, or a man in the middle) gets
    them dropped; the figures' classes and data- attributes stay."""
    evil = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)" class="scripthammer-chart">'
            '<script>alert(2)</script><title>t</title>'
            '<rect class="bar" data-day="2026-12-01" data-value="4" x="1" y="2" width="3" height="4" fill="#123456" '
            'onclick="alert(3)" style="background:url(javascript:alert(4))"/>'
            '<a href="javascript:alert(5)"><circle class="point" cx="1" cy="1" r="1"/></a>'
            '<foreignObject><iframe src="https://evil.example/"></iframe></foreignObject>'
            '<image href="https://evil.example/x.png"/><use href="#x"/></svg>')
    out = wordpress.php(f"return wp_kses( {json.dumps(evil)}, \\ScriptHammer\\Dashboard::svg_allowed() );")
    low = out.lower()
    for bad in ("<script", "onload", "onclick", "javascript:", "<a ", "foreignobject", "<iframe", "<image", "<use",
                "style=", "evil.example"):
        assert bad not in low, (bad, out)
    for good in ('viewbox="0 0 10 10"', 'class="bar"', 'data-day="2026-12-01"', 'data-value="4"', 'fill="#123456"',
                 '<circle class="point"', "<title>t</title>"):
        assert good in low, (good, out)
