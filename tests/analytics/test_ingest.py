"""Beacons through the Redis stream: privacy (pseudonymous rotating ids, no address, DNT/GPC, consent),
bad input (replayed, out of time, markup), idempotent writes, the RQ drain job, and the direct path."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from companion.analytics import ingest
from companion.analytics.models import PlaybackEvent
from companion.analytics.service import event_rows, parse_beacon

FAN = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Fan/1.0"}


@pytest.fixture
def svc(app):
    return app.extensions["scripthammer"]


@pytest.fixture
def track_id(client, auth):
    r = client.post("/api/tracks", json={"title": "Stream Song", "release_state": "public"}, headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _now_ms(offset_s: float = 0) -> int:
    return int((time.time() + offset_s) * 1000)


def _beacon(track_id, **over):
    body = {"v": 1, "session": "sess-abcdef12", "seq": 1, "page": "https://band.example/song/",
            "events": [{"type": "play", "track": track_id, "pos": 0.0, "t": _now_ms(-2)},
                       {"type": "progress", "track": track_id, "pos": 10.0, "t": _now_ms(-1), "data": {"played": 10}},
                       {"type": "reaction", "track": track_id, "pos": 11.5, "t": _now_ms(),
                        "data": {"emoji": "fire", "text": "that drop at 0:11 <3 is great"[:14]}}]}
    body.update(over)
    return body


def _post(client, body, **headers):
    env = dict(FAN)
    env.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return client.post("/api/beacons", data=json.dumps(body), content_type="text/plain", environ_base=env)


def _stored(svc):
    ingest.drain(svc)
    with svc.db.session() as s:
        return list(s.scalars(sa.select(PlaybackEvent).order_by(PlaybackEvent.received_at, PlaybackEvent.event_uid)))


def test_an_accepted_batch_waits_on_the_stream_until_a_consumer_writes_it(svc, client, track_id):
    r = _post(client, _beacon(track_id))
    assert r.status_code == 202 and r.get_json() == {"accepted": 3}, r.get_json()
    assert svc.redis.xlen(ingest.stream_key(svc.config)) == 1
    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PlaybackEvent)) == 0
    rows = _stored(svc)
    assert [e.event for e in rows] == ["play", "progress", "reaction"]
    assert [e.event_uid for e in rows] == ["sess-abcdef12.1.000", "sess-abcdef12.1.001", "sess-abcdef12.1.002"]
    assert rows[2].data == {"emoji": "fire", "text": "that drop at 0"}
    # written, acknowledged and removed: nothing left pending
    assert ingest.backlog(svc)["length"] == 0 and ingest.backlog(svc)["pending"] == 0


def test_listener_ids_are_pseudonymous_rotate_daily_and_no_address_is_stored(svc, client, track_id):
    assert _post(client, _beacon(track_id)).status_code == 202
    rows = _stored(svc)
    listeners = {e.listener for e in rows}
    assert len(listeners) == 1
    (lid,) = listeners
    assert len(lid) == 32 and int(lid, 16) >= 0
    today = dt.datetime.now(dt.timezone.utc).date()
    assert ingest.listener_id(svc, FAN["REMOTE_ADDR"], FAN["HTTP_USER_AGENT"], today) == lid
    # tomorrow the same fan is someone else; another address today is someone else
    assert ingest.listener_id(svc, FAN["REMOTE_ADDR"], FAN["HTTP_USER_AGENT"], today + dt.timedelta(days=1)) != lid
    assert ingest.listener_id(svc, "198.51.100.9", FAN["HTTP_USER_AGENT"], today) != lid
    # a plain hash of the address and agent (no salt) is not it
    import hashlib
    assert hashlib.sha256(f"{FAN['REMOTE_ADDR']}\n{FAN['HTTP_USER_AGENT']}".encode()).hexdigest()[:32] != lid
    # the salt expires (two days), and the address is nowhere in the stored rows
    salt_key = f"{svc.config.queue_name}:analytics:salt:{today.isoformat()}"
    assert 0 < svc.redis.ttl(salt_key) <= 2 * 86400
    with svc.db.engine.connect() as c:
        dump = json.dumps([list(map(str, r)) for r in c.execute(sa.text("SELECT * FROM playback_events"))])
    assert "203.0.113.7" not in dump and "Fan/1.0" not in dump


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_do_not_track_and_global_privacy_control_keep_nothing(svc, client, track_id, header):
    r = _post(client, _beacon(track_id), **header)
    assert r.status_code == 202 and r.get_json() == {"accepted": 0}
    assert svc.redis.xlen(ingest.stream_key(svc.config)) == 0
    assert _stored(svc) == []
    # DNT: 0 is not an opt-out
    assert _post(client, _beacon(track_id), DNT="0").get_json() == {"accepted": 3}


def test_when_the_site_asks_for_consent_only_consenting_players_are_kept(app_with, auth):
    app = app_with(analytics_consent="required")
    client, svc = app.test_client(), app.extensions["scripthammer"]
    tid = client.post("/api/tracks", json={"title": "Consent", "release_state": "public"},
                      headers={"Authorization": f"Bearer {app.test_tokens['ivory']}"}).get_json()["id"]
    for consent in (None, False):
        body = _beacon(tid, consent=consent)
        assert _post(client, body).get_json() == {"accepted": 0}
    assert _stored(svc) == []
    assert _post(client, _beacon(tid, consent=True, seq=9)).get_json() == {"accepted": 3}
    assert len(_stored(svc)) == 3


def test_a_replayed_batch_is_refused_with_409_and_stored_once(svc, client, track_id):
    assert _post(client, _beacon(track_id)).status_code == 202
    r = _post(client, _beacon(track_id))
    assert r.status_code == 409, r.get_json()
    err = r.get_json()
    assert err["status"] == 409 and err["code"] == "beacon_replayed" and err["message"]
    assert len(_stored(svc)) == 3
    # the next batch of the session, and the same seq of another session, are new
    assert _post(client, _beacon(track_id, seq=2)).status_code == 202
    assert _post(client, _beacon(track_id, session="sess-other999")).status_code == 202
    assert len(_stored(svc)) == 9


def test_a_refused_batch_does_not_burn_its_seq(svc, client, track_id):
    """A batch refused for its content leaves its (session, seq) free: the player's retry is not a replay."""
    bad = _beacon(track_id)
    bad["events"][0]["t"] = _now_ms(-30 * 86400)
    assert _post(client, bad).status_code == 422
    assert _post(client, _beacon(track_id)).status_code == 202


