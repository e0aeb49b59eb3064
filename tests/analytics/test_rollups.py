"""Rollups give the same figures as the events: on SQLite, PostgreSQL and MariaDB, for generated listening
over several days and tracks (sessions across midnight, listeners on several tracks, late events); a roll
made again changes nothing; an event that arrives late for a rolled day counts after the next roll; and
once rolled, the figures come from the rollups (the events can be gone)."""
from __future__ import annotations

import datetime as dt
import json
import random

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from companion.analytics import metrics, rollups
from companion.analytics.models import PlaybackEvent, RollupDay, TrackDayListener, TrackDayStats, TrackSecondStats
from companion.catalog.service import create_album, create_track

DAYS = 4


def _events(rng: random.Random, track_ids: list[int], first: dt.date, n_sessions: int) -> list[dict]:
    """What scripted listeners did: sessions that start or not, seek back and forth, react, download,
    tip, use the controls, stop anywhere or complete; some run over midnight; some listeners are unknown."""
    rows = []
    listeners = [f"l{i:02d}" for i in range(12)] + [None]
    for n in range(n_sessions):
        tid = rng.choice(track_ids)
        who = rng.choice(listeners)
        sid = f"s{n:04d}"
        day = first + dt.timedelta(days=rng.randrange(DAYS))
        t = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.choice(
            [rng.randrange(86_400), 86_400 - rng.randrange(1, 40)]))  # some end after midnight
        pos = 0.0 if rng.random() < 0.8 else rng.uniform(1, 60)
        evs = [("play", pos, {})]
        for _ in range(rng.randrange(0, 7)):
            kind = rng.choice(["progress", "progress", "seek", "reaction", "pause", "download", "tip_click", "ui",
                               "bitrate"])
            if kind == "seek":
                to = round(rng.uniform(0, 179), 1)
                evs.append(("seek", to, {"from": pos, "to": to}))
                pos = to
            elif kind == "progress":
                pos = min(179.0, pos + rng.uniform(1, 50))
                evs.append(("progress", pos, {"played": pos}))
            elif kind == "download":
                evs.append(("download", pos, {"format": rng.choice(["flac", "mp3", "wav"])}))
            elif kind == "ui":
                evs.append(("ui", pos, {"control": rng.choice(["visualizer", "volume", "download_menu"])}))
            elif kind == "reaction":
                evs.append(("reaction", pos + 0.4, {"emoji": "fire"}))
            else:
                evs.append((kind, pos, {}))
        if rng.random() < 0.3:
            evs.append(("complete", 180.0, {"duration": 180}))
        for i, (kind, p, data) in enumerate(evs):
            rows.append({"received_at": t + dt.timedelta(seconds=4 * i), "event_uid": f"{sid}.{i}", "session_id": sid,
                         "listener": who, "track_id": tid, "event": kind, "position": p, "data": data,
                         "page_host": "band.example", "client_time": None})
    return rows


def _insert(db, rows) -> None:
    with db.session() as s:
        s.execute(sa.insert(PlaybackEvent), rows)


def _raw(s, tracks, album_ids, first, last) -> dict:
    """The figures straight from the events (metrics.*): the anchor."""
    return {"daily": {t: metrics.daily(s, [t], first, last) for t in tracks},
            "album": metrics.daily(s, album_ids, first, last),
            "heat": {t: metrics.heatmap(s, t, first, last, duration=180.0) for t in tracks},
            "ui": {t: metrics.interactions(s, [t], first, last) for t in tracks}}


def _rolled(s, tracks, album_ids, first, last) -> dict:
    return {"daily": {t: rollups.daily(s, [t], first, last) for t in tracks},
            "album": rollups.daily(s, album_ids, first, last),
            "heat": {t: rollups.heatmap(s, t, first, last, duration=180.0) for t in tracks},
            "ui": {t: rollups.interactions(s, [t], first, last) for t in tracks}}


def _same(a: dict, b: dict) -> None:
    """Equal, but for the average listened seconds (a sum over a count instead of an AVG: same to 0.01)."""
    def strip(x):
        return json.loads(json.dumps(x, default=str), parse_float=lambda v: round(float(v), 1))
    assert strip(a) == strip(b)
    for t in a["daily"]:
        for ra, rb in zip(a["daily"][t], b["daily"][t]):
            assert (ra["avg_listened_s"] is None) == (rb["avg_listened_s"] is None)
            if ra["avg_listened_s"] is not None:
                assert ra["avg_listened_s"] == pytest.approx(rb["avg_listened_s"], abs=0.011)


