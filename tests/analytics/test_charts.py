"""The dashboard's pictures and exports from the companion: SVG charts (bars and points per day, the heat
map over the track's real peaks) and CSV rows, whose figures are those of the generated events (some
days rolled up, some not); only the band (or this site's signature) gets them."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import xml.etree.ElementTree as ET

import sqlalchemy as sa

from companion.analytics import metrics, rollups
from companion.band.signing import sign
from companion.catalog.models import Track
from tests.analytics.test_rollups import _events, _insert

SVG_NS = "{http://www.w3.org/2000/svg}"
SECRET = "test-shared-secret"


def _svg(r):
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "image/svg+xml" and "default-src 'none'" in r.headers["Content-Security-Policy"]
    return ET.fromstring(r.get_data())


def _els(root, tag: str, cls: str) -> list:
    return [e for e in root.iter(SVG_NS + tag) if cls in (e.get("class") or "").split()]


def _setup(app, title="Orbit <b>&</b>"):
    """A track with peaks, events over three days (two rolled up, the last not)."""
    svc = app.extensions["scripthammer"]
    first = dt.date(2026, 4, 10)
    with svc.db.session() as s:
        t = Track(title=title, slug="orbit-chart", release_state="public", duration=180.0)
        s.add(t)
        s.flush()
        tid = t.id
    # waveform peaks as the release pipeline stores them (audiowaveform JSON v2): a rising ramp
    length = 180 * 10
    data = []
    for i in range(length):
        v = int(120 * i / length)
        data += [-v, v]
    doc = {"version": 2, "channels": 1, "sample_rate": 44100, "samples_per_pixel": 4410, "bits": 8,
           "length": length, "data": data}
    svc.store.put_bytes("peaks/test/peaks-4410.json", json.dumps(doc).encode(), "application/json")
    with svc.db.session() as s:
        s.get(Track, tid).peaks = [{"key": "peaks/test/peaks-4410.json", "samples_per_pixel": 4410, "length": length}]
    events = [dict(e, received_at=min(e["received_at"], dt.datetime.combine(first + dt.timedelta(days=2), dt.time(23, 59))))
              for e in _events(random.Random(7), [tid], first, 60)]
    events = [e for e in events if e["received_at"].date() < first + dt.timedelta(days=3)]
    _insert(svc.db, events)
    rollups.roll(svc.db, [first, first + dt.timedelta(days=1)])
    return svc, tid, first, first + dt.timedelta(days=2)


def test_svg_charts_and_csv_rows_are_the_events_figures(db_kind, app, client, auth):
    svc, tid, first, last = _setup(app)
    q = f"from={first}&to={last}"
    with svc.db.session() as s:
        raw_days = metrics.daily(s, [tid], first, last)
        raw_heat = metrics.heatmap(s, tid, first, last, duration=180.0)
    assert sum(d["plays"] for d in raw_days) > 20

    # the daily chart: one bar and one point per day, with the day's plays and listeners
    root = _svg(client.get(f"/api/analytics/tracks/{tid}/daily.svg?{q}", headers=auth("crash")))
    bars, points = _els(root, "rect", "bar"), _els(root, "circle", "point")
    assert [(b.get("data-day"), int(b.get("data-value"))) for b in bars] == [(d["day"], d["plays"]) for d in raw_days]
    assert [(p.get("data-day"), int(p.get("data-value"))) for p in points] == [(d["day"], d["listeners"]) for d in raw_days]
    assert [int(b.get("data-value")) for b in _els(root, "rect", "bar-30s")] == [d["plays_30s"] for d in raw_days]
    assert "Orbit <b>&</b>" in root.find(SVG_NS + "title").text  # the title is text, never markup

    # the heat map: over the waveform of the track's peaks, one cell per second that has any, per kind
    root = _svg(client.get(f"/api/analytics/tracks/{tid}/heatmap.svg?{q}", headers=auth("crash")))
    wave = _els(root, "path", "waveform")
    assert len(wave) == 1 and wave[0].get("data-pixels") == str(180 * 10)
    for kind in metrics.HEAT_KINDS:
        cells = {int(c.get("data-second")): int(c.get("data-value")) for c in _els(root, "rect", kind)}
        assert cells == {i: v for i, v in enumerate(raw_heat[kind]) if v}, kind
    totals = {int(c.get("data-second")): int(c.get("data-total")) for c in _els(root, "rect", "heat")}
    assert totals == {i: sum(raw_heat[k][i] for k in metrics.HEAT_KINDS) for i in range(raw_heat["seconds"])
                      if any(raw_heat[k][i] for k in metrics.HEAT_KINDS)}

    # the CSV exports: the same figures, one row per day / per second
    r = client.get(f"/api/analytics/tracks/{tid}/daily.csv?{q}", headers=auth("crash"))
    assert r.status_code == 200 and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [(row["day"], int(row["plays"]), int(row["listeners"]), int(row["completions"]), int(row["skips"]))
            for row in rows] == [(d["day"], d["plays"], d["listeners"], d["completions"], d["skips"]) for d in raw_days]
    assert [row["downloads"] for row in rows] == [";".join(f"{k}={v}" for k, v in sorted(d["downloads"].items()))
                                                  for d in raw_days]
    r = client.get(f"/api/analytics/tracks/{tid}/heatmap.csv?{q}", headers=auth("crash"))
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == raw_heat["seconds"]
    for kind in metrics.HEAT_KINDS:
        assert [int(row[kind]) for row in rows] == raw_heat[kind]

    # the summary: totals per track
    r = client.get(f"/api/analytics/summary?{q}", headers=auth("crash"))
    t = next(t for t in r.get_json()["tracks"] if t["id"] == tid)
    assert t["plays"] == sum(d["plays"] for d in raw_days) and t["listeners"] == sum(d["listeners"] for d in raw_days)


def test_album_chart_and_csv(app, client, auth):
    svc, tid, first, last = _setup(app, title="On the album")
    album = client.post("/api/albums", json={"title": "Charted", "release_state": "public"},
                        headers=auth("ivory")).get_json()["id"]
    assert client.patch(f"/api/tracks/{tid}", json={"album_id": album}, headers=auth("ivory")).status_code == 200
    q = f"from={first}&to={last}"
    with svc.db.session() as s:
        raw_days = metrics.daily(s, [tid], first, last)
    root = _svg(client.get(f"/api/analytics/albums/{album}/daily.svg?{q}", headers=auth("crash")))
    assert [int(b.get("data-value")) for b in _els(root, "rect", "bar")] == [d["plays"] for d in raw_days]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/analytics/albums/{album}/daily.csv?{q}",
                                                      headers=auth("crash")).get_data(as_text=True))))
    assert [int(r["plays"]) for r in rows] == [d["plays"] for d in raw_days]
    s = client.get(f"/api/analytics/summary?{q}", headers=auth("crash")).get_json()
    assert next(a for a in s["albums"] if a["id"] == album)["track_ids"] == [tid]


def test_only_the_band_or_this_sites_signature_gets_charts_and_exports(app, client, auth):
    svc, tid, first, last = _setup(app)
    paths = [f"/api/analytics/tracks/{tid}/daily.svg", f"/api/analytics/tracks/{tid}/heatmap.svg",
             f"/api/analytics/tracks/{tid}/daily.csv", f"/api/analytics/tracks/{tid}/heatmap.csv",
             "/api/analytics/summary", f"/api/analytics/tracks/{tid}/daily"]
    for p in paths:
        r = client.get(p)  # unsigned, no token
        assert r.status_code == 401 and r.mimetype == "application/json", p
        assert b"<svg" not in r.get_data() and b"plays" not in r.get_data()
        r = client.get(p, headers=auth("listener"))  # a fan's listener token
        assert r.status_code == 403 and r.get_json()["code"] == "missing_right", p
        r = client.get(p, headers=sign("not-the-secret", "GET", p))  # a forged signature
        assert r.status_code == 401 and r.get_json()["code"] == "signature_invalid", p
        r = client.get(p, headers=sign(SECRET, "GET", p))  # this site's signature (the wp-admin dashboard)
        assert r.status_code == 200, (p, r.get_data(as_text=True)[:300])
    signed = sign(SECRET, "GET", paths[0])
    assert client.get(paths[0] + "?from=2026-04-10", headers=signed).status_code == 401  # the query is signed too
    # ranges and items that do not exist: the one error shape, no picture
    for p, code in ((f"/api/analytics/tracks/{tid}/daily.svg?from=2026-05-01&to=2026-04-01", 422),
                    (f"/api/analytics/tracks/{tid}/heatmap.csv?from=2020-01-01&to=2026-01-01", 422),
                    ("/api/analytics/tracks/987654/heatmap.svg", 404), ("/api/analytics/albums/987654/daily.csv", 404)):
        r = client.get(p, headers=auth("crash"))
        assert r.status_code == code and r.get_json()["status"] == code, p
    # the two rolled days are in the rollups (the third came from the events)
    with svc.db.session() as s:
        assert s.scalar(sa.text(f"SELECT count(*) FROM analytics_track_days WHERE track_id = {tid}")) == 2
