"""Rollups of playback events: per track and UTC day, the daily figures, the day's listeners, and per
second of the track the heat map's counts. The dashboard and the report routes read these instead of
scanning events (10 million events: a heat map of 30 days reads 30 x the track's seconds rows).

A day is rolled whole, for every track, in one transaction: its rollup rows are deleted and made again
from its events (:func:`roll_day`). Rolling a day again changes nothing unless events were added, and an
event that arrived late for a rolled day (a consumer's backlog written after the roll) is counted by the
next roll of that day. The day's row in ``analytics_rollup_days`` is locked for the roll, so two rollers
(two consumers, a job and the CLI) take turns instead of colliding.

Who rolls: every ``SCRIPTHAMMER_ANALYTICS_ROLLUP_MINUTES`` (default 10; 0: never) one of the stream
consumers (a Redis key elects it) rolls today (incrementally: today's figures lag by at most that
long) and yesterday until ``SCRIPTHAMMER_ANALYTICS_ROLLUP_LATE_HOURS`` (default 2) after its end, so
late batches are counted, and a few days of the last month that have events but no rollup (a backfill); ``scripthammer analytics rollup [--from D --to D]`` and the RQ job
``jobs.analytics.rollup_job`` roll any days (a backfill, or a re-roll). Reading (:func:`daily`,
:func:`heatmap`, :func:`interactions`): days with a rollup come from the rollups, the other days of the
range (never rolled) from the events, with the same definitions (companion/analytics/metrics.py), so the
figures are the same either way; ``fresh=True`` reads today from the events.
"""
from __future__ import annotations

import collections
import datetime as dt
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.analytics import attribution, metrics
from companion.analytics.metrics import HEAT_KINDS, PAST, _second
from companion.analytics.models import PlaybackEvent as E
from companion.analytics.models import RollupDay, TrackDayListener, TrackDayStats, TrackSecondStats
from companion.db import insert_ignoring_duplicates, utcnow

_TABLES = (TrackDayStats, TrackDayListener, TrackSecondStats)


def _bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(day, dt.time())
    return lo, lo + dt.timedelta(days=1)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


# --- making them ---------------------------------------------------------------------------------------


