"""POST /api/beacons: batches validated (size, schema, event types, known tracks) and stored."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from companion.analytics.models import PlaybackEvent
from companion.analytics.service import MAX_BEACON_BYTES


@pytest.fixture
def track_id(client, auth):
    r = client.post("/api/tracks", json={"title": "Beacon Song", "release_state": "public"}, headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _events(app):
    with app.extensions["scripthammer"].db.session() as s:
        return list(s.scalars(sa.select(PlaybackEvent).order_by(PlaybackEvent.id)))


def _beacon(track_id, **over):
    body = {"v": 1, "session": "sess-12345678", "page": "https://band.example/song/",
            "events": [{"type": "play", "track": track_id, "pos": 0.0, "t": 1767225600000},
                       {"type": "seek", "track": track_id, "pos": 12.5, "data": {"from": 3.0, "to": 12.5}},
                       {"type": "progress", "track": track_id, "pos": 22.5, "data": {"played": 10.0}},
                       {"type": "bitrate", "track": track_id, "pos": 23.0,
                        "data": {"level": 2, "bitrate": 192000, "mode": "hls.js"}},
                       {"type": "download", "track": track_id, "data": {"format": "flac"}},
                       {"type": "tip_click", "track": track_id, "data": {"amount": 5, "currency": "USD"}},
                       {"type": "pause", "track": track_id, "pos": 30.1},
                       {"type": "complete", "track": track_id, "pos": 180.0, "data": {"duration": 180.0}}]}
    body.update(over)
    return body


def test_a_batch_sent_as_text_plain_is_stored(app, client, track_id):
    # navigator.sendBeacon with a text/plain Blob: what the player sends.
    r = client.post("/api/beacons", data=json.dumps(_beacon(track_id)), content_type="text/plain;charset=UTF-8")
    assert r.status_code == 202, r.get_json()
    assert r.get_json() == {"stored": 8}
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    rows = _events(app)
    assert [e.event for e in rows] == ["play", "seek", "progress", "bitrate", "download", "tip_click", "pause",
                                       "complete"]
    assert {e.session_id for e in rows} == {"sess-12345678"}
    assert {e.page_host for e in rows} == {"band.example"}
    assert rows[1].data == {"from": 3.0, "to": 12.5} and rows[1].position == 12.5
    assert rows[3].data["bitrate"] == 192000
    assert rows[0].client_time is not None and rows[0].client_time.year == 2026


def test_json_content_type_and_preflight(client, track_id):
    r = client.post("/api/beacons", json=_beacon(track_id, events=[{"type": "play", "track": track_id}]))
    assert r.status_code == 202 and r.get_json()["stored"] == 1
    pre = client.options("/api/beacons")
    assert pre.status_code == 204 and "POST" in pre.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("mutate, code", [
    (lambda b, t: b["events"].append({"type": "explode", "track": t}), "bad_beacon"),
    (lambda b, t: b["events"][0].update(track="1"), "bad_beacon"),
    (lambda b, t: b["events"][0].update(pos=-3), "bad_beacon"),
    (lambda b, t: b["events"][0].update(extra="x"), "bad_beacon"),
    (lambda b, t: b["events"][4]["data"].update(format="../../etc"), "bad_beacon"),
    (lambda b, t: b["events"][4].update(data={}), "bad_beacon"),
    (lambda b, t: b["events"][0].update(data={"cookie": "x"}), "bad_beacon"),
    (lambda b, t: b.update(session="x"), "bad_beacon"),
    (lambda b, t: b.update(events=[]), "bad_beacon"),
    (lambda b, t: b.update(events=[{"type": "play", "track": t}] * 101), "bad_beacon"),
    (lambda b, t: b.pop("session"), "bad_beacon"),
    (lambda b, t: b["events"][0].update(track=t + 999), "unknown_track"),
])
def test_malformed_batches_are_refused_with_422_and_nothing_is_stored(app, client, track_id, mutate, code):
    body = _beacon(track_id)
    mutate(body, track_id)
    r = client.post("/api/beacons", data=json.dumps(body), content_type="text/plain")
    assert r.status_code == 422, r.get_json()
    err = r.get_json()
    assert err["status"] == 422 and err["code"] == code and err["message"]
    assert _events(app) == []


def test_not_json_oversized_and_wrong_type_are_refused(app, client, track_id):
    r = client.post("/api/beacons", data=b"\xff{not json", content_type="text/plain")
    assert r.status_code == 400 and r.get_json()["code"] == "beacon_not_json"
    r = client.post("/api/beacons", data="[1, 2]", content_type="text/plain")
    assert r.status_code == 422 and r.get_json()["code"] == "bad_beacon"
    big = _beacon(track_id, page="https://x.example/" + "a" * MAX_BEACON_BYTES)
    r = client.post("/api/beacons", data=json.dumps(big), content_type="text/plain")
    assert r.status_code == 413 and r.get_json()["code"] == "beacon_too_large"
    assert r.get_json()["details"]["limit_bytes"] == MAX_BEACON_BYTES
    r = client.post("/api/beacons", data=json.dumps(_beacon(track_id)), content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and r.get_json()["code"] == "beacon_type"
    assert _events(app) == []


def test_the_migration_creates_the_table_and_goes_down(app, config):
    from alembic import command

    from companion.db import alembic_config

    insp = sa.inspect(app.extensions["scripthammer"].db.engine)
    assert "playback_events" in insp.get_table_names()
    cols = {c["name"] for c in insp.get_columns("playback_events")}
    assert {"session_id", "track_id", "event", "position", "data", "page_host", "client_time", "received_at"} <= cols
    app.extensions["scripthammer"].db.dispose()
    command.downgrade(alembic_config(config.database_url), "0001")
    assert "playback_events" not in sa.inspect(sa.create_engine(config.database_url)).get_table_names()


def test_stored_on_every_database(db_kind, app, client, track_id):
    r = client.post("/api/beacons", data=json.dumps(_beacon(track_id)), content_type="text/plain")
    assert r.status_code == 202
    assert len(_events(app)) == 8