@pytest.mark.parametrize("offset_s", [-8 * 86400, 2 * 86400, 10**11])
def test_events_far_in_the_past_or_future_are_refused(svc, client, track_id, offset_s):
    body = _beacon(track_id)
    body["events"][1]["t"] = _now_ms(offset_s)
    r = _post(client, body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["code"] == "beacon_out_of_time"
    assert _stored(svc) == [] and svc.redis.xlen(ingest.stream_key(svc.config)) == 0


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "nice <b>riff</b>", "a &lt; b", "&#60;img&#62;",
                                  "bell\x07", ""])
def test_a_reaction_with_markup_is_refused(svc, client, track_id, text):
    body = _beacon(track_id)
    body["events"][2]["data"] = {"emoji": "fire", "text": text}
    r = _post(client, body)
    assert r.status_code == 422 and r.get_json()["code"] == "bad_beacon", r.get_json()
    assert "events" in r.get_json()["details"]["fields"]
    assert _stored(svc) == []


@pytest.mark.parametrize("data", [{"emoji": "skull"}, {}, {"emoji": "fire", "html": "<b>"}])
def test_a_reaction_needs_a_known_emoji_or_text(svc, client, track_id, data):
    body = _beacon(track_id)
    body["events"][2]["data"] = data
    r = _post(client, body)
    assert r.status_code == 422 and r.get_json()["code"] == "bad_beacon"
    assert _stored(svc) == []


