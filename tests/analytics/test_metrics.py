"""Per-day figures and the per-second heat map from what scripted listeners did (beacons through the
stream), exact on every database; CSV export; rights and hostile ranges refused."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time

import pytest

from companion.analytics import ingest


def _listener(client, n, session, track, events, ua="Fan"):
    now = int(time.time() * 1000)
    evs = [dict(e, track=track, t=now) for e in events]
    r = client.post("/api/beacons", data=json.dumps({"session": session, "events": evs}), content_type="text/plain",
                    environ_base={"REMOTE_ADDR": f"198.51.100.{n}", "HTTP_USER_AGENT": ua})
    assert r.status_code == 202, r.get_json()


@pytest.fixture
def listened(app, client, auth):
    """Five sessions of four listeners on one track (L5 is L1 again, on another visit)."""
    tid = client.post("/api/tracks", json={"title": "Heat", "release_state": "public"},
                      headers=auth("ivory")).get_json()["id"]
    _listener(client, 1, "session-one1", tid, [
        {"type": "play", "pos": 0}, {"type": "progress", "pos": 10, "data": {"played": 10}},
        {"type": "progress", "pos": 40, "data": {"played": 40}},
        {"type": "complete", "pos": 180, "data": {"duration": 180}}])
    _listener(client, 2, "session-two2", tid, [
        {"type": "play", "pos": 0}, {"type": "seek", "pos": 60, "data": {"from": 5, "to": 60}},
        {"type": "pause", "pos": 65.4}])
    _listener(client, 3, "session-three", tid, [
        {"type": "play", "pos": 0}, {"type": "progress", "pos": 10, "data": {"played": 10}},
        {"type": "reaction", "pos": 11.2, "data": {"emoji": "fire"}}, {"type": "pause", "pos": 12.9}])
    _listener(client, 4, "session-four", tid, [
        {"type": "play", "pos": 0}, {"type": "progress", "pos": 50, "data": {"played": 50}},
        {"type": "seek", "pos": 20, "data": {"from": 50, "to": 20}},
        {"type": "ui", "pos": 21, "data": {"control": "visualizer"}},
        {"type": "tip_click", "pos": 100, "data": {"amount": 5, "currency": "USD"}},
        {"type": "download", "pos": 101, "data": {"format": "flac"}},
        {"type": "complete", "pos": 180, "data": {"duration": 180}}])
    _listener(client, 1, "session-five", tid, [{"type": "play", "pos": 0}, {"type": "pause", "pos": 5}])
    ingest.drain(app.extensions["scripthammer"])
    return tid


def test_daily_figures_and_the_heat_map_match_what_listeners_did(db_kind, client, auth, listened):
    today = dt.datetime.now(dt.timezone.utc).date()
    yesterday = today - dt.timedelta(days=1)
    r = client.get(f"/api/analytics/tracks/{listened}/daily?from={yesterday}&to={today}", headers=auth("crash"))
    assert r.status_code == 200, r.get_json()
    days = r.get_json()["days"]
    assert [d["day"] for d in days] == [yesterday.isoformat(), today.isoformat()]
    assert days[0]["plays"] == 0 and days[0]["listeners"] == 0
    assert days[1] == {"day": today.isoformat(), "plays": 5, "plays_30s": 3, "listeners": 4, "completions": 2,
                       "completion_rate": 0.4, "skips": 2, "avg_listened_s": pytest.approx((180 + 65.4 + 12.9 + 180 + 5) / 5, abs=0.01),
                       "tip_clicks": 1, "tips": 0, "tips_amount": {}, "purchases": 0, "purchases_amount": {},
                       "downloads": {"flac": 1}}
    r = client.get(f"/api/analytics/tracks/{listened}/heatmap?from={today}&to={today}", headers=auth("crash"))
    assert r.status_code == 200, r.get_json()
    h = r.get_json()
    nz = {k: {i: v for i, v in enumerate(h[k]) if v} for k in ("starts", "seeks", "replays", "dropoffs", "reactions")}
    assert nz == {"starts": {0: 5}, "seeks": {60: 1, 20: 1}, "replays": {20: 1},
                  "dropoffs": {65: 1, 12: 1, 5: 1}, "reactions": {11: 1}}
    assert h["seconds"] == len(h["starts"]) == 66
    assert h["interactions"] == {"visualizer": 1, "download": 1, "tip_click": 1}


def test_album_figures_and_csv_export(client, auth, listened):
    album = client.post("/api/albums", json={"title": "Heat Album", "release_state": "public"},
                        headers=auth("ivory")).get_json()["id"]
    assert client.patch(f"/api/tracks/{listened}", json={"album_id": album}, headers=auth("ivory")).status_code == 200
    today = dt.datetime.now(dt.timezone.utc).date()
    r = client.get(f"/api/analytics/albums/{album}/daily?from={today}&to={today}", headers=auth("crash"))
    assert r.status_code == 200 and r.get_json()["days"][0]["plays"] == 5 and r.get_json()["track_ids"] == [listened]
    r = client.get(f"/api/analytics/tracks/{listened}/daily?from={today}&to={today}&format=csv", headers=auth("crash"))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 1 and rows[0]["plays"] == "5" and rows[0]["downloads"] == "flac=1"


def test_reports_need_the_band_and_refuse_hostile_ranges(client, auth, listened):
    url = f"/api/analytics/tracks/{listened}/daily"
    assert client.get(url).status_code == 401
    r = client.get(url, headers=auth("listener"))
    assert r.status_code == 403 and r.get_json()["code"] == "missing_right"
    assert client.get(f"/api/analytics/tracks/{listened}/heatmap", headers=auth("listener")).status_code == 403
    r = client.get("/api/analytics/tracks/99999/daily", headers=auth("crash"))
    assert r.status_code == 404 and r.get_json()["code"] == "track_not_found"
    for qs in ("from=2026-02-01&to=2026-01-01", "from=2020-01-01&to=2026-01-01", "from=yesterday",
               "format=xlsx", "from=2026-13-01"):
        r = client.get(f"{url}?{qs}", headers=auth("crash"))
        assert r.status_code == 422, (qs, r.get_json())
        assert r.get_json()["status"] == 422 and r.get_json()["message"]
