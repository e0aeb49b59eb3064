"""The Listening dashboard in a real WordPress: listeners play two tracks (beacons through the companion's
stream, rolled up), an administrator opens wp-admin's Listening page, sees the uPlot charts drawn on their
canvases with the companion API's own figures (the site's by day, the player controls used), changes the
date range (a preset, then the form) and sees the figures change in the charts, the tables and the CSV
links, opens a track's page (its charts, the heat map over its real waveform, the CSV downloads). A track
titled with markup shows it as text and runs nothing. A subscriber or an editor (no scripthammer_manage)
gets neither the page, nor its data route, nor the export; the shared secret never reaches the browser."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import uuid

import pytest
import requests

from .conftest import ADMIN_PASS, ADMIN_USER, PLUGIN_DIR, SECRET
from tests.wordpress.test_studio_link import _user

KINDS = ("starts", "seeks", "replays", "dropoffs", "reactions")
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Nebula'


def _track_with_waveform(companion, tmp_path, title: str, seconds: float = 12.0) -> int:
    """A released track whose peaks are computed from a real recording (as the release does)."""
    from companion.catalog.models import Track
    from companion.media.peaks import compute_peaks
    from tests.conftest import make_audio

    svc = companion.svc
    audio = make_audio(tmp_path / f"t-{uuid.uuid4().hex[:6]}.wav", seconds)
    doc = compute_peaks(audio, [441])[0]
    key = f"peaks/dashboard-{uuid.uuid4().hex[:8]}/peaks-441.json"
    svc.store.put_bytes(key, json.dumps(doc).encode(), "application/json")
    with svc.db.session() as s:
        t = Track(title=title, slug=f"dash-{uuid.uuid4().hex[:6]}", release_state="public",
                  duration=seconds, peaks=[{"key": key, "samples_per_pixel": 441, "length": doc["length"]}])
        s.add(t)
        s.flush()
        return t.id


def _listen(companion, sessions: list[tuple[str, int, list]]) -> list[str]:
    """Listeners (each a browser of its own: a user agent) play, seek, react, use the controls, download
    and leave; then the stream is written and today rolled up, as the consumers do. Returns the player
    sessions, in order."""
    from companion.analytics import ingest, rollups

    now = int(time.time() * 1000)
    ids = []
    for ua, track_id, evs in sessions:
        ids.append(f"dash-{uuid.uuid4().hex[:10]}")
        body = {"session": ids[-1],
                "events": [{"type": e[0], "pos": e[1], "track": track_id, "t": now, **({"data": e[2]} if len(e) > 2 else {})}
                           for e in evs]}
        r = requests.post(f"{companion.url}/api/beacons", data=json.dumps(body), timeout=30,
                          headers={"Content-Type": "text/plain", "User-Agent": ua})
        assert r.status_code == 202 and r.json()["accepted"] == len(evs), r.text
    ingest.drain(companion.svc)
    rollups.roll(companion.svc.db, [rollups.today()])
    return ids


def _paid_from_the_player(companion, order_id: int, lines: list[tuple[str, str, int, str]]) -> None:
    """A paid order whose lines (kind, player session, track, total in EUR) carry the player's play
    attribution, applied as the order webhook's job applies it."""
    from companion.analytics import attribution

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    doc = {"id": order_id, "status": "completed", "currency": "EUR", "line_items": [
        {"id": order_id * 10 + i, "product_id": 1, "total": total, "scripthammer_play": f"{session}.{track}",
         "scripthammer_kind": kind} for i, (kind, session, track, total) in enumerate(lines)]}
    with companion.svc.db.session() as s:
        done = attribution.apply_order(s, doc, wc_id=order_id, paid=True, status="completed", made_at=now,
                                       paid_at=now)
    assert len(done["attributed"]) == len(lines), done


def _performance(companion, track_id: int, title: str) -> int:
    """A live session whose mix was released as ``track_id``, with its broadcast (the performance post)."""
    from companion.live.models import LiveBroadcast, LiveSession

    with companion.svc.db.session() as s:
        row = LiveSession(started_by="ivory", track_id=track_id)
        s.add(row)
        s.flush()
        s.add(LiveBroadcast(wp_post_id=1, title=title, starts_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), created_by="ivory",
                            session_id=row.id, recording_track_id=track_id))
        return row.id


