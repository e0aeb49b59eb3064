"""The figures the wp-admin dashboard charts, from the companion: per day (a track, an album, the whole
site), the per-second heat map with the envelope of the track's real waveform (its peaks), the player
controls used, and the CSV rows; their figures are those of the generated events (some days rolled up,
some not); only the band (or this site's signature) gets them."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random

import sqlalchemy as sa

from companion.analytics import metrics, rollups
from companion.band.signing import sign
from companion.catalog.models import Track
from tests.analytics.test_rollups import _events, _insert

SECRET = "test-shared-secret"


def _json(r) -> dict:
    assert r.status_code == 200 and r.mimetype == "application/json", r.get_data(as_text=True)[:500]
    return r.get_json()


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


def test_figures_and_csv_rows_are_the_events_figures(db_kind, app, client, auth):
    svc, tid, first, last = _setup(app)
    q = f"from={first}&to={last}"
    with svc.db.session() as s:
        raw_days = metrics.daily(s, [tid], first, last)
        raw_heat = metrics.heatmap(s, tid, first, last, duration=180.0)
    assert sum(d["plays"] for d in raw_days) > 20

    # the figures by day, with the title (as text) and the player controls used
    body = _json(client.get(f"/api/analytics/tracks/{tid}/daily?{q}", headers=auth("crash")))
    assert body["days"] == raw_days and body["title"] == "Orbit <b>&</b>"
    with svc.db.session() as s:
        assert body["interactions"] == metrics.interactions(s, [tid], first, last)
    assert sum(body["interactions"].values()) > 0

    # the heat map: per second, per kind, and the envelope of the real waveform (the ramp of the peaks)
    heat = _json(client.get(f"/api/analytics/tracks/{tid}/heatmap?{q}", headers=auth("crash")))
    for kind in metrics.HEAT_KINDS:
        assert heat[kind] == raw_heat[kind], kind
    wave = heat["waveform"]
    assert wave["pixels"] == 180 * 10 and len(wave["max"]) == len(wave["min"]) <= 1000
    assert abs(wave["seconds_per_point"] * len(wave["max"]) - 180.0) < 0.5  # covers the whole track
    assert wave["max"] == sorted(wave["max"]) and wave["max"][-1] == 1.0 and wave["min"][-1] == -1.0
    assert wave["max"][0] < 0.01  # the ramp starts silent

    # the whole site: every track together
    site = _json(client.get(f"/api/analytics/site/daily?{q}", headers=auth("crash")))
    assert [d["plays"] for d in site["days"]] == [d["plays"] for d in raw_days]  # the only track with events
    assert site["interactions"] == body["interactions"]

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


def test_album_figures_and_csv(app, client, auth):
    svc, tid, first, last = _setup(app, title="On the album")
    album = client.post("/api/albums", json={"title": "Charted", "release_state": "public"},
                        headers=auth("ivory")).get_json()["id"]
    assert client.patch(f"/api/tracks/{tid}", json={"album_id": album}, headers=auth("ivory")).status_code == 200
    q = f"from={first}&to={last}"
    with svc.db.session() as s:
        raw_days = metrics.daily(s, [tid], first, last)
    body = _json(client.get(f"/api/analytics/albums/{album}/daily?{q}", headers=auth("crash")))
    assert [d["plays"] for d in body["days"]] == [d["plays"] for d in raw_days] and body["title"] == "Charted"
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/analytics/albums/{album}/daily.csv?{q}",
                                                      headers=auth("crash")).get_data(as_text=True))))
    assert [int(r["plays"]) for r in rows] == [d["plays"] for d in raw_days]
    s = client.get(f"/api/analytics/summary?{q}", headers=auth("crash")).get_json()
    assert next(a for a in s["albums"] if a["id"] == album)["track_ids"] == [tid]


def test_only_the_band_or_this_sites_signature_gets_figures_and_exports(app, client, auth):
    svc, tid, first, last = _setup(app)
    paths = [f"/api/analytics/tracks/{tid}/daily", f"/api/analytics/tracks/{tid}/heatmap",
             f"/api/analytics/tracks/{tid}/daily.csv", f"/api/analytics/tracks/{tid}/heatmap.csv",
             "/api/analytics/summary", "/api/analytics/site/daily", "/api/analytics/site/daily.csv"]
    for p in paths:
        r = client.get(p)  # unsigned, no token
        assert r.status_code == 401 and r.mimetype == "application/json", p
        assert b"plays" not in r.get_data() and b"starts" not in r.get_data()
        r = client.get(p, headers=auth("listener"))  # a fan's listener token
        assert r.status_code == 403 and r.get_json()["code"] == "missing_right", p
        r = client.get(p, headers=sign("not-the-secret", "GET", p))  # a forged signature
        assert r.status_code == 401 and r.get_json()["code"] == "signature_invalid", p
        r = client.get(p, headers=sign(SECRET, "GET", p))  # this site's signature (the wp-admin dashboard)
        assert r.status_code == 200, (p, r.get_data(as_text=True)[:300])
    signed = sign(SECRET, "GET", paths[0])
    assert client.get(paths[0] + "?from=2026-04-10", headers=signed).status_code == 401  # the query is signed too
    # ranges and items that do not exist: the one error shape, no figures
    for p, code in ((f"/api/analytics/tracks/{tid}/daily?from=2026-05-01&to=2026-04-01", 422),
                    (f"/api/analytics/tracks/{tid}/heatmap.csv?from=2020-01-01&to=2026-01-01", 422),
                    ("/api/analytics/site/daily?from=2026-04-01&to=nonsense", 422),
                    ("/api/analytics/tracks/987654/heatmap", 404), ("/api/analytics/albums/987654/daily.csv", 404)):
        r = client.get(p, headers=auth("crash"))
        assert r.status_code == code and r.get_json()["status"] == code, p
    # the two rolled days are in the rollups (the third came from the events)
    with svc.db.session() as s:
        assert s.scalar(sa.text(f"SELECT count(*) FROM analytics_track_days WHERE track_id = {tid}")) == 2


def test_a_performance_has_the_figures_of_its_released_recording(app, client, auth):
    """A performance (a live session whose mix was released as a track) gets its recording's figures, under
    its broadcast's title; a session not released, or not there, is 404 in the one shape."""
    from companion.live.models import LiveBroadcast, LiveSession

    svc, tid, first, last = _setup(app, title="Recording of the night")
    with svc.db.session() as s:
        released = LiveSession(started_by="ivory", track_id=tid)
        unreleased = LiveSession(started_by="ivory")
        s.add_all([released, unreleased])
        s.flush()
        s.add(LiveBroadcast(wp_post_id=7, title="Night <b>live</b>", starts_at=dt.datetime(2026, 4, 10, 20),
                            created_by="ivory", session_id=released.id, recording_track_id=tid))
        sid, other = released.id, unreleased.id
    q = f"from={first}&to={last}"
    track = _json(client.get(f"/api/analytics/tracks/{tid}/daily?{q}", headers=auth("crash")))
    perf = _json(client.get(f"/api/analytics/performances/{sid}/daily?{q}", headers=auth("crash")))
    assert perf["days"] == track["days"] and perf["track_id"] == tid and perf["title"] == "Night <b>live</b>"
    assert perf["interactions"] == track["interactions"]
    heat = _json(client.get(f"/api/analytics/performances/{sid}/heatmap?{q}", headers=auth("crash")))
    theat = _json(client.get(f"/api/analytics/tracks/{tid}/heatmap?{q}", headers=auth("crash")))
    assert {k: heat[k] for k in metrics.HEAT_KINDS} == {k: theat[k] for k in metrics.HEAT_KINDS}
    assert heat["waveform"] == theat["waveform"] is not None
    r = client.get(f"/api/analytics/performances/{sid}/heatmap.csv?{q}", headers=auth("crash"))
    assert [int(row["starts"]) for row in csv.DictReader(io.StringIO(r.get_data(as_text=True)))] == theat["starts"]
    r = client.get(f"/api/analytics/performances/{sid}/daily.csv?{q}", headers=auth("crash"))
    assert [int(row["plays"]) for row in csv.DictReader(io.StringIO(r.get_data(as_text=True)))] == \
        [d["plays"] for d in track["days"]]
    summary = _json(client.get(f"/api/analytics/summary?{q}", headers=auth("crash")))
    (row,) = [p for p in summary["performances"] if p["id"] == sid]
    assert row["track_id"] == tid and row["plays"] == sum(d["plays"] for d in track["days"])
    assert other not in [p["id"] for p in summary["performances"]]
    for p in (f"/api/analytics/performances/{other}/daily", f"/api/analytics/performances/987654/heatmap",
              f"/api/analytics/performances/{other}/daily.csv"):
        r = client.get(p, headers=auth("crash"))
        assert r.status_code == 404 and r.get_json()["code"] == "performance_not_found", p
        assert str(tid) not in r.get_json()["message"]
    # and only for the band
    r = client.get(f"/api/analytics/performances/{sid}/daily", headers=auth("listener"))
    assert r.status_code == 403 and b"plays" not in r.get_data()