def _snapshot(s) -> dict:
    return {t.__tablename__: sorted(json.dumps([getattr(r, c.key) for c in t.__table__.columns if c.key != "rolled_at"],
                                               default=str, sort_keys=True) for r in s.scalars(sa.select(t)))
            for t in (TrackDayStats, TrackDayListener, TrackSecondStats, RollupDay)}


def test_rollups_equal_the_events_rerun_changes_nothing_and_late_events_count_after_a_reroll(db_kind, app):
    svc = app.extensions["scripthammer"]
    first = dt.date(2026, 3, 1)
    last = first + dt.timedelta(days=DAYS)  # one day more than the events (after midnight, and empty)
    with svc.db.session() as s:
        album = create_album(s, title="Rolled", release_state="public")
        s.flush()
        tracks = [create_track(s, title=f"T{i}", album_id=album.id if i < 2 else None, release_state="public")
                  for i in range(3)]
        s.flush()
        tracks = [t.id for t in tracks]
    album_ids = tracks[:2]
    rng = random.Random(14)
    events = _events(rng, tracks, first, 160)
    _insert(svc.db, events)
    with svc.db.session() as s:
        raw = _raw(s, tracks, album_ids, first, last)
        assert sum(r["plays"] for r in raw["album"]) > 50 and any(raw["heat"][tracks[0]]["dropoffs"])
        assert _rolled(s, tracks, album_ids, first, last) == raw  # nothing rolled: read from the events
    out = rollups.roll(svc.db, rollups.days_between(first, last))
    assert sum(r["events"] for r in out) == len(events) and {r["day"] for r in out} == {
        d.isoformat() for d in rollups.days_between(first, last)}
    with svc.db.session() as s:
        assert rollups.rolled_days(s, first, last) == set(rollups.days_between(first, last))
        _same(_rolled(s, tracks, album_ids, first, last), raw)
        before = _snapshot(s)
    rollups.roll(svc.db, rollups.days_between(first, last))  # again: nothing changes
    with svc.db.session() as s:
        assert _snapshot(s) == before

    # A batch written late (a consumer's backlog) for a rolled day: not counted until that day is rolled again.
    late_day = first + dt.timedelta(days=1)
    noon = dt.datetime.combine(late_day, dt.time(12))
    late = [dict(r, received_at=noon + dt.timedelta(seconds=j), event_uid="late." + r["event_uid"],
                 session_id="late" + r["session_id"]) for j, r in enumerate(_events(random.Random(99), tracks, late_day, 25))]
    _insert(svc.db, late)
    with svc.db.session() as s:
        raw2 = _raw(s, tracks, album_ids, first, last)
        assert raw2 != raw
        _same(_rolled(s, tracks, album_ids, first, last), raw)  # the rollup of that day is as it was
    rollups.roll(svc.db, [late_day])
    with svc.db.session() as s:
        _same(_rolled(s, tracks, album_ids, first, last), raw2)
        # the figures now come from the rollups: the events of the rolled days can be gone
        s.execute(sa.delete(PlaybackEvent))
    with svc.db.session() as s:
        _same(_rolled(s, tracks, album_ids, first, last), raw2)
        assert all(sum(r["plays"] for r in d) == 0 for d in _raw(s, tracks, album_ids, first, last)["daily"].values())


def test_days_not_rolled_come_from_the_events_and_today_can_be_read_fresh(app):
    svc = app.extensions["scripthammer"]
    today = rollups.today()
    with svc.db.session() as s:
        tid = create_track(s, title="Fresh", release_state="public").id
    row = {"session_id": "fresh-1", "listener": "x", "track_id": tid, "position": 0.0, "data": {},
           "page_host": None, "client_time": None}
    now = dt.datetime.combine(today, dt.time(0, 0, 5))
    _insert(svc.db, [dict(row, received_at=now, event_uid="f.1", event="play")])
    rollups.roll(svc.db, [today])
    _insert(svc.db, [dict(row, received_at=now, event_uid="f.2", event="play", session_id="fresh-2")])
    with svc.db.session() as s:
        assert rollups.daily(s, [tid], today, today)[0]["plays"] == 1  # as rolled
        assert rollups.daily(s, [tid], today, today, fresh=True)[0]["plays"] == 2  # today from the events
        assert rollups.heatmap(s, tid, today, today, fresh=True)["starts"][0] == 2


