"""Figures from playback events: per track (or album) by day, the per-second heat map over the waveform,
and the heat map of interactions with the player's controls. Plain functions over a session; the API,
the CSV export and the bench call them.

Definitions (per track, per UTC day of ``received_at``; a *session* is one player session):
- a session's figures are per track (a player that plays several tracks of an album in one session
  counts one session per track), so an album's figures are the sums of its tracks' (but ``listeners``,
  which are distinct across the album's tracks);
- ``plays``: starts (``play`` events at a position under 1 s); ``plays_30s``: sessions that reached 30 s;
- ``listeners``: distinct pseudonymous listeners (exact: a COUNT DISTINCT is cheap at this size);
- ``completions`` and ``completion_rate`` (completions per start); ``skips``: sessions that started and
  neither reached 30 s nor completed; ``avg_listened_s``: the mean furthest position a session reached;
- ``downloads`` by format; ``tip_clicks``: tip-jar clicks in a session that played the track;
- ``tips`` and ``purchases``: paid order lines attributed to a play of the track (the tip jar; the buy,
  unlock and subscribe links), counted on the day the order was paid, and ``tips_amount`` and
  ``purchases_amount`` their totals per currency ({"USD": 12.5}); refunded orders are left out
  (companion/analytics/attribution.py).
"""
from __future__ import annotations

import collections
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.analytics import attribution
from companion.analytics.models import PlaybackEvent as E

PAST = 30.0  # seconds that make a play count as heard
HEAT_KINDS = ("starts", "seeks", "replays", "dropoffs", "reactions")


def _day(col, dialect: str):
    return sa.func.date(col) if dialect != "postgresql" else sa.cast(col, sa.Date)


def _second(col, dialect: str):
    """Whole seconds of a position: truncation (SQLite's CAST truncates; PostgreSQL's and MariaDB's round)."""
    return sa.cast(col, sa.Integer) if dialect == "sqlite" else sa.cast(sa.func.floor(col), sa.Integer)


def _range(q, start: dt.date, end: dt.date):
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    return q.where(E.received_at >= lo, E.received_at < hi)


def daily(session: Session, track_ids: list[int], start: dt.date, end: dt.date) -> list[dict]:
    """One row per day from ``start`` to ``end`` (inclusive, UTC) over ``track_ids`` (a track, or an album's)."""
    dialect = session.get_bind().dialect.name
    day = _day(E.received_at, dialect).label("day")
    is_start = sa.and_(E.event == "play", sa.func.coalesce(E.position, 0.0) < 1.0)
    per_session = _range(
        sa.select(day, E.session_id, E.listener,
                  sa.func.sum(sa.case((is_start, 1), else_=0)).label("starts"),
                  sa.func.max(sa.case((E.event.in_(("play", "pause", "progress", "seek", "complete")), E.position),
                                      else_=None)).label("reach"),
                  sa.func.max(sa.case((E.event == "complete", 1), else_=0)).label("completed"),
                  sa.func.sum(sa.case((E.event == "tip_click", 1), else_=0)).label("tips"))
        .where(E.track_id.in_(track_ids)), start, end).group_by(day, E.track_id, E.session_id, E.listener).subquery()
    reach = sa.func.coalesce(per_session.c.reach, 0.0)
    played = per_session.c.starts > 0
    q = (sa.select(per_session.c.day,
                   sa.func.sum(per_session.c.starts),
                   sa.func.sum(sa.case((reach >= PAST, 1), else_=0)),
                   sa.func.count(sa.distinct(per_session.c.listener)),
                   sa.func.sum(per_session.c.completed),
                   sa.func.sum(sa.case((sa.and_(played, reach < PAST, per_session.c.completed == 0), 1), else_=0)),
                   sa.func.avg(sa.case((played, reach), else_=None)),
                   sa.func.sum(sa.case((played, per_session.c.tips), else_=0)))
         .group_by(per_session.c.day))
    rows = {}
    for d, starts, past, listeners, completions, skips, avg_s, tips in session.execute(q):
        key = d if isinstance(d, str) else d.isoformat()
        starts = int(starts or 0)
        rows[key] = {"plays": starts, "plays_30s": int(past or 0), "listeners": int(listeners or 0),
                     "completions": int(completions or 0),
                     "completion_rate": round(int(completions or 0) / starts, 4) if starts else None,
                     "skips": int(skips or 0), "avg_listened_s": round(float(avg_s), 2) if avg_s is not None else None,
                     "tip_clicks": int(tips or 0)}
    downloads: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    dq = _range(sa.select(day, E.data).where(E.track_id.in_(track_ids), E.event == "download"), start, end)
    for d, data in session.execute(dq):
        downloads[d if isinstance(d, str) else d.isoformat()][(data or {}).get("format", "?")] += 1
    out = []
    n = (end - start).days + 1
    for i in range(max(0, n)):
        key = (start + dt.timedelta(days=i)).isoformat()
        row = rows.get(key) or {"plays": 0, "plays_30s": 0, "listeners": 0, "completions": 0, "completion_rate": None,
                                "skips": 0, "avg_listened_s": None, "tip_clicks": 0}
        out.append({"day": key, **row, "downloads": dict(downloads.get(key, {}))})
    return attribution.merge(out, session, track_ids, start, end)