@pytest.mark.parametrize("db_kind, copy_from", [("sqlite", 200), ("postgresql", 200), ("postgresql", 1),
                                               ("mariadb", 200)])
def test_an_entry_written_twice_is_stored_once(db_kind, copy_from, svc, track_id, monkeypatch):
    """A consumer that dies after its commit and before its XACK: the entry is claimed and written again,
    and the second write adds nothing (on every database, and on PostgreSQL's COPY path)."""
    monkeypatch.setattr(ingest, "COPY_FROM", copy_from)
    beacon = parse_beacon(_beacon(track_id))
    received = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ingest.publish(svc, event_rows(beacon, received_at=received, listener="f" * 32))
    ingest.ensure_group(svc)
    key = ingest.stream_key(svc.config)
    got = svc.redis.xreadgroup(ingest.GROUP, "doomed", {key: ">"}, count=10)
    _ids, rows = ingest._decode(got[0][1])
    with svc.db.session() as s:
        ingest.write_rows(s, rows)   # committed, never acknowledged: "doomed" dies here
    assert ingest.backlog(svc)["consumers"] == {"doomed": 1}
    assert ingest.drain(svc, "heir", claim_idle_ms=0) == 1
    rows = _stored(svc)
    assert len(rows) == 3 and len({r.event_uid for r in rows}) == 3
    assert ingest.backlog(svc)["pending"] == 0


@pytest.mark.parametrize("db_kind, copy_from", [("sqlite", 200), ("postgresql", 200), ("postgresql", 1)])
def test_events_of_a_track_deleted_before_the_write_are_left_out(db_kind, copy_from, svc, client, auth, track_id,
                                                                 monkeypatch):
    """On PostgreSQL with copy_from=1 the consumer's COPY path is taken (as for any batch of 200 rows or more)."""
    monkeypatch.setattr(ingest, "COPY_FROM", copy_from)
    other = client.post("/api/tracks", json={"title": "Doomed", "release_state": "public"},
                        headers=auth("ivory")).get_json()["id"]
    assert _post(client, _beacon(track_id)).status_code == 202
    assert _post(client, _beacon(other, seq=2)).status_code == 202
    from companion.catalog.models import Track
    with svc.db.session() as s:  # the band removes the track before a consumer gets to its beacon
        s.delete(s.get(Track, other))
    rows = _stored(svc)
    assert {e.track_id for e in rows} == {track_id} and len(rows) == 3
    assert ingest.backlog(svc)["length"] == 0


def test_a_stream_entry_that_is_not_a_batch_is_dropped_not_stored(svc, client, track_id):
    ingest.ensure_group(svc)
    svc.redis.xadd(ingest.stream_key(svc.config), {"rows": "not json"})
    assert _post(client, _beacon(track_id)).status_code == 202
    assert len(_stored(svc)) == 3
    assert ingest.backlog(svc)["length"] == 0


def test_the_rq_drain_job_writes_the_stream(svc, client, track_id, run_jobs):
    from companion.tasks.service import create_job, submit

    assert _post(client, _beacon(track_id)).status_code == 202
    with svc.db.session() as s:
        job = create_job(s, kind="analytics_drain", params={})
    submit(svc, job, "jobs.analytics.drain_job")
    assert svc.queue("analytics").count == 1
    run_jobs()
    from tests.faults.procs import job_row
    row = job_row(svc, job.id)
    assert row["state"] == "finished" and row["result"] == {"entries": 1}, row
    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PlaybackEvent)) == 3


def test_the_direct_path_inserts_in_the_request(app_with):
    app = app_with(analytics_ingest="direct")
    client, svc = app.test_client(), app.extensions["scripthammer"]
    tid = client.post("/api/tracks", json={"title": "Direct", "release_state": "public"},
                      headers={"Authorization": f"Bearer {app.test_tokens['ivory']}"}).get_json()["id"]
    assert _post(client, _beacon(tid)).get_json() == {"accepted": 3}
    assert svc.redis.xlen(ingest.stream_key(svc.config)) == 0
    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PlaybackEvent)) == 3


