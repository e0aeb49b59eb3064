"""Benchmark: analytics ingest, the heat map query, and the A/B test's false positive rate (issue 14).

A companion on this machine with services of the run's own: a PostgreSQL cluster (initdb + pg_ctl on a
free port), a redis-server, the API under gunicorn (2 workers x 4 threads, as `scripthammer up`), and
locust (bench/locust_beacons.py: players sending 100-event beacon batches as fast as they are answered)
for ``--seconds`` (default 60). Two runs in the same process, same load, same machine:

1. anchor: SCRIPTHAMMER_ANALYTICS_INGEST=direct, the bare table insert path of the beacon endpoint
   (validate, check the tracks, INSERT in the request);
2. ours: the Redis stream, with ``--consumers`` `scripthammer analytics consume` processes writing
   batches to the day-partitioned table.

- "events_per_s_sustained": events *stored* (not only accepted) per second of the run: everything
  locust got a 202 for, written by the consumers, divided by the time from the start of the load until
  the stream is empty and nothing is pending. "events_lost" (accepted, not stored) must be 0;
- "ingest_ratio": ours over the anchor's events per second;
- "p99_ms": locust's 99th percentile of a beacon batch's answer, ours, at the goal's rate: a third run of
  ours whose players are paced to offer ``--paced`` events per second in all (default 10,000; locust's
  constant_throughput, so a player that falls behind sends later: coordinated omission understates a
  slow tail, little while the tail stays under a player's 80 ms interval), with its "paced_events_per_s"
  (also "p99_ms_at_paced"). Without a paced run it is the saturating run's;
- "p99_ms_at_saturation": the same at the saturating load of the first figure (8 players each sending
  again as soon as answered: the latency there is mostly the queue, players / throughput, at about four
  times the goal's rate);
- "heatmap_ms": the median of 5 runs of the dashboard's per-second heat map query over 30 days
  (rollups.heatmap: it reads the per-second rollups, made first by rolling the 30 days), over
  ``--heat-events`` (default 10 million) events of one track spread over 30 days, on PostgreSQL;
  "heatmap_raw_ms" the anchor: the same heat map scanning the events (metrics.heatmap, ``--raw-runs``
  runs, default 1), and "heatmap_ratio" rollup over raw; "rollup_s" the time the 30 days took to roll;
- "aa_false_positive_rate": of 2,000 simulated A/A tests (each looked at 100 times), with "alpha".

CPU seconds (the companion's processes and locust, from their rusage once reaped) beside wall time.
The last line printed is one JSON object.

Run: .venv/bin/pip install -e ".[bench]"; .venv/bin/python bench/analytics.py [--seconds 60] [--users 8]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _warm(port: int, track_id: int) -> None:
    """One beacon before the load (both gunicorn workers loaded, connections made); fails loudly if refused."""
    import urllib.request

    for i in range(4):
        body = json.dumps({"session": f"warm-up-{i:04d}", "events": [{"type": "play", "track": track_id}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/beacons", data=body,
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=60) as r:
            if r.status != 202:
                raise RuntimeError(f"warm-up beacon answered {r.status}")


def run_load(mode: str, pg, redis_url: str, scratch: Path, seconds: int, users: int, consumers: int,
             paced: float = 0.0, name: str | None = None) -> dict:
    """One load run; ``paced``: offered events per second (spread over the players, locust's
    constant_throughput), 0 for as fast as answered. ``name`` (default ``mode``) names its database."""
    import sqlalchemy as sa

    from companion.analytics import ingest
    from companion.catalog.service import create_track
    from companion.config import Config
    from companion.db import upgrade
    from companion.services import Services
    from tests.conftest import free_port, start_server, stop_group, wait_for_port
    from tests.faults.procs import config_env, wait_until

    name = name or mode
    url = pg.create_database(f"bench_{name}")
    config = Config(var_dir=scratch / name, database_url=url, redis_url=redis_url, queue_name=f"bench-{name}",
                    beacon_rate_limit="1000000 per second", analytics_ingest=mode,
                    # locust's players all come from this machine's address: both per-address limits raised
                    # far above the load (their counters are still kept, as in production)
                    public_rate_limit="100000000 per minute;1000000 per second", analytics_batch=20,
                    wp_shared_secret="bench")
    upgrade(url)
    svc = Services(config)
    with svc.db.session() as s:
        track_id = create_track(s, title="Bench", release_state="public").id
    port = free_port()
    env = config_env(config)
    log = open(scratch / f"{name}.log", "ab")
    cpu0 = _children_cpu()
    api = start_server([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}",
                        "companion.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    procs = [api]
    try:
        wait_for_port(port, timeout=60)
        if mode == "stream":
            ingest.ensure_group(svc)
            for i in range(consumers):
                procs.append(start_server([sys.executable, "-m", "companion.cli", "analytics", "consume", "--name",
                                           f"bench-{i}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        _warm(port, track_id)
        counts, prefix = scratch / f"{name}-counts.json", scratch / f"{name}-locust"
        lenv = dict(os.environ, BENCH_TRACK_ID=str(track_id), BENCH_COUNTS=str(counts))
        if paced:
            per_batch = int(os.environ.get("BENCH_EVENTS", "100"))
            lenv["BENCH_USER_RATE"] = str(paced / per_batch / users)
        say(f"[{name}] locust: {users} players for {seconds} s against http://127.0.0.1:{port}"
            + (f", paced at {paced:.0f} events/s" if paced else ""))
        t0 = time.monotonic()
        subprocess.run([str(Path(sys.executable).with_name("locust")), "-f", str(ROOT / "bench" / "locust_beacons.py"),
                        "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host",
                        f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary", "--loglevel", "INFO"],
                       env=lenv, check=True, stdout=log, stderr=subprocess.STDOUT)
        t_load = time.monotonic() - t0
        if mode == "stream":
            wait_until(lambda: (lambda b: b["length"] == 0 and b["pending"] == 0)(ingest.backlog(svc)), 600,
                       interval=0.2, what="the stream written")
        t_done = time.monotonic() - t0
        accepted = json.loads(counts.read_text())
        with svc.db.session() as s:
            stored = s.scalar(sa.select(sa.func.count()).select_from(sa.text("playback_events")))
            distinct = s.scalar(sa.text("SELECT count(*) FROM (SELECT DISTINCT event_uid FROM playback_events) d"))
            per_batch = dict(s.execute(sa.text(
                "SELECT split_part(event_uid, '.', 1) || '.' || split_part(event_uid, '.', 2), count(*) "
                "FROM playback_events GROUP BY 1")).all())
        # every batch locust got a 202 for must be stored whole (batches answered after locust stopped
        # listening are stored too, and not counted as accepted)
        per = accepted["events"] // max(1, accepted["batches"])
        lost = sum(per - per_batch.get(i, 0) for i in accepted["ids"])
        with open(f"{prefix}_stats.csv") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "beacon batch")
    finally:
        for p in reversed(procs):
            stop_group(p)
        log.close()
    cpu = _children_cpu() - cpu0
    out = {"mode": mode, "name": name, "paced": paced, "accepted": accepted["events"], "refused_batches": accepted["refused"], "stored": stored,
           "lost": lost, "duplicated": stored - distinct, "load_s": round(t_load, 2),
           "until_stored_s": round(t_done, 2), "events_per_s": round(stored / t_done, 1),
           "accepted_per_s": round(accepted["events"] / t_load, 1),
           "batches": accepted["batches"], "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"]),
           "cpu_s": round(cpu, 2), "track_id": track_id, "url": url}
    say(f"[{name}] {json.dumps(out)}")
    svc.close()
    return out


def _empty_db(pg) -> str:
    from companion.catalog.service import create_track
    from companion.db import Database, upgrade

    url = pg.create_database("bench_heat")
    upgrade(url)
    db = Database(url)
    with db.sessions() as s, s.begin():
        create_track(s, title="Bench", release_state="public")
    db.dispose()
    return url


def heatmap_ms(url: str, track_id: int, n_events: int, runs: int = 5, raw_runs: int = 1) -> dict:
    """Fill one track with ``n_events`` over 30 days (SQL generate_series into the day partitions), roll
    them up, then time the dashboard's heat map over those 30 days (rollups.heatmap: the rollups), and
    as the anchor the same heat map scanning the events (metrics.heatmap); they must be equal."""
    import sqlalchemy as sa

    from companion.analytics import metrics, rollups
    from companion.analytics.partitions import ensure_partitions
    from companion.db import Database

    db = Database(url)
    end = dt.datetime.now(dt.timezone.utc).date()
    start = end - dt.timedelta(days=29)
    ensure_partitions(db.engine, today=start, days_ahead=37)
    say(f"[heatmap] inserting {n_events:,} events over 30 days")
    t = time.monotonic()
    kinds = "ARRAY['play','progress','progress','progress','seek','pause','reaction','complete']"
    with db.engine.begin() as c:
        # synthetic rows of one existing track: the foreign-key trigger per row is skipped for the load
        c.execute(sa.text("SET LOCAL session_replication_role = replica"))
        c.execute(sa.text(
            f"INSERT INTO playback_events (received_at, event_uid, session_id, listener, track_id, event, position, "
            f"data, page_host) SELECT :t0 + (g % (30*86400)) * interval '1 second', 'h.' || g, "
            f"'hs' || (g / 40), md5((g / 400)::text), :track, ({kinds})[1 + g % 8], "
            f"CASE WHEN g % 8 = 0 THEN 0 ELSE (g * 7919 % 18000) / 100.0 END, "
            f"CASE WHEN g % 8 = 4 THEN json_build_object('from', (g * 31 % 18000) / 100.0, "
            f"'to', (g * 7919 % 18000) / 100.0) ELSE '{{}}'::json END, 'band.example' "
            f"FROM generate_series(1::bigint, :n) AS g"),
            {"t0": dt.datetime.combine(start, dt.time()), "track": track_id, "n": n_events})
        c.execute(sa.text("ANALYZE playback_events"))
    load_s = time.monotonic() - t
    # The rollups of the 30 days (what the consumers' schedule makes), then the dashboard's query on them.
    say("[heatmap] rolling up the 30 days")
    t = time.monotonic()
    rolled = rollups.roll(db, rollups.days_between(start, end))
    rollup_s = time.monotonic() - t
    times, cpus = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        with db.session() as s:
            h = rollups.heatmap(s, track_id, start, end, duration=180.0)
        times.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    # The anchor: the same heat map scanning the raw events (metrics.heatmap), as the dashboard did before.
    raw_times = []
    for _ in range(raw_runs):
        w0 = time.perf_counter()
        with db.session() as s:
            raw = metrics.heatmap(s, track_id, start, end, duration=180.0)
        raw_times.append((time.perf_counter() - w0) * 1000)
    with db.engine.connect() as c:
        total = c.execute(sa.text("SELECT count(*) FROM playback_events WHERE track_id = :t"), {"t": track_id}).scalar()
        rollup_rows = c.execute(sa.text("SELECT count(*) FROM analytics_track_seconds WHERE track_id = :t"),
                                {"t": track_id}).scalar()
    db.dispose()
    same = all(h[k] == raw[k] for k in metrics.HEAT_KINDS)
    out = {"events": total, "load_s": round(load_s, 1), "median_ms": round(statistics.median(times), 1),
           "runs_ms": [round(x, 1) for x in times], "client_cpu_ms": round(statistics.median(cpus), 1),
           "raw_ms": round(statistics.median(raw_times), 1), "raw_runs_ms": [round(x, 1) for x in raw_times],
           "rollup_s": round(rollup_s, 1), "rollup_rows": rollup_rows, "same_as_raw": same,
           "rolled_events": sum(r["events"] for r in rolled), "starts_total": sum(h["starts"])}
    if not same:
        raise RuntimeError("the heat map from the rollups differs from the one from the events")
    say(f"[heatmap] {json.dumps(out)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--heat-events", type=int, default=10_000_000)
    ap.add_argument("--paced", type=float, default=10_000,
                    help="A third run, the stream paced at this many events per second (the goal's rate): its "
                         "p99 is 'p99_ms_at_paced' (0: skip).")
    ap.add_argument("--raw-runs", type=int, default=1, help="Runs of the raw-scan heat map (the anchor).")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--heat-only", action="store_true", help="Only the heat map query (no load runs).")
    args = ap.parse_args()

    from companion.analytics.sequential import simulate_false_positive_rate
    from tests.faults.conftest import OwnRedis
    from tests.faults.pg import OwnPostgres

    scratch = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    # Redis as `scripthammer up` runs it: append-only, fsync every second.
    rds, pg = OwnRedis(scratch / "redis", "--appendfsync", "everysec"), OwnPostgres()
    rds.start()
    pg.start()
    wall0 = time.perf_counter()
    paced = None
    try:
        if args.heat_only:
            direct = stream = {"events_per_s": 0, "p99_ms": None, "lost": None, "duplicated": None, "p50_ms": None,
                               "accepted_per_s": None, "cpu_s": None}
            stream.update(url=_empty_db(pg), track_id=1)
        else:
            direct = run_load("direct", pg, rds.url, scratch, args.seconds, args.users, args.consumers)
            stream = run_load("stream", pg, rds.url, scratch, args.seconds, args.users, args.consumers)
            if args.paced:
                paced = run_load("stream", pg, rds.url, scratch, args.seconds, args.users, args.consumers,
                                 paced=args.paced, name="paced")
        heat = heatmap_ms(stream["url"], stream["track_id"], args.heat_events, raw_runs=args.raw_runs)
    finally:
        rds.stop()
        pg.stop()
        pg.remove()
    c0 = time.process_time()
    fpr = simulate_false_positive_rate(2000, args.alpha, rate=0.3, max_per_arm=5000, look_every=50, seed=2026)
    aa_cpu = time.process_time() - c0
    load = os.getloadavg()
    figures = {
        "events_per_s_sustained": stream["events_per_s"],
        "ingest_ratio": round(stream["events_per_s"] / direct["events_per_s"], 2) if direct["events_per_s"] else None,
        "p99_ms": paced["p99_ms"] if paced else stream["p99_ms"],
        "p99_ms_at_saturation": stream["p99_ms"],
        "heatmap_ms": heat["median_ms"],
        "heatmap_raw_ms": heat["raw_ms"],
        "heatmap_ratio": round(heat["median_ms"] / heat["raw_ms"], 4) if heat["raw_ms"] else None,
        "heatmap_rollup_s": heat["rollup_s"],
        "aa_false_positive_rate": fpr,
        "alpha": args.alpha,
        "events_lost": stream["lost"], "events_duplicated": stream["duplicated"],
        "direct_events_per_s": direct["events_per_s"], "direct_p99_ms": direct["p99_ms"],
        "stream_accepted_per_s": stream["accepted_per_s"], "p50_ms": stream["p50_ms"],
        "p99_ms_at_paced": paced and paced["p99_ms"], "p50_ms_at_paced": paced and paced["p50_ms"],
        "paced_events_per_s": paced and paced["events_per_s"], "paced_offered_events_per_s": paced and args.paced,
        "paced_lost": paced and paced["lost"], "paced_duplicated": paced and paced["duplicated"],
        "events_per_batch": int(os.environ.get("BENCH_EVENTS", "100")),
        "heatmap_events": heat["events"], "stream_cpu_s": stream["cpu_s"], "direct_cpu_s": direct["cpu_s"],
        "aa_cpu_s": round(aa_cpu, 2), "wall_s": round(time.perf_counter() - wall0, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "load": [round(x, 2) for x in load],
    }
    for k, v in figures.items():
        say(f"{k:28} {v}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