def heatmap(session: Session, track_id: int, start: dt.date, end: dt.date, duration: float | None = None) -> dict:
    """Counts per whole second of the track: where listeners start, seek to, replay (seek backwards),
    drop off (the furthest point of a session that did not complete, per UTC day) and react.

    This scans the events; the dashboard reads the same figures from the rollups (rollups.heatmap)."""
    dialect = session.get_bind().dialect.name
    sec = _second(E.position, dialect)
    base = _range(sa.select().where(E.track_id == track_id, E.position.is_not(None)), start, end)
    bins: dict[str, collections.Counter] = {k: collections.Counter() for k in HEAT_KINDS}
    q = base.add_columns(E.event, sec.label("s"), sa.func.count()).where(E.event.in_(("play", "reaction")))
    for event, s, n in session.execute(q.group_by(E.event, sec)):
        bins["starts" if event == "play" else "reactions"][int(s)] += int(n)
    backwards = sa.case((E.data["to"].as_float() < E.data["from"].as_float(), 1), else_=0)
    q = base.add_columns(sec.label("s"), sa.func.count(), sa.func.sum(backwards)).where(E.event == "seek")
    for s, n, back in session.execute(q.group_by(sec)):
        bins["seeks"][int(s)] += int(n)
        if back:
            bins["replays"][int(s)] += int(back)
    day = _day(E.received_at, dialect)
    per = (base.add_columns(E.session_id, sa.func.max(E.position).label("reach"),
                            sa.func.max(sa.case((E.event == "complete", 1), else_=0)).label("done"))
           .group_by(day, E.session_id).subquery())
    dsec = _second(per.c.reach, dialect)
    for s, n in session.execute(sa.select(dsec, sa.func.count()).where(per.c.done == 0).group_by(dsec)):
        bins["dropoffs"][int(s)] += int(n)
    top = max([int(duration or 0)] + [max(c) for c in bins.values() if c])
    return {"track_id": track_id, "seconds": top + 1, "duration": duration,
            **{k: [bins[k].get(i, 0) for i in range(top + 1)] for k in HEAT_KINDS}}


def interactions(session: Session, track_ids: list[int], start: dt.date, end: dt.date) -> dict:
    """How often each control of the player was used (``ui`` events), with downloads and tip clicks."""
    counts: collections.Counter = collections.Counter()
    q = _range(sa.select(E.event, E.data).where(E.track_id.in_(track_ids),
                                                E.event.in_(("ui", "download", "tip_click"))), start, end)
    for event, data in session.execute(q):
        counts[(data or {}).get("control", "?") if event == "ui" else event] += 1
    return dict(counts)
