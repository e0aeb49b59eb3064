"""POST /api/beacons: batches validated (size, schema, event types, known tracks) and stored."""
from __future__ import annotations

import json
import time

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
    """What the stream's consumers have written, once everything on the stream is written."""
    from companion.analytics.ingest import drain

    svc = app.extensions["scripthammer"]
    drain(svc)
    with svc.db.session() as s:
        return list(s.scalars(sa.select(PlaybackEvent).order_by(PlaybackEvent.received_at, PlaybackEvent.event_uid)))


def _beacon(track_id, **over):
    body = {"v": 1, "session": "sess-12345678", "page": "https://band.example/song/",
            "events": [{"type": "play", "track": track_id, "pos": 0.0, "t": int(time.time() * 1000) - 5000},
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
    assert r.get_json() == {"accepted": 8}
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    rows = _events(app)
    assert [e.event for e in rows] == ["play", "seek", "progress", "bitrate", "download", "tip_click", "pause",
                                       "complete"]
    assert {e.session_id for e in rows} == {"sess-12345678"}
    assert {e.page_host for e in rows} == {"band.example"}
    assert rows[1].data == {"from": 3.0, "to": 12.5} and rows[1].position == 12.5
    assert rows[3].data["bitrate"] == 192000
    assert rows[0].client_time is not None and abs(rows[0].client_time.timestamp() - time.time()) < 3 * 86400


def test_json_content_type_and_preflight(client, track_id):
    r = client.post("/api/beacons", json=_beacon(track_id, events=[{"type": "play", "track": track_id}]))
    assert r.status_code == 202 and r.get_json()["accepted"] == 1
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
    (lambda b, t: b["events"][0].update(track=t + 999), "beacon_refused"),
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
    assert {"event_uid", "listener", "session_id", "track_id", "event", "position", "data", "page_host",
            "client_time", "received_at"} <= cols
    app.extensions["scripthammer"].db.dispose()
    command.downgrade(alembic_config(config.database_url), "0001")
    assert "playback_events" not in sa.inspect(sa.create_engine(config.database_url)).get_table_names()


def test_stored_on_every_database(db_kind, app, client, track_id):
    r = client.post("/api/beacons", data=json.dumps(_beacon(track_id)), content_type="text/plain")
    assert r.status_code == 202
    assert len(_events(app)) == 8


# --------------------------------------------------------------------------- what a beacon reveals

def _track(client, auth, title, state, album=None):
    body = {"title": title, "release_state": state}
    if album is not None:
        body["album_id"] = album
    r = client.post("/api/tracks", json=body, headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_missing_draft_and_hidden_tracks_get_one_identical_answer(app, client, auth, track_id):
    """The old unknown_track error listed the ids it did not know, so a fan could tell drafts
    (refused differently) from missing ids. Now every track a fan may not report on gets the
    same body, and nothing is stored."""
    draft = _track(client, auth, "Draft Song", "draft")
    unreleased = _track(client, auth, "Unreleased Song", "unreleased")
    r = client.post("/api/albums", json={"title": "Secret Album", "release_state": "draft"}, headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    hidden_premium = _track(client, auth, "Premium In A Draft Album", "premium", album=r.get_json()["id"])
    missing = max(draft, unreleased, hidden_premium) + 1000
    answers = []
    for tid in (missing, draft, unreleased, hidden_premium):
        r = client.post("/api/beacons", data=json.dumps(_beacon(tid)), content_type="text/plain")
        answers.append((r.status_code, r.get_data()))
    assert len(set(answers)) == 1, answers
    status, body = answers[0]
    assert status == 422
    err = json.loads(body)
    assert err["code"] == "beacon_refused" and err["details"] == {}
    assert str(missing) not in err["message"]
    # a batch mixing a released track with a draft is refused whole
    mixed = _beacon(track_id, events=[{"type": "play", "track": track_id}, {"type": "play", "track": draft}])
    r = client.post("/api/beacons", data=json.dumps(mixed), content_type="text/plain")
    assert (r.status_code, r.get_data()) == answers[0]
    assert _events(app) == []


def test_released_premium_tracks_and_the_band_on_drafts_are_stored(app, client, auth):
    premium = _track(client, auth, "Premium Song", "premium")   # anyone may hear its preview
    draft = _track(client, auth, "Draft For The Band", "draft")
    r = client.post("/api/beacons", data=json.dumps(_beacon(premium)), content_type="text/plain")
    assert r.status_code == 202, r.get_json()
    r = client.post("/api/beacons", data=json.dumps(_beacon(draft)), content_type="text/plain",
                    headers=auth("crash"))  # band.read_private: the band tries drafts in the player
    assert r.status_code == 202, r.get_json()
    assert {e.track_id for e in _events(app)} == {premium, draft}


# --------------------------------------------------------------------------- rate limit

@pytest.fixture
def limited_app(app_with):
    """An app whose beacon limit is small enough to exceed in a test."""
    return app_with(beacon_rate_limit="5 per minute")


def test_beacons_over_the_limit_get_429_and_other_clients_do_not(limited_app):
    client = limited_app.test_client()
    with limited_app.extensions["scripthammer"].db.session() as s:
        from companion.catalog.service import create_track
        tid = create_track(s, title="Limited", release_state="public").id
    fan = {"REMOTE_ADDR": "203.0.113.7"}
    body = json.dumps(_beacon(tid, events=[{"type": "play", "track": tid}]))
    codes = [client.post("/api/beacons", data=body, content_type="text/plain", environ_base=fan).status_code
             for _ in range(5)]
    assert codes == [202] * 5
    r = client.post("/api/beacons", data=body, content_type="text/plain", environ_base=fan)
    assert r.status_code == 429
    err = r.get_json()
    assert err["status"] == 429 and err["code"] == "too_many_beacons" and "5 per 1 minute" in err["message"]
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60 and err["details"]["retry_after_seconds"] == retry
    # a refused beacon is not stored, and the preflight is not limited
    assert len(_events(limited_app)) == 5
    assert client.options("/api/beacons", environ_base=fan).status_code == 204
    # another listener is unaffected
    other = client.post("/api/beacons", data=body, content_type="text/plain",
                        environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 202, other.get_json()


def test_malformed_and_do_not_track_beacons_count_against_the_limit(limited_app):
    """The limits are counted in the view (one Redis round trip with the append): a client cannot get past
    them by sending batches that are refused, or that keep nothing."""
    client = limited_app.test_client()
    with limited_app.extensions["scripthammer"].db.session() as s:
        from companion.catalog.service import create_track
        tid = create_track(s, title="Limited", release_state="public").id
    fan = {"REMOTE_ADDR": "203.0.113.8"}
    good = json.dumps(_beacon(tid, events=[{"type": "play", "track": tid}]))
    answers = [client.post("/api/beacons", data="{not json", content_type="text/plain", environ_base=fan),
               client.post("/api/beacons", data=json.dumps({"session": "x", "events": []}), content_type="text/plain",
                           environ_base=fan),
               client.post("/api/beacons", data=json.dumps(_beacon(tid + 999)), content_type="text/plain",
                           environ_base=fan),
               client.post("/api/beacons", data=good, content_type="application/xml", environ_base=fan),
               client.post("/api/beacons", data=good, content_type="text/plain", environ_base=fan,
                           headers={"DNT": "1"})]
    assert [a.status_code for a in answers] == [400, 422, 422, 415, 202]
    # five hits spent: the sixth request, however good, is refused, and so is a malformed one
    r = client.post("/api/beacons", data=good, content_type="text/plain", environ_base=fan)
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_beacons", r.get_json()
    r = client.post("/api/beacons", data="{not json", content_type="text/plain", environ_base=fan)
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_beacons"
    assert _events(limited_app) == []


def test_a_numbered_batch_refused_by_the_limit_can_be_sent_again_later(limited_app):
    """A 429 appends nothing and does not remember the batch's (session, seq): once the window has passed
    the player's retry is stored, once."""
    svc = limited_app.extensions["scripthammer"]
    client = limited_app.test_client()
    with svc.db.session() as s:
        from companion.catalog.service import create_track
        tid = create_track(s, title="Limited", release_state="public").id
    fan = {"REMOTE_ADDR": "203.0.113.9"}
    for seq in range(5):
        body = json.dumps(_beacon(tid, seq=seq, events=[{"type": "play", "track": tid}]))
        assert client.post("/api/beacons", data=body, content_type="text/plain", environ_base=fan).status_code == 202
    late = json.dumps(_beacon(tid, seq=5, events=[{"type": "pause", "track": tid, "pos": 3.0}]))
    assert client.post("/api/beacons", data=late, content_type="text/plain", environ_base=fan).status_code == 429
    assert [e.event_uid for e in _events(limited_app)] == [f"sess-12345678.{i}.000" for i in range(5)]
    # the window passes (its counters expire)
    for key in svc.redis.scan_iter(f"shm-rl:{svc.config.queue_name}:beacons:*"):
        svc.redis.delete(key)
    r = client.post("/api/beacons", data=late, content_type="text/plain", environ_base=fan)
    assert r.status_code == 202, r.get_json()
    r = client.post("/api/beacons", data=late, content_type="text/plain", environ_base=fan)
    assert r.status_code == 409 and r.get_json()["code"] == "beacon_replayed"
    uids = [e.event_uid for e in _events(limited_app)]
    assert uids.count("sess-12345678.5.000") == 1 and len(uids) == 6


def test_the_public_limit_holds_on_beacons_and_their_preflight(app_with):
    """Beacons left Flask-Limiter's default limit for their own count: the public limit (every route's) still
    holds, shared by POST and the preflight, and says so with the generic code."""
    limited = app_with(public_rate_limit="3 per minute", beacon_rate_limit="100 per minute")
    client = limited.test_client()
    fan = {"REMOTE_ADDR": "203.0.113.10"}
    assert client.options("/api/beacons", environ_base=fan).status_code == 204
    assert client.post("/api/beacons", data="{}", content_type="text/plain", environ_base=fan).status_code == 422
    assert client.options("/api/beacons", environ_base=fan).status_code == 204
    r = client.options("/api/beacons", environ_base=fan)
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_requests"
    assert "3 per 1 minute" in r.get_json()["message"] and int(r.headers["Retry-After"]) >= 1
    r = client.post("/api/beacons", data="{}", content_type="text/plain", environ_base=fan)
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_requests"
    # another address is not affected
    assert client.options("/api/beacons", environ_base={"REMOTE_ADDR": "198.51.100.10"}).status_code == 204