def _login(page, wordpress, login: str, password: str, to: str) -> None:
    """Sign in on wp-login.php, sent on to ``to`` (a wp-admin URL) rather than the admin's home."""
    def signed_in() -> bool:
        return any(c["name"].startswith("wordpress_logged_in_") for c in page.context.cookies())

    for _attempt in range(2):  # wp-login.php refuses a first POST whose test cookie did not arrive in time
        page.goto(f"{wordpress.url}/wp-login.php?redirect_to={requests.utils.quote(to, safe='')}")
        page.fill("#user_login", login)
        page.fill("#user_pass", password)
        page.click("#wp-submit")
        try:
            page.wait_for_url(lambda url: "wp-login.php" not in url, timeout=60_000)
        except Exception:  # noqa: BLE001 - still on the login page: say why below, or try once more
            pass
        if signed_in():
            break
    errors = page.locator("#login_error").all_inner_texts() if "wp-login.php" in page.url else []
    assert signed_in(), f"{login} was not signed in: {page.url} {errors}"
    if page.url != to:
        page.goto(to, timeout=120_000)


def _api(companion, path: str) -> dict:
    r = requests.get(f"{companion.url}{path}", headers={"Authorization": f"Bearer {companion.tokens['ivory']}"},
                     timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _charts(page, rng: str) -> dict:
    """Once the charts show the range ``from/to``: each chart's uPlot data and what its canvas holds."""
    page.wait_for_selector(f"#scripthammer-charts[data-range='{rng}']", timeout=60_000)
    return page.evaluate("""() => {
      const out = {};
      for (const [k, u] of Object.entries(window.scripthammerListening.charts)) {
        if (!u) { out[k] = null; continue; }
        const c = u.ctx.canvas;
        const px = u.ctx.getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i]) painted++;
        const fig = u.root.closest('figure').getBoundingClientRect(), own = u.root.getBoundingClientRect();
        out[k] = {data: u.data.map(a => Array.from(a)), labels: u.series.map(s => s.label), painted,
                  fits: own.left >= fig.left - 1 && own.right <= fig.right + 1,
                  width: c.width, controls: u.controls || null, wave: u.waveform ? u.waveform.pixels : null};
      }
      return out;
    }""")


def _days_x(days: list[dict]) -> list[int]:
    return [int(dt.datetime.fromisoformat(d["day"]).replace(tzinfo=dt.timezone.utc).timestamp()) for d in days]


def _assert_daily(charts: dict, days: list[dict]) -> None:
    """The four daily charts hold the API's figures, day by day."""
    xs = _days_x(days)
    assert charts["plays"]["data"] == [xs, [d["plays"] for d in days], [d["plays_30s"] for d in days],
                                       [d["listeners"] for d in days]]
    assert charts["completion"]["data"] == [xs, [d["skips"] for d in days],
                                            [None if d["completion_rate"] is None else round(d["completion_rate"] * 1000) / 10
                                             for d in days]]
    assert charts["listened"]["data"] == [xs, [d["avg_listened_s"] for d in days]]
    formats = sorted({f for d in days for f in d["downloads"]})
    assert charts["downloads"]["data"] == [xs, *[[d["downloads"].get(f, 0) for d in days] for f in formats],
                                           [d["tip_clicks"] for d in days]]
    currencies = sorted({c for d in days for c in (*d["tips_amount"], *d["purchases_amount"])})
    assert charts["sales"]["data"] == [xs, [d["tips"] for d in days], [d["purchases"] for d in days],
                                       *[[d["tips_amount"].get(c, 0) for d in days] for c in currencies],
                                       *[[d["purchases_amount"].get(c, 0) for d in days] for c in currencies]]
    for name in ("plays", "completion", "listened", "downloads", "sales"):
        assert charts[name]["painted"] > 1000, name  # drawn on the canvas, not just made
        assert charts[name]["fits"], name  # inside its own box, not over its neighbour


def _assert_interactions(chart: dict, counts: dict) -> None:
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert chart["controls"] == [k for k, _ in order]
    assert chart["data"] == [list(range(len(order))), [v for _, v in order]]
    assert chart["painted"] > 500


def test_an_admin_sees_the_charts_redraws_a_range_opens_a_track_and_downloads_the_csv(
        wordpress, companion, browser, artifacts, tmp_path):
    orbit = _track_with_waveform(companion, tmp_path, "Orbit <i>live</i>")
    nebula = _track_with_waveform(companion, tmp_path, EVIL, seconds=8.0)
    sessions = _listen(companion, [  # Fan-A listens to Orbit twice: 4 plays, 3 listeners
        ("Fan-A", orbit, [("play", 0), ("progress", 5), ("reaction", 5.5, {"emoji": "fire"}),
                          ("ui", 5.6, {"control": "visualizer"}), ("complete", 12, {"duration": 12}),
                          ("download", 12, {"format": "flac"}), ("tip_click", 12, {"amount": 3, "currency": "EUR"})]),
        ("Fan-B", orbit, [("play", 0), ("seek", 8, {"from": 2, "to": 8}), ("ui", 8, {"control": "download_menu"}),
                          ("download", 8, {"format": "mp3"}), ("pause", 9.2)]),
        ("Fan-C", orbit, [("play", 0), ("progress", 6), ("seek", 1, {"from": 6, "to": 1}),
                          ("ui", 1, {"control": "visualizer"}), ("pause", 3.4)]),
        ("Fan-A", orbit, [("play", 0), ("pause", 2.5)]),
        ("Fan-E", nebula, [("play", 0), ("ui", 1, {"control": "tipjar"}), ("complete", 8, {"duration": 8})]),
        ("Fan-F", nebula, [("play", 0), ("pause", 4)]),
    ])
    # Fan-A tips from the player after the first play, and Fan-B buys Orbit from its buy link
    _paid_from_the_player(companion, 880000 + int(time.time()) % 100000, [
        ("tip", sessions[0], orbit, "4.50"), ("purchase", sessions[1], orbit, "7.00")])
    today = dt.datetime.now(dt.timezone.utc).date()
    start = today - dt.timedelta(days=6)
    q = f"from={start}&to={today}"
    site = _api(companion, f"/api/analytics/site/daily?{q}")
    days = _api(companion, f"/api/analytics/tracks/{orbit}/daily?{q}")["days"]
    assert (days[-1]["tip_clicks"], days[-1]["tips"], days[-1]["tips_amount"], days[-1]["purchases"],
            days[-1]["purchases_amount"]) == (1, 1, {"EUR": 4.5}, 1, {"EUR": 7.0})
    heat = _api(companion, f"/api/analytics/tracks/{orbit}/heatmap?{q}")
    assert days[-1]["plays"] == 4 and days[-1]["listeners"] == 3 and days[-1]["completions"] == 1
    assert site["days"][-1]["plays"] >= 6  # the two tracks (and any other test's listening today)
    assert {k: {i: v for i, v in enumerate(heat[k]) if v} for k in KINDS} == {
        "starts": {0: 4}, "seeks": {8: 1, 1: 1}, "replays": {1: 1}, "dropoffs": {9: 1, 6: 1, 2: 1},
        "reactions": {5: 1}}

    context = browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    listening = f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&{q}"
    _login(page, wordpress, ADMIN_USER, ADMIN_PASS, listening)
    assert page.locator("#toplevel_page_scripthammer-listening").count() == 1  # in the admin menu
    # the script is the built one, versioned by its hash
    src = page.get_attribute("script[src*='assets/dashboard/dashboard.js']", "src")
    manifest = json.loads((PLUGIN_DIR / "assets" / "dashboard" / "manifest.json").read_text())
    assert f"ver={manifest['dashboard.js']['sha256'][:16]}" in src

    # the whole site: the charts hold the API's figures, drawn on their canvases
    charts = _charts(page, f"{start}/{today}")
    site = _api(companion, f"/api/analytics/site/daily?{q}")  # again: as the page fetched it
    _assert_daily(charts, site["days"])
    _assert_interactions(charts["interactions"], site["interactions"])
    assert "heatmap" not in charts  # a track's own
    assert page.locator("figure[data-chart] canvas").count() >= 5
    row = page.locator(f"#scripthammer-tracks tr[data-id='{orbit}']")
    assert row.locator(".col-plays").text_content() == "4" and row.locator(".col-listeners").text_content() == "3"
    assert row.locator(".col-tips").text_content() == "1" and row.locator(".col-purchases").text_content() == "1"
    # the numbers stay in tables (closed once the charts are drawn), for screen readers
    assert page.locator("details#scripthammer-figures").get_attribute("open") is None
    assert page.locator("#scripthammer-days tbody tr").count() == 7
    assert page.locator("#scripthammer-days tbody tr").first.locator(".col-plays").text_content() == \
        str(site["days"][-1]["plays"])
    # the site's CSV: the same figures
    with page.expect_download() as got:
        page.click("#scripthammer-csv-daily")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text())))
    assert [(r["day"], int(r["plays"]), int(r["listeners"])) for r in rows] == [
        (d["day"], d["plays"], d["listeners"]) for d in site["days"]]
    assert got.value.suggested_filename == f"scripthammer-site-daily-{start}-{today}.csv"

    # a preset (30 days): redrawn in place from the data route, the tables, links and address follow
    page.click("a.scripthammer-preset[data-days='30']")
    start30 = today - dt.timedelta(days=29)
    charts = _charts(page, f"{start30}/{today}")
    site30 = _api(companion, f"/api/analytics/site/daily?from={start30}&to={today}")
    _assert_daily(charts, site30["days"])
    assert len(charts["plays"]["data"][0]) == 30
    assert page.locator("#scripthammer-days tbody tr").count() == 30
    assert f"from={start30}" in page.url and f"from={start30}" in page.get_attribute("#scripthammer-csv-daily", "href")
    # the form: yesterday only; nobody listened then (in this run), so the figures change to zeros
    yesterday = today - dt.timedelta(days=1)
    page.fill("#scripthammer-range input[name=from]", str(yesterday))
    page.fill("#scripthammer-range input[name=to]", str(yesterday))
    page.click("#scripthammer-range [type=submit]")
    charts = _charts(page, f"{yesterday}/{yesterday}")
    before = _api(companion, f"/api/analytics/site/daily?from={yesterday}&to={yesterday}")
    assert before["days"][0]["plays"] == 0
    assert charts["plays"]["data"] == [_days_x(before["days"]), [0], [0], [0]]
    assert page.locator(f"#scripthammer-tracks tr[data-id='{orbit}'] .col-plays").text_content() == "0"
    assert f"from={yesterday}&to={yesterday}" in page.url

    # a data route that refuses (here: a stale nonce): the page says why and keeps what it showed
    page.evaluate("() => { window.scripthammerListening.ajax.nonce = 'stale'; }")
    page.click("a.scripthammer-preset[data-days='90']")
    page.wait_for_function("() => document.getElementById('scripthammer-status').textContent.includes('expired')")
    assert page.get_attribute("#scripthammer-charts", "data-range") == f"{yesterday}/{yesterday}"
    page.reload()  # a fresh nonce
    _charts(page, f"{yesterday}/{yesterday}")  # the address kept the range shown

    # back to the last 7 days, then a track's page (a link of the table)
    page.click("a.scripthammer-preset[data-days='7']")
    _charts(page, f"{start}/{today}")
    with page.expect_navigation():
        page.locator(f"#scripthammer-tracks tr[data-id='{orbit}'] a").first.click()
    assert f"item=track&id={orbit}" in page.url
    charts = _charts(page, f"{start}/{today}")
    _assert_daily(charts, days)
    _assert_interactions(charts["interactions"], heat["interactions"])
    # the heat map: the API's per-second figures, over the real waveform (its peaks) painted in the chart
    hm = charts["heatmap"]
    assert hm["data"][0] == list(range(heat["seconds"]))
    assert hm["data"][1:] == [heat[k] for k in KINDS]
    assert hm["labels"][1:] == ["Starts", "Seeks to", "Replays", "Drop-offs", "Reactions"]
    assert hm["wave"] == heat["waveform"]["pixels"] == heat_pixels(companion, orbit)
    assert hm["painted"] > 5000
    wave_px = page.evaluate("""() => {
      const u = window.scripthammerListening.charts.heatmap, c = u.ctx;
      // the middle row of the plot, where the waveform is: grey pixels from the waveform layer
      const y = Math.round(u.bbox.top + u.bbox.height / 2), d = c.getImageData(u.bbox.left, y, u.bbox.width, 1).data;
      let grey = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] && Math.abs(d[i] - d[i + 1]) < 12 && Math.abs(d[i + 1] - d[i + 2]) < 12) grey++;
      return grey;
    }""")
    assert wave_px > 100
    assert page.locator("#scripthammer-heat-table tbody tr").count() == 7  # seconds 0, 1, 2, 5, 6, 8, 9
    assert page.locator(".scripthammer-item-title").text_content() == "Orbit <i>live</i>"
    assert SECRET not in page.content()
    page.screenshot(path=str(artifacts / "listening-dashboard.png"), full_page=True)

    # the CSV export through the admin-only, nonce-checked action: the same figures
    with page.expect_download() as got:
        page.click("#scripthammer-csv-daily")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text())))
    assert [(r["day"], int(r["plays"]), int(r["listeners"])) for r in rows] == [
        (d["day"], d["plays"], d["listeners"]) for d in days]
    assert got.value.suggested_filename == f"scripthammer-track-{orbit}-daily-{start}-{today}.csv"
    with page.expect_download() as got:
        page.click("#scripthammer-csv-heatmap")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text())))
    assert [int(r["starts"]) for r in rows] == heat["starts"]
    csv_href = page.get_attribute("#scripthammer-csv-daily", "href")
    assert "_wpnonce=" in csv_href and SECRET not in csv_href
    # without its nonce the export is refused, even for the administrator
    r = page.request.get(csv_href.split("&_wpnonce=")[0].split("?_wpnonce=")[0], max_redirects=0)
    assert r.status in (403, 400) and "day,plays" not in r.text()

    # the track titled with markup: shown as text on its page and in the table, nothing runs
    page.goto(f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&item=track&id={nebula}&{q}")
    _charts(page, f"{start}/{today}")
    assert page.locator(".scripthammer-item-title").text_content() == EVIL
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".scripthammer-listening img[src=x]").count() == 0
    page.goto(listening)
    _charts(page, f"{start}/{today}")
    assert page.locator(f"#scripthammer-tracks tr[data-id='{nebula}'] a").first.text_content() == EVIL
    assert page.evaluate("() => window.__pwned") is None

    # a performance: a live session whose mix was released as Nebula; its page has Nebula's figures
    session_id = _performance(companion, nebula, "Live at the Blue Dot")
    page.reload()
    _charts(page, f"{start}/{today}")
    link = page.locator(f"#scripthammer-performances tr[data-id='{session_id}'] a").first
    assert link.text_content() == "Live at the Blue Dot"
    with page.expect_navigation():
        link.click()
    assert f"item=performance&id={session_id}" in page.url
    charts = _charts(page, f"{start}/{today}")
    nheat = _api(companion, f"/api/analytics/tracks/{nebula}/heatmap?{q}")
    _assert_daily(charts, _api(companion, f"/api/analytics/tracks/{nebula}/daily?{q}")["days"])
    assert charts["heatmap"]["data"][1:] == [nheat[k] for k in KINDS] and charts["heatmap"]["painted"] > 5000
    assert page.locator(".scripthammer-item-title").text_content() == "Live at the Blue Dot"
    with page.expect_download() as got:
        page.click("#scripthammer-csv-heatmap")
    assert [int(r["starts"]) for r in csv.DictReader(io.StringIO(got.value.path().read_text()))] == nheat["starts"]
    # an album of both tracks: its page charts the album's figures (listeners distinct across its tracks)
    lead = {"Authorization": f"Bearer {companion.tokens['ivory']}"}
    album = requests.post(f"{companion.url}/api/albums", json={"title": "Dot & Dash", "release_state": "public"},
                          headers=lead, timeout=30).json()["id"]
    for tid in (orbit, nebula):
        assert requests.patch(f"{companion.url}/api/tracks/{tid}", json={"album_id": album}, headers=lead,
                              timeout=30).status_code == 200
    page.goto(listening)
    _charts(page, f"{start}/{today}")
    with page.expect_navigation():
        page.locator(f"#scripthammer-albums tr[data-id='{album}'] a").first.click()
    charts = _charts(page, f"{start}/{today}")
    adaily = _api(companion, f"/api/analytics/albums/{album}/daily?{q}")
    assert adaily["days"][-1]["plays"] == 6 and adaily["days"][-1]["listeners"] == 5
    _assert_daily(charts, adaily["days"])
    _assert_interactions(charts["interactions"], adaily["interactions"])
    assert "heatmap" not in charts and page.locator(".scripthammer-item-title").text_content() == "Dot & Dash"

    # without script (or for a screen reader): the same numbers in open tables
    state = context.storage_state()
    context.close()
    plain = browser.new_context(java_script_enabled=False, storage_state=state)
    p3 = plain.new_page()
    p3.goto(f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&item=track&id={orbit}&{q}")
    assert p3.locator("details#scripthammer-figures[open] #scripthammer-days tbody tr").count() == 7
    first = p3.locator("#scripthammer-days tbody tr").first  # the newest day first
    assert [first.locator(f".col-{c}").text_content() for c in ("day", "plays", "listeners", "skips", "downloads")] == [
        str(today), "4", "3", "3", "flac 1, mp3 1"]
    heat_rows = p3.locator("details#scripthammer-heat[open] #scripthammer-heat-table tbody tr")
    assert heat_rows.evaluate_all("rs => rs.map(r => Array.from(r.cells, c => +c.textContent))") == [
        [i] + [heat[k][i] for k in KINDS] for i in range(heat["seconds"]) if any(heat[k][i] for k in KINDS)]
    assert p3.locator("#scripthammer-interactions-table .col-control").all_text_contents() == \
        [k for k, _ in sorted(heat["interactions"].items(), key=lambda kv: (-kv[1], kv[0]))]
    plain.close()
    assert errors == []
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()


def heat_pixels(companion, tid: int) -> int:
    from companion.catalog.models import Track

    with companion.svc.db.session() as s:
        return int(s.get(Track, tid).peaks[0]["length"])


@pytest.mark.parametrize("role", ["subscriber", "editor"])
def test_without_the_capability_no_page_no_data_no_export(wordpress, companion, browser, role, tmp_path):
    """A subscriber or an editor (no scripthammer_manage): no menu, 403 on the page, on the data route
    (with the administrator's nonce too) and on the export; nothing of the figures in any answer."""
    tid = _track_with_waveform(companion, tmp_path, "Secret figures")
    today = dt.datetime.now(dt.timezone.utc).date()
    q = f"from={today - dt.timedelta(days=6)}&to={today}"
    admin = browser.new_context()
    ap = admin.new_page()
    _login(ap, wordpress, ADMIN_USER, ADMIN_PASS,
           f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&item=track&id={tid}&{q}")
    ap.wait_for_selector("#scripthammer-charts[data-range]", timeout=60_000)
    nonce = ap.evaluate("() => window.scripthammerListening.ajax.nonce")
    csv_href = ap.get_attribute("#scripthammer-csv-daily", "href")
    data_url = (f"{wordpress.url}/wp-admin/admin-ajax.php?action=scripthammer_listening_data&_ajax_nonce={nonce}"
                f"&item=track&id={tid}&{q}")
    r = ap.request.get(data_url)
    assert r.status == 200 and r.json()["daily"]["title"] == "Secret figures" and "heatmap" in r.json()
    # the administrator without the nonce, or asking for a track that is not there: the one error shape
    r = ap.request.get(data_url.replace(f"_ajax_nonce={nonce}", "_ajax_nonce=0"))
    assert r.status == 403 and r.json()["code"] == "bad_nonce" and "days" not in r.text()
    r = ap.request.get(data_url.replace(f"id={tid}", "id=987654321"))
    assert r.status == 404 and set(r.json()) == {"status", "code", "message", "details"}
    r = ap.request.get(data_url.replace("item=track", "item=playlist"))
    assert r.status == 400 and r.json()["code"] == "bad_item"
    admin.close()

    password = "pw-" + uuid.uuid4().hex
    login = f"{role[:3]}_{uuid.uuid4().hex[:6]}"
    _user(wordpress, login, password, role)
    other = browser.new_context()
    p2 = other.new_page()
    _login(p2, wordpress, login, password, f"{wordpress.url}/wp-admin/profile.php")
    assert p2.locator("#toplevel_page_scripthammer-listening").count() == 0
    resp = p2.goto(f"{wordpress.url}/wp-admin/admin.php?page=scripthammer-listening&item=track&id={tid}&{q}")
    assert resp.status == 403 and p2.locator("#scripthammer-charts").count() == 0
    assert p2.evaluate("() => window.scripthammerListening === undefined")
    assert "Secret figures" not in p2.content()
    for url in (data_url, data_url.replace(f"_ajax_nonce={nonce}&", "")):
        r = p2.request.get(url)
        assert r.status == 403 and r.json()["code"] == "forbidden", r.text()
        assert "Secret figures" not in r.text() and "days" not in r.text()
    r = p2.request.get(csv_href, max_redirects=0)
    assert r.status == 403 and "day,plays" not in r.text()
    other.close()
    # a visitor: the data route answers nothing of the figures, the export neither
    anon = requests.get(data_url, timeout=30, allow_redirects=False)
    assert "Secret figures" not in anon.text and "days" not in anon.text
    anon = requests.get(csv_href, timeout=30, allow_redirects=False)
    assert "day,plays" not in anon.text and anon.status_code in (302, 400, 403)