def test_the_schedule_rolls_today_and_yesterday_once_per_interval_and_the_cli_any_range(app):
    svc = app.extensions["scripthammer"]
    svc.redis.delete(f"{svc.config.queue_name}:analytics:rollup-tick")
    today = rollups.today()
    with svc.db.session() as s:
        tid = create_track(s, title="Backfilled", release_state="public").id
    # events 3, 5, 6 and 9 days ago, never rolled (before an upgrade): a backfill of three per tick, newest first
    ago = [3, 5, 6, 9]
    _insert(svc.db, [{"received_at": dt.datetime.combine(today - dt.timedelta(days=n), dt.time(12)),
                      "event_uid": f"b.{n}", "session_id": f"b{n}", "listener": None, "track_id": tid,
                      "event": "play", "position": 0.0, "data": {}, "page_host": None, "client_time": None} for n in ago])
    done = rollups.maintain(svc)
    assert [r["day"] for r in done] == [(today - dt.timedelta(days=n)).isoformat() for n in (6, 5, 3, 1, 0)]
    assert rollups.maintain(svc) == []  # another consumer in the same interval does nothing
    svc.redis.delete(f"{svc.config.queue_name}:analytics:rollup-tick")
    # yesterday again only within the late hours after its end (it was rolled after it ended)
    late = dt.datetime.utcnow() < dt.datetime.combine(today, dt.time()) + dt.timedelta(
        hours=svc.config.analytics_rollup_late_hours)
    assert [r["day"] for r in rollups.maintain(svc)] == [(today - dt.timedelta(days=n)).isoformat()
                                                         for n in ((9, 1, 0) if late else (9, 0))]
    # yesterday rolled after its end and past the late hours: only today is due
    with svc.db.session() as s:
        y = s.get(RollupDay, today - dt.timedelta(days=1))
        assert y.rolled_at >= dt.datetime.combine(today, dt.time())
        late = dt.datetime.combine(today, dt.time()) + dt.timedelta(hours=svc.config.analytics_rollup_late_hours + 1)
        assert rollups.due_days(s, now=max(late, y.rolled_at), late_hours=svc.config.analytics_rollup_late_hours) == [today]

    from companion.cli import main
    from tests.faults.procs import config_env

    env = config_env(svc.config)
    r = CliRunner().invoke(main, ["analytics", "rollup", "--from", "2026-01-30", "--to", "2026-02-02"], env=env)
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["day"] for line in r.output.strip().splitlines()] == [
        "2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]
    r = CliRunner().invoke(main, ["analytics", "rollup", "--from", "2026-02-02", "--to", "2026-01-01"], env=env)
    assert r.exit_code != 0 and "--from" in r.output


def test_two_rollers_of_the_same_day_take_turns(db_kind, app):
    """Two consumers (or a consumer and the CLI) rolling the same day at once: both finish, without a
    duplicate key or a deadlock, and the rollups are those of one roll."""
    import threading

    svc = app.extensions["scripthammer"]
    day = dt.date(2026, 3, 1)
    with svc.db.session() as s:
        tids = [create_track(s, title=f"C{i}", release_state="public").id for i in range(2)]
    events = _events(random.Random(3), tids, day, 120)
    _insert(svc.db, [e for e in events if e["received_at"].date() == day])
    rollups.roll(svc.db, [day])
    with svc.db.session() as s:
        once = _snapshot(s)
        s.execute(sa.delete(RollupDay))  # as if never rolled: both rollers make the day's row
        for t in (TrackDayStats, TrackDayListener, TrackSecondStats):
            s.execute(sa.delete(t))
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def roller():
        try:
            start.wait()
            for _ in range(3):
                rollups.roll(svc.db, [day])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=roller) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with svc.db.session() as s:
        assert _snapshot(s) == once


def test_the_rq_rollup_job_rolls_the_days_of_its_params(app, run_jobs):
    from companion.tasks.service import create_job, submit
    from tests.faults.procs import job_row

    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        tid = create_track(s, title="Job", release_state="public").id
    _insert(svc.db, [{"received_at": dt.datetime(2026, 2, 3, 10), "event_uid": "j.1", "session_id": "j1",
                      "listener": "x", "track_id": tid, "event": "play", "position": 0.0, "data": {},
                      "page_host": None, "client_time": None}])
    with svc.db.session() as s:
        job = create_job(s, kind="analytics_rollup", params={"days": ["2026-02-02", "2026-02-03"]})
    submit(svc, job, "jobs.analytics.rollup_job")
    assert svc.queue("analytics").count == 1
    run_jobs()
    row = job_row(svc, job.id)
    assert row["state"] == "finished", row
    assert [(r["day"], r["events"]) for r in row["result"]["rolled"]] == [("2026-02-02", 0), ("2026-02-03", 1)]
    with svc.db.session() as s:
        assert s.get(TrackDayStats, (tid, dt.date(2026, 2, 3))).plays == 1
