"""Ingest that scales: beacons go onto a Redis stream, consumers write them in batches.

The beacon endpoint validates a batch and appends it as one entry (XADD) to the stream
``<queue_name>:analytics:events``. Consumers (``scripthammer analytics consume``, as many processes as
the load needs, or the ``jobs.analytics.drain_job`` RQ job) read entries through one consumer group
(XREADGROUP), write a whole read in one database transaction, and acknowledge (XACK, then XDEL) only
after the commit. Entries a consumer read but never acknowledged (it died) stay pending in the group;
after ``analytics_claim_idle_seconds`` another consumer claims them (XAUTOCLAIM) and writes them again.

Nothing is lost: an entry leaves the stream only after its rows are committed. Nothing is counted
twice: every row carries its key (received_at, event_uid), fixed when the beacon was accepted, and a
write of a key that is already stored is ignored (ON CONFLICT DO NOTHING / INSERT IGNORE), so the
second write of an entry whose first consumer died between its commit and its XACK adds nothing.

Privacy: the listener id is an HMAC of the client address and user agent under a salt that rotates
every day (made at random, kept in Redis for two days, never stored with the events), so a listener
is the same person within a day and cannot be followed across days or traced back to an address;
no address is stored.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
from typing import Callable, Iterable

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.analytics.models import PlaybackEvent
from companion.db import insert_ignoring_duplicates
from companion.errors import Conflict, TooManyRequests

log = logging.getLogger("scripthammer.analytics")

GROUP = "writers"


def stream_key(config) -> str:
    return f"{config.queue_name}:analytics:events"


# --------------------------------------------------------------------------- privacy

_salts: dict[tuple[str, str], bytes] = {}


def daily_salt(svc, day: dt.date | None = None) -> bytes:
    """The salt of ``day`` (UTC): random, shared by every companion process through Redis, gone after two days."""
    day = day or dt.datetime.now(dt.timezone.utc).date()
    cache_key = (svc.config.queue_name, day.isoformat())
    salt = _salts.get(cache_key)
    if salt is None:
        key = f"{svc.config.queue_name}:analytics:salt:{day.isoformat()}"
        svc.redis.set(key, secrets.token_hex(32), nx=True, ex=2 * 86400)
        salt = bytes.fromhex(svc.redis.get(key).decode())
        if len(_salts) > 16:
            _salts.clear()
        _salts[cache_key] = salt
    return salt


def listener_id(svc, address: str | None, user_agent: str | None, day: dt.date | None = None) -> str:
    """A pseudonymous listener id for this day: 32 hex digits, not reversible without the day's salt."""
    msg = f"{address or ''}\n{user_agent or ''}".encode()
    return hmac.new(daily_salt(svc, day), msg, hashlib.sha256).hexdigest()[:32]


# --------------------------------------------------------------------------- writing rows

def _parse_rows(rows: Iterable[dict]) -> list[dict]:
    out = []
    for r in rows:
        r = dict(r)
        r["received_at"] = dt.datetime.fromisoformat(r["received_at"])
        if r.get("client_time"):
            r["client_time"] = dt.datetime.fromisoformat(r["client_time"])
        out.append(r)
    return out


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> None:
    insert_ignoring_duplicates(session, PlaybackEvent.__table__, rows)


_COLUMNS = ("received_at", "event_uid", "session_id", "listener", "track_id", "event", "position", "data",
            "page_host", "client_time")
#: from this many rows on, PostgreSQL gets them by COPY into a temporary table, then one INSERT ... SELECT
COPY_FROM = 200


def _json(value) -> str:
    return msgspec.json.encode(value).decode()