# --------------------------------------------------------------------------- PostgreSQL partitions

@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_postgresql_keeps_events_in_day_partitions_made_and_retired_by_the_job(db_kind, svc, client, track_id,
                                                                               config):
    from companion.analytics.partitions import ensure_partitions, list_partitions, partition_name

    today = dt.datetime.now(dt.timezone.utc).date()
    with svc.db.engine.connect() as c:
        parts = list_partitions(c)
    assert "playback_events_default" in parts
    assert {partition_name(today + dt.timedelta(days=n)) for n in range(8)} <= set(parts)
    assert _post(client, _beacon(track_id)).status_code == 202
    assert len(_stored(svc)) == 3
    with svc.db.engine.connect() as c:
        where = c.execute(sa.text("SELECT tableoid::regclass::text, count(*) FROM playback_events GROUP BY 1")).all()
    assert where == [(partition_name(today), 3)]
    # an old row sits in the default partition until its day's partition is made, then moves there
    old_day = today - dt.timedelta(days=40)
    with svc.db.session() as s:
        s.execute(sa.text("INSERT INTO playback_events (received_at, event_uid, session_id, track_id, event, data) "
                          "VALUES (:at, 'old.1.000', 'sess-old00001', :t, 'play', '{}')"),
                  {"at": dt.datetime.combine(old_day, dt.time(12)), "t": track_id})
    with svc.db.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM playback_events_default")).scalar() == 1
    made = ensure_partitions(svc.db.engine, today=old_day, days_ahead=0)
    assert made["made"] == [partition_name(old_day)]
    with svc.db.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM playback_events_default")).scalar() == 0
        assert c.execute(sa.text(f"SELECT count(*) FROM {partition_name(old_day)}")).scalar() == 1
    # the partitions job with a 30-day retention retires that day, and only that day
    import dataclasses

    from companion.tasks.service import create_job
    from jobs import context
    from jobs.analytics import partitions_job

    context.configure(dataclasses.replace(config, analytics_retention_days=30))
    with svc.db.session() as s:
        job = create_job(s, kind="analytics_partitions", params={})
    result = partitions_job(job.id)
    assert result["dropped"] == [partition_name(old_day)], result
    with svc.db.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM playback_events")).scalar() == 3
        assert partition_name(old_day) not in list_partitions(c)
    # the migration goes down (partitions with it) and up again
    from alembic import command

    from companion.db import alembic_config
    svc.db.dispose()
    command.downgrade(alembic_config(config.database_url), "0007_wp")
    eng = sa.create_engine(config.database_url)
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM playback_events")).scalar() == 3
        assert not [r for r in c.execute(sa.text("SELECT relname FROM pg_class WHERE relname ~ '^playback_events_p[0-9]{8}$'"))]
    command.upgrade(alembic_config(config.database_url), "head")
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM playback_events")).scalar() == 3
        # copied into the default partition, then moved into their day when the migration made it
        assert c.execute(sa.text(f"SELECT count(*) FROM {partition_name(today)}")).scalar() == 3
    eng.dispose()


def test_a_track_taken_back_to_draft_is_refused_within_seconds(svc, client, auth, track_id, monkeypatch):
    """Released tracks are remembered as reportable for a few seconds (a round trip saved per beacon):
    once that passes, a track taken back to draft is refused like any draft."""
    from companion.analytics import service

    monkeypatch.setattr(service, "REPORTABLE_TTL", 0.5)
    assert _post(client, _beacon(track_id)).status_code == 202
    r = client.patch(f"/api/tracks/{track_id}", json={"release_state": "draft"}, headers=auth("ivory"))
    assert r.status_code == 200, r.get_json()
    time.sleep(0.6)
    r = _post(client, _beacon(track_id, seq=2))
    assert r.status_code == 422 and r.get_json()["code"] == "beacon_refused"
    assert len(_stored(svc)) == 3