def compute_day(session: Session, day: dt.date) -> dict:
    """The rollup rows of one day from its events (nothing written)."""
    dialect = session.get_bind().dialect.name
    lo, hi = _bounds(day)

    def in_day(q):
        return q.where(E.received_at >= lo, E.received_at < hi)

    is_start = sa.and_(E.event == "play", sa.func.coalesce(E.position, 0.0) < 1.0)
    per = in_day(sa.select(
        E.track_id.label("track_id"),
        sa.func.sum(sa.case((is_start, 1), else_=0)).label("starts"),
        sa.func.max(sa.case((E.event.in_(("play", "pause", "progress", "seek", "complete")), E.position),
                            else_=None)).label("reach"),
        sa.func.max(sa.case((E.event == "complete", 1), else_=0)).label("completed"),
        sa.func.sum(sa.case((E.event == "tip_click", 1), else_=0)).label("tips"),
        sa.func.count().label("events"))
    ).group_by(E.track_id, E.session_id, E.listener).subquery()
    reach = sa.func.coalesce(per.c.reach, 0.0)
    played = per.c.starts > 0
    q = (sa.select(per.c.track_id,
                   sa.func.sum(per.c.starts),
                   sa.func.sum(sa.case((reach >= PAST, 1), else_=0)),
                   sa.func.sum(per.c.completed),
                   sa.func.sum(sa.case((sa.and_(played, reach < PAST, per.c.completed == 0), 1), else_=0)),
                   sa.func.sum(sa.case((played, 1), else_=0)),
                   sa.func.sum(sa.case((played, reach), else_=0.0)),
                   sa.func.sum(sa.case((played, per.c.tips), else_=0)),
                   sa.func.sum(per.c.events))
         .group_by(per.c.track_id))
    days: dict[int, dict] = {}
    for tid, starts, past, completions, skips, played_n, listened, tips, events in session.execute(q):
        days[tid] = {"track_id": tid, "day": day, "plays": int(starts or 0), "plays_30s": int(past or 0),
                     "listeners": 0, "completions": int(completions or 0), "skips": int(skips or 0),
                     "played_sessions": int(played_n or 0), "listened_s": float(listened or 0.0),
                     "tips": int(tips or 0), "downloads": {}, "controls": {}, "events": int(events or 0)}
    listeners = [{"track_id": tid, "day": day, "listener": who} for tid, who in session.execute(
        in_day(sa.select(E.track_id, E.listener).where(E.listener.is_not(None))).distinct())]
    for row in listeners:
        days[row["track_id"]]["listeners"] += 1
    downloads: dict = collections.defaultdict(collections.Counter)
    controls: dict = collections.defaultdict(collections.Counter)
    for tid, event, data in session.execute(in_day(sa.select(E.track_id, E.event, E.data).where(
            E.event.in_(("ui", "download", "tip_click"))))):
        controls[tid][(data or {}).get("control", "?") if event == "ui" else event] += 1
        if event == "download":
            downloads[tid][(data or {}).get("format", "?")] += 1
    for tid, row in days.items():
        row["downloads"], row["controls"] = dict(downloads.get(tid, {})), dict(controls.get(tid, {}))

    # the heat map, per second: as metrics.heatmap counts it
    sec = _second(E.position, dialect)
    base = in_day(sa.select(E.track_id).where(E.position.is_not(None)))
    bins: dict = collections.defaultdict(lambda: dict.fromkeys(HEAT_KINDS, 0))
    q = base.add_columns(E.event, sec.label("s"), sa.func.count()).where(E.event.in_(("play", "reaction")))
    for tid, event, s, n in session.execute(q.group_by(E.track_id, E.event, sec)):
        bins[(tid, int(s))]["starts" if event == "play" else "reactions"] += int(n)
    backwards = sa.case((E.data["to"].as_float() < E.data["from"].as_float(), 1), else_=0)
    q = base.add_columns(sec.label("s"), sa.func.count(), sa.func.sum(backwards)).where(E.event == "seek")
    for tid, s, n, back in session.execute(q.group_by(E.track_id, sec)):
        bins[(tid, int(s))]["seeks"] += int(n)
        bins[(tid, int(s))]["replays"] += int(back or 0)
    sess = (base.add_columns(sa.func.max(E.position).label("reach"),
                             sa.func.max(sa.case((E.event == "complete", 1), else_=0)).label("done"))
            .group_by(E.track_id, E.session_id).subquery())
    dsec = _second(sess.c.reach, dialect)
    for tid, s, n in session.execute(sa.select(sess.c.track_id, dsec, sa.func.count()).where(sess.c.done == 0)
                                     .group_by(sess.c.track_id, dsec)):
        bins[(tid, int(s))]["dropoffs"] += int(n)
    seconds = [{"track_id": tid, "day": day, "second": s, **counts} for (tid, s), counts in sorted(bins.items())]
    events = sum(r["events"] for r in days.values())
    return {"days": list(days.values()), "listeners": listeners, "seconds": seconds, "events": events}


def _make_day_row(session: Session, day: dt.date) -> None:
    """The day's row in analytics_rollup_days, if missing (another roller may make it at the same time)."""
    insert_ignoring_duplicates(session, RollupDay.__table__, [{"day": day, "rolled_at": None, "events": 0}])


def _lock_day(session: Session, day: dt.date) -> None:
    """Lock the day's row until the transaction ends (rolls of a day take turns). The row is looked for
    first: an INSERT IGNORE of a row that exists takes a shared lock on InnoDB, and two rollers that both
    hold one and ask for the exclusive lock deadlock."""
    q = sa.select(RollupDay.day).where(RollupDay.day == day).with_for_update()
    if session.execute(q).first() is None:
        _make_day_row(session, day)
        session.execute(q)


def roll_day(session: Session, day: dt.date) -> dict:
    """Roll one day in the caller's transaction (the caller commits): delete its rollups, make them again."""
    _lock_day(session, day)
    rows = compute_day(session, day)
    for table in _TABLES:
        session.execute(sa.delete(table).where(table.day == day))
    for table, key in ((TrackDayStats, "days"), (TrackDayListener, "listeners"), (TrackSecondStats, "seconds")):
        for i in range(0, len(rows[key]), 5000):
            session.execute(sa.insert(table), rows[key][i:i + 5000])
    session.execute(sa.update(RollupDay).where(RollupDay.day == day).values(rolled_at=utcnow(), events=rows["events"]))
    return {"day": day.isoformat(), "events": rows["events"], "tracks": len(rows["days"]),
            "seconds_rows": len(rows["seconds"])}