def _copy_ignoring_duplicates(session: Session, rows: list[dict]) -> None:
    """PostgreSQL: COPY the rows (as they came off the stream: ISO times, JSON data) into a temporary
    table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING: several times faster than a multi-row INSERT."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    for r in rows:
        w.writerow([r["received_at"], r["event_uid"], r["session_id"], r.get("listener") or "", r["track_id"],
                    r["event"], "" if r.get("position") is None else repr(float(r["position"])),
                    _json(r.get("data") or {}), r.get("page_host") or "",
                    r.get("client_time") or ""])
    buf.seek(0)
    cols = ", ".join(_COLUMNS)
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS analytics_incoming (LIKE playback_events) ON COMMIT DELETE ROWS")
        cur.copy_expert(f"COPY analytics_incoming ({cols}) FROM STDIN WITH (FORMAT csv, NULL '')", buf)
        cur.execute(f"INSERT INTO playback_events ({cols}) SELECT {cols} FROM analytics_incoming "
                    "ON CONFLICT DO NOTHING")


def write_rows(session: Session, rows: list[dict]) -> int:
    """Insert event rows (as :func:`companion.analytics.service.event_rows` makes them) in this session's
    transaction; a row whose key is already stored is skipped. Returns how many rows were given."""
    if not rows:
        return 0
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and bind.dialect.driver == "psycopg2" and len(rows) >= COPY_FROM:
        _copy_ignoring_duplicates(session, rows)
    else:
        _insert_ignoring_duplicates(session, _parse_rows(rows))
    return len(rows)


# --------------------------------------------------------------------------- the stream

#: The beacon endpoint's one round trip: the rate limits of the client (fixed windows, as Flask-Limiter's
#: "fixed-window" strategy: INCR, EXPIRE on the first hit of a window), then, when none is exceeded and a
#: batch is given, remember a numbered batch (SET NX: a replay appends nothing) and append it (XADD).
#: KEYS: the n limit counters, the batch's once-key ("" for an unnumbered batch), the stream.
#: ARGV: n, then amount and window seconds of each limit, then the once-key's lifetime, then the rows
#: (absent: only count the request against the limits).
#: Answers {"limited", index of the first limit exceeded (1-based), seconds left in its window},
#: {"replayed"}, {"counted"} (no batch given) or {"added", entry id}.
_ACCEPT = """
local n = tonumber(ARGV[1])
local over = 0
for i = 1, n do
  local cur = redis.call('INCR', KEYS[i])
  if cur == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i + 1]) end
  if over == 0 and cur > tonumber(ARGV[2 * i]) then over = i end
end
if over > 0 then
  return {'limited', over, redis.call('TTL', KEYS[over])}
end
local rows = ARGV[2 * n + 3]
if not rows then return {'counted'} end
local once = KEYS[n + 1]
if once ~= '' and not redis.call('SET', once, '1', 'NX', 'EX', ARGV[2 * n + 2]) then
  return {'replayed'}
end
return {'added', redis.call('XADD', KEYS[n + 2], '*', 'rows', rows)}
"""


class Limited(TooManyRequests):
    """A rate limit of :func:`accept` was exceeded: ``index`` in the limits given, ``retry_after`` seconds left.
    The route answers it with the limit's own message (companion/analytics/api.py)."""

    def __init__(self, index: int, retry_after: int):
        super().__init__(f"Rate limit {index} exceeded; retry in {retry_after} s.",
                         details={"retry_after_seconds": retry_after})
        self.index, self.retry_after = index, retry_after


def accept(svc, limits: list[tuple[str, int, int]], rows: list[dict] | None = None, *, once_key: str | None = None,
           once_seconds: int = 8 * 86400) -> str | None:
    """Count one request against ``limits`` ((counter key, amount, window seconds) each) and, when none is
    exceeded and ``rows`` are given, append the batch to the stream (at most once for a ``once_key``): one
    round trip to Redis. Returns the entry id (None when only counting); raises :class:`Limited` or
    :class:`Replayed`, having appended nothing."""
    script = svc.__dict__.get("_accept_script")
    if script is None:
        script = svc.__dict__["_accept_script"] = svc.redis.register_script(_ACCEPT)
    keys = [k for k, _, _ in limits] + [once_key or "", stream_key(svc.config)]
    args: list = [len(limits)]
    for _, amount, window in limits:
        args += [int(amount), int(window)]
    args.append(int(once_seconds))
    if rows is not None:
        args.append(_encode_rows(rows))
    answer = script(keys=keys, args=args)
    kind = answer[0].decode() if isinstance(answer[0], bytes) else answer[0]
    if kind == "limited":
        raise Limited(int(answer[1]) - 1, max(1, int(answer[2])))
    if kind == "replayed":
        raise Replayed(once_key or "")
    if kind == "added":
        return answer[1].decode() if isinstance(answer[1], bytes) else answer[1]
    return None


def _encode_rows(rows: list[dict]) -> bytes:
    """The stream entry's JSON (msgspec: the same compact JSON as json.dumps, several times faster)."""
    return msgspec.json.encode(rows)


#: remember a numbered batch and append it, atomically: nil when the batch was seen before (a replay).
_PUBLISH_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'rows', ARGV[2])
end
return false
"""


class Replayed(Conflict):
    """The numbered batch was accepted before (409 beacon_replayed)."""

    code = "beacon_replayed"

    def __init__(self, once_key: str):
        super().__init__("This beacon batch was already accepted.", details={})
        self.once_key = once_key


def publish(svc, rows: list[dict], *, once_key: str | None = None, once_seconds: int = 8 * 86400) -> str:
    """Append one accepted batch to the stream; returns the entry id. With ``once_key`` (a numbered batch)
    the key is set and the entry appended in one atomic step, and :class:`Replayed` is raised when the key
    was already set (nothing appended)."""
    payload = _encode_rows(rows)
    if once_key is None:
        return svc.redis.xadd(stream_key(svc.config), {"rows": payload}).decode()
    script = svc.__dict__.get("_publish_once")
    if script is None:
        script = svc.__dict__["_publish_once"] = svc.redis.register_script(_PUBLISH_ONCE)
    entry = script(keys=[once_key, stream_key(svc.config)], args=[int(once_seconds), payload])
    if entry is None:
        raise Replayed(once_key)
    return entry.decode()


def seen_before(svc, once_key: str, once_seconds: int = 8 * 86400) -> bool:
    """For the direct path: remember a numbered batch; True when it was accepted before."""
    return not svc.redis.set(once_key, b"1", nx=True, ex=int(once_seconds))


def ensure_group(svc) -> None:
    import redis

    try:
        svc.redis.xgroup_create(stream_key(svc.config), GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def backlog(svc) -> dict:
    """How far the consumers are behind: entries in the stream, pending (read, not acknowledged), consumers."""
    ensure_group(svc)
    key = stream_key(svc.config)
    info = svc.redis.xpending(key, GROUP)
    consumers = svc.redis.xinfo_consumers(key, GROUP)
    return {"length": svc.redis.xlen(key), "pending": int(info["pending"]),
            "consumers": {c["name"].decode() if isinstance(c["name"], bytes) else c["name"]: int(c["pending"])
                          for c in consumers}}


_decode_rows = msgspec.json.decode


def _decode(entries) -> tuple[list[str], list[dict]]:
    ids, rows = [], []
    for entry_id, fields in entries:
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        ids.append(eid)
        raw = (fields or {}).get(b"rows") if fields else None
        try:
            got = _decode_rows(raw)
            if not isinstance(got, list):
                raise ValueError("not a list")
            rows.extend(got)
        except (TypeError, ValueError, msgspec.DecodeError):
            log.error("dropped stream entry %s: not a batch of rows", eid)  # never written, acknowledged below
    return ids, rows


def _write_entries(svc, rows: list[dict]) -> int:
    """One transaction for the whole read. A row of a track deleted since its beacon was accepted would
    fail the batch's foreign key: such rows are left out and the rest written."""
    integrity = (sa.exc.IntegrityError, getattr(svc.db.engine.dialect.dbapi, "IntegrityError", sa.exc.IntegrityError))
    try:
        with svc.db.session() as s:
            return write_rows(s, rows)
    except integrity:
        from companion.catalog.models import Track

        with svc.db.session() as s:
            alive = set(s.scalars(sa.select(Track.id).where(Track.id.in_({r["track_id"] for r in rows}))))
            kept = [r for r in rows if r["track_id"] in alive]
            log.warning("left out %d event(s) of deleted tracks", len(rows) - len(kept))
            return write_rows(s, kept)