def roll(db, days, *, attempts: int = 5) -> list[dict]:
    """Roll each day in its own transaction (``db``: a companion Database). The day's row is made first
    in a transaction of its own (so the roll only ever takes its exclusive lock); a roll the database
    chose as a deadlock victim is rolled back whole and tried again."""
    out = []
    for day in days:
        t = time.monotonic()
        with db.session() as s:
            _make_day_row(s, day)
        for attempt in range(attempts):
            try:
                with db.session() as s:
                    r = roll_day(s, day)
                break
            except sa.exc.OperationalError as exc:
                if attempt + 1 == attempts or not _retryable(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        r["ms"] = round((time.monotonic() - t) * 1000, 1)
        out.append(r)
    return out


def _retryable(exc: sa.exc.OperationalError) -> bool:
    """A deadlock or serialization failure (MariaDB 1213/1205, PostgreSQL 40P01/40001), or SQLite busy."""
    code = getattr(exc.orig, "args", [None])[0] if exc.orig is not None else None
    pgcode = getattr(exc.orig, "pgcode", None)
    return code in (1213, 1205) or pgcode in ("40P01", "40001") or "database is locked" in str(exc)


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def due_days(session: Session, *, now: dt.datetime | None = None, late_hours: float = 2.0,
             backfill_days: int = 31, backfill_per_tick: int = 3) -> list[dt.date]:
    """What the schedule rolls: today; yesterday until ``late_hours`` after its end (late batches) or
    while its last roll was made before it ended; and, a few per tick (newest first), the days of the last
    ``backfill_days`` that have events but were never rolled (after an upgrade, or a consumer outage)."""
    now = now or utcnow()
    d = now.date()
    yesterday = d - dt.timedelta(days=1)
    out = [yesterday, d]
    y = session.get(RollupDay, yesterday)
    end_y = dt.datetime.combine(d, dt.time())
    if y is not None and y.rolled_at is not None and y.rolled_at >= end_y and now > end_y + dt.timedelta(hours=late_hours):
        out.remove(yesterday)
    rolled = set(session.scalars(sa.select(RollupDay.day).where(
        RollupDay.day >= d - dt.timedelta(days=backfill_days), RollupDay.rolled_at.is_not(None))))
    missing = []
    for i in range(2, backfill_days + 1):
        if len(missing) >= backfill_per_tick:
            break
        day = d - dt.timedelta(days=i)
        if day in rolled:
            continue
        lo, hi = _bounds(day)  # one index probe on the key (received_at, event_uid)
        if session.execute(sa.select(E.event_uid).where(E.received_at >= lo, E.received_at < hi).limit(1)).first():
            missing.append(day)
    return sorted(missing) + out


def maintain(svc, *, force: bool = False) -> list[dict]:
    """The schedule's step (called by the stream consumers): at most once per
    ``analytics_rollup_minutes`` across all consumers (a Redis key elects one), roll the due days."""
    minutes = int(svc.config.analytics_rollup_minutes)
    if minutes <= 0 and not force:
        return []
    key = f"{svc.config.queue_name}:analytics:rollup-tick"
    if not force and not svc.redis.set(key, "1", nx=True, ex=max(1, minutes * 60)):
        return []
    with svc.db.session() as s:
        days = due_days(s, late_hours=float(svc.config.analytics_rollup_late_hours))
    return roll(svc.db, days)


# --- reading them --------------------------------------------------------------------------------------


def rolled_days(session: Session, start: dt.date, end: dt.date, *, fresh: bool = False) -> set[dt.date]:
    """The days of the range that have rollups (``fresh``: not today, read from the events instead)."""
    q = sa.select(RollupDay.day).where(RollupDay.day >= start, RollupDay.day <= end,
                                       RollupDay.rolled_at.is_not(None))
    got = set(session.scalars(q))
    if fresh:
        got.discard(today())
    return got


def _spans(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) spans."""
    out: list[list[dt.date]] = []
    for d in sorted(days):
        if out and d == out[-1][1] + dt.timedelta(days=1):
            out[-1][1] = d
        else:
            out.append([d, d])
    return [(a, b) for a, b in out]


def daily(session: Session, track_ids: list[int], start: dt.date, end: dt.date, *, fresh: bool = False) -> list[dict]:
    """metrics.daily's rows, from the rollups where the day is rolled (the same figures)."""
    rolled = rolled_days(session, start, end, fresh=fresh)
    raw: dict[str, dict] = {}
    for a, b in _spans([d for d in days_between(start, end) if d not in rolled]):
        raw.update({r["day"]: r for r in metrics.daily(session, track_ids, a, b)})
    sums: dict[dt.date, dict] = {}
    if rolled:
        rows = session.execute(sa.select(
            TrackDayStats.day, sa.func.sum(TrackDayStats.plays), sa.func.sum(TrackDayStats.plays_30s),
            sa.func.sum(TrackDayStats.completions), sa.func.sum(TrackDayStats.skips),
            sa.func.sum(TrackDayStats.played_sessions), sa.func.sum(TrackDayStats.listened_s),
            sa.func.sum(TrackDayStats.tips))
            .where(TrackDayStats.track_id.in_(track_ids), TrackDayStats.day.in_(rolled))
            .group_by(TrackDayStats.day))
        for d, plays, past, completions, skips, played_n, listened, tips in rows:
            d = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
            plays = int(plays or 0)
            sums[d] = {"plays": plays, "plays_30s": int(past or 0), "listeners": 0,
                       "completions": int(completions or 0),
                       "completion_rate": round(int(completions or 0) / plays, 4) if plays else None,
                       "skips": int(skips or 0),
                       "avg_listened_s": round(float(listened) / int(played_n), 2) if played_n else None,
                       "tip_clicks": int(tips or 0), "downloads": collections.Counter()}
        if len(track_ids) == 1:
            q = sa.select(TrackDayStats.day, TrackDayStats.listeners).where(
                TrackDayStats.track_id == track_ids[0], TrackDayStats.day.in_(rolled))
        else:  # distinct across the album's tracks
            q = (sa.select(TrackDayListener.day, sa.func.count(sa.distinct(TrackDayListener.listener)))
                 .where(TrackDayListener.track_id.in_(track_ids), TrackDayListener.day.in_(rolled))
                 .group_by(TrackDayListener.day))
        for d, n in session.execute(q):
            d = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
            sums[d]["listeners"] = int(n or 0)
        for d, downloads in session.execute(sa.select(TrackDayStats.day, TrackDayStats.downloads).where(
                TrackDayStats.track_id.in_(track_ids), TrackDayStats.day.in_(rolled))):
            d = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
            sums[d]["downloads"].update(downloads or {})
    out = []
    # tips and purchases attributed to a play: from their own rows (the unrolled days' from metrics.daily)
    attributed = attribution.daily(session, track_ids, start, end) if rolled else {}
    for d in days_between(start, end):
        key = d.isoformat()
        if d in rolled:
            row = sums.get(d) or {"plays": 0, "plays_30s": 0, "listeners": 0, "completions": 0,
                                  "completion_rate": None, "skips": 0, "avg_listened_s": None, "tip_clicks": 0,
                                  "downloads": {}}
            out.append({"day": key, **row, "downloads": dict(row["downloads"]),
                        **(attributed.get(key) or attribution.empty())})
        else:
            out.append(raw[key])
    return out


def heatmap(session: Session, track_id: int, start: dt.date, end: dt.date, duration: float | None = None,
            *, fresh: bool = False) -> dict:
    """metrics.heatmap's answer, from the rollups where the day is rolled (the same figures)."""
    rolled = rolled_days(session, start, end, fresh=fresh)
    bins: dict[str, collections.Counter] = {k: collections.Counter() for k in HEAT_KINDS}
    for a, b in _spans([d for d in days_between(start, end) if d not in rolled]):
        h = metrics.heatmap(session, track_id, a, b)
        for k in HEAT_KINDS:
            for i, v in enumerate(h[k]):
                if v:
                    bins[k][i] += v
    if rolled:
        cols = [getattr(TrackSecondStats, k) for k in HEAT_KINDS]
        q = (sa.select(TrackSecondStats.second, *[sa.func.sum(c) for c in cols])
             .where(TrackSecondStats.track_id == track_id, TrackSecondStats.day.in_(rolled))
             .group_by(TrackSecondStats.second))
        for second, *counts in session.execute(q):
            for k, v in zip(HEAT_KINDS, counts):
                if v:
                    bins[k][int(second)] += int(v)
    top = max([int(duration or 0)] + [max(c) for c in bins.values() if c])
    return {"track_id": track_id, "seconds": top + 1, "duration": duration,
            **{k: [bins[k].get(i, 0) for i in range(top + 1)] for k in HEAT_KINDS}}


def interactions(session: Session, track_ids: list[int], start: dt.date, end: dt.date, *, fresh: bool = False) -> dict:
    """metrics.interactions' answer, from the rollups where the day is rolled."""
    rolled = rolled_days(session, start, end, fresh=fresh)
    counts: collections.Counter = collections.Counter()
    for a, b in _spans([d for d in days_between(start, end) if d not in rolled]):
        counts.update(metrics.interactions(session, track_ids, a, b))
    if rolled:
        for (controls,) in session.execute(sa.select(TrackDayStats.controls).where(
                TrackDayStats.track_id.in_(track_ids), TrackDayStats.day.in_(rolled))):
            counts.update(controls or {})
    return dict(counts)