def consume_once(svc, name: str, *, count: int | None = None, block_ms: int | None = None,
                 claim_idle_ms: int | None = None) -> int:
    """One step of a consumer: first claim entries a dead consumer left pending longer than
    ``claim_idle_ms``, otherwise read new ones (waiting up to ``block_ms``); write them in one
    transaction; acknowledge and delete them. Returns the number of entries handled."""
    r, key = svc.redis, stream_key(svc.config)
    count = int(count or svc.config.analytics_batch)
    idle = int(svc.config.analytics_claim_idle_seconds * 1000 if claim_idle_ms is None else claim_idle_ms)
    claimed = r.xautoclaim(key, GROUP, name, min_idle_time=idle, start_id="0-0", count=count)
    entries = claimed[1] if claimed and len(claimed) > 1 else []
    if entries:
        log.info("%s claimed %d entries of a dead consumer", name, len(entries))
    else:
        got = r.xreadgroup(GROUP, name, {key: ">"}, count=count, block=block_ms)
        entries = got[0][1] if got else []
    if not entries:
        return 0
    ids, rows = _decode(entries)
    _write_entries(svc, rows)
    pipe = r.pipeline(transaction=True)
    pipe.xack(key, GROUP, *ids)
    pipe.xdel(key, *ids)
    pipe.execute()
    return len(ids)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _outages() -> tuple:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, sa.exc.OperationalError,
            sa.exc.InterfaceError)


_OUTAGES = _outages()


def consume(svc, name: str | None = None, *, stop: Callable[[], bool] = lambda: False, block_ms: int = 1000,
            on_batch: Callable[[int], None] | None = None, maintain_every: float = 3600.0) -> int:
    """Consume until ``stop()`` says so; returns the number of entries handled. Keeps the PostgreSQL day
    partitions made (at start and every ``maintain_every`` seconds), and the rollups of today and yesterday
    (every ``analytics_rollup_minutes``, by one of the consumers)."""
    import redis

    roll_every = 60.0 * int(svc.config.analytics_rollup_minutes)

    name = name or consumer_name()
    done, last_maint, last_roll, grouped = 0, 0.0, 0.0, False
    while not stop():
        try:
            if not grouped:  # at start, and again if a Redis without persistence came back empty
                ensure_group(svc)
                grouped = True
            if time.monotonic() - last_maint > maintain_every:
                maintain_partitions(svc)
                last_maint = time.monotonic()
            if roll_every and time.monotonic() - last_roll > roll_every:
                from companion.analytics import rollups

                last_roll = time.monotonic()
                rollups.maintain(svc)  # one consumer across all rolls (a Redis key elects it)
            n = consume_once(svc, name, block_ms=block_ms)
        except _OUTAGES as exc:
            # Redis or the database away for a moment (also when the consumer starts): what this
            # consumer read stays pending and is claimed again (by it or another) once it is idle long
            # enough; nothing is lost.
            log.warning("%s: %s; retrying in 1 s", name, exc)
            time.sleep(1.0)
            continue
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("%s: the consumer group is gone (Redis restarted without persistence); making it again",
                        name)
            grouped = False
            continue
        done += n
        if n and on_batch:
            on_batch(n)
    return done


def drain(svc, name: str | None = None, *, claim_idle_ms: int | None = None) -> int:
    """Write everything waiting on the stream now (tests, the RQ job, the CLI's ``--drain``); with
    ``claim_idle_ms=0`` also what other consumers hold pending. Returns the number of entries handled."""
    name = name or consumer_name()
    ensure_group(svc)
    total = 0
    while True:
        n = consume_once(svc, name, block_ms=None, claim_idle_ms=claim_idle_ms)
        if not n:
            return total
        total += n


def maintain_partitions(svc) -> dict:
    from companion.analytics.partitions import ensure_partitions

    if svc.db.engine.dialect.name != "postgresql":
        return {"made": [], "dropped": []}
    return ensure_partitions(svc.db.engine, retention_days=int(svc.config.analytics_retention_days))
