"""Load held (issue 15): locust against the companion under gunicorn, and the same requests as static files.

Set-up (not timed): a redis-server and a PostgreSQL cluster of the run's own (tests/faults' OwnRedis and
OwnPostgres), the local object store, one public track of ``--minutes`` whose HLS ladder (48/96/192
kbps AAC, 4 s segments), MP3 320 download and peaks (JSON, 1024 samples per pixel) are in the store
and the catalog, as the release pipeline leaves them. The companion runs under gunicorn
(``--workers`` processes, 4 threads each: what ``scripthammer serve`` runs) with its rate limits
lifted (SCRIPTHAMMER_PUBLIC_RATE_LIMIT empty, beacons unlimited): one load generator on one address
would otherwise measure the limiter.

The traffic, one locust user = one listener sending back to back (weights in MIX):
embed pages, track JSON, the master and variant HLS playlists, segments, peaks, beacons (POST) and
signed downloads (the MP3 by a query-signed URL, as a CDN would pass it through).

The ramp: stages of ``--stage-seconds`` at more and more users (``--users``), until the error rate
passes 0.1% or p99 passes 500 ms. "sustained_rps" is the throughput of the last stage within both
bounds, "p99_ms" and "errors" are that stage's. The anchor, in the same run: the same requests (same
bytes; beacons as a GET of their answer) served as static files by nginx (Debian's, 2 workers) or, if
nginx is absent, Python's http.server (the output says which), at the users of that stage:
"static_ratio" = sustained_rps / static rps. CPU seconds of the server processes and of locust are
printed beside wall time. Progress goes to stderr; the last line is one JSON object.

Run: .venv/bin/python bench/load.py [--minutes 0.5] [--users 8,16,32,64] [--stage-seconds 15]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.access import cpu_of, free_port, make_release, wait_port  # noqa: E402

LISTENER = "l.1"
MAX_ERROR_RATE = 0.001
MAX_P99_MS = 500.0
#: name -> weight of each kind of request in the mix (a listener streams: segments dominate)
MIX = {"embed page": 1, "track json": 2, "master playlist": 1, "variant playlist": 2, "segment": 8,
       "peaks": 1, "beacon": 2, "signed download": 0.2}


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def server_tree(master: int) -> list[int]:
    kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, kids)]


def catalog_track(config, rel: dict, peaks_key: str, peaks_len: int) -> int:
    from companion.catalog import service
    from companion.db import Database

    manifest = {"renditions": [{"name": "mp3-320", "kind": "download", "format": "mp3", "codec": "mp3",
                                "container": "mp3", "mime": "audio/mpeg", "extension": "mp3", "bitrate": 320000,
                                "size": rel["mp3_size"], "key": rel["mp3_key"], "sha256": rel["mp3_sha"]}],
                "source": {"duration": rel["duration"]}, "loudness": {}, "hls": {"master_key": rel["master_key"]},
                "peaks": [{"samples_per_pixel": 1024, "length": peaks_len, "key": peaks_key}]}
    db = Database(config.database_url)
    with db.session() as s:
        t = service.create_track(s, title="Load Song", artist="ScriptHammer", release_state="public")
        service.apply_manifest(s, t, manifest)
        tid = t.id
    db.dispose()
    return tid


def plan_for(config, rel: dict, track_id: int, peaks_key: str) -> list[dict]:
    from companion.access.signing import signer_for

    signed = signer_for(config).sign(rel["mp3_key"], LISTENER, 86400).query()
    segs = [k for kbps in sorted(rel["segments"]) for k in rel["segments"][kbps]]
    beacon = json.dumps({"v": 1, "session": "load-session-0001", "events": [
        {"type": "progress", "track": track_id, "pos": 10.0, "data": {"played": 10.0}}]})
    plan = [
        {"name": "embed page", "method": "GET", "path": f"/embed/track/{track_id}"},
        {"name": "track json", "method": "GET", "path": f"/api/tracks/{track_id}"},
        {"name": "master playlist", "method": "GET", "path": f"/media/{rel['master_key']}"},
        *[{"name": "variant playlist", "method": "GET", "path": f"/media/{k}"} for k in rel["variant_keys"]],
        *[{"name": "segment", "method": "GET", "path": f"/media/{k}"} for k in segs],
        {"name": "peaks", "method": "GET", "path": f"/media/{peaks_key}"},
        {"name": "beacon", "method": "POST", "path": "/api/beacons", "body": beacon, "status": 202},
        {"name": "signed download", "method": "GET", "path": f"/media/{rel['mp3_key']}?{signed}"},
    ]
    counts: dict[str, int] = {}
    for p in plan:
        counts[p["name"]] = counts.get(p["name"], 0) + 1
    for p in plan:
        p["weight"] = MIX[p["name"]] / counts[p["name"]]
    return plan


def static_copy(base: str, plan: list[dict], root: Path) -> list[dict]:
    """Fetch every request of ``plan`` from the companion once and lay its answer out as a file under
    ``root`` at the same path; the plan for the static server (beacons become a GET of their answer)."""
    out = []
    for p in plan:
        req = urllib.request.Request(base + p["path"], method=p["method"],
                                     data=p["body"].encode() if p.get("body") else None,
                                     headers={"Content-Type": "application/json"} if p.get("body") else {})
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, body = resp.status, resp.read()
        if status != p.get("status", 200):
            raise RuntimeError(f"{p['path']} answered {status}")
        path = p["path"].split("?", 1)[0]
        if p["method"] == "POST":
            path = path + ".answer"
        target = root / path.lstrip("/")
        if target.exists() and target.is_dir():
            target = target / "index"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        q = "?" + p["path"].split("?", 1)[1] if "?" in p["path"] else ""
        out.append({**p, "method": "GET", "path": path + q, "body": None, "status": 200})
    return out


def warm(base: str, plan: list[dict], rounds: int) -> None:
    """Each request of the plan ``rounds`` times (first requests per worker compile templates, open
    connections and read manifests: not what a stage should measure)."""
    import concurrent.futures

    def one(p):
        req = urllib.request.Request(base + p["path"], method=p["method"],
                                     data=p["body"].encode() if p.get("body") else None,
                                     headers={"Content-Type": "application/json"} if p.get("body") else {})
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, [p for _ in range(rounds) for p in plan]))


def start_static(root: Path, scratch: Path) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    nginx = shutil.which("nginx") or (Path("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        conf = scratch / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the scratch folder (0700)
        conf.write_text(f"""{user}worker_processes 2;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path {scratch}/nginx-body; proxy_temp_path {scratch}/nginx-proxy;
  fastcgi_temp_path {scratch}/nginx-fcgi; uwsgi_temp_path {scratch}/nginx-uwsgi; scgi_temp_path {scratch}/nginx-scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; location / {{ try_files $uri $uri/index =404; }} }}
}}
""")
        proc = subprocess.Popen([str(nginx), "-c", str(conf), "-p", str(scratch), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        kind = "nginx " + subprocess.run([str(nginx), "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    else:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                                 "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True)
        kind = "python http.server"
    wait_port(port)
    return proc, port, kind


def locust_stage(host: str, plan_file: Path, users: int, seconds: int, scratch: Path, server: list[int]) -> dict:
    prefix = scratch / f"locust-{int(time.time() * 1000)}"
    env = dict(os.environ, SHM_LOAD_PLAN=str(plan_file))
    s0 = cpu_of(server)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "load_locustfile.py"),
                           "--headless", "-u", str(users), "-r", str(users), "--run-time", f"{seconds}s",
                           "--host", host, "--csv", str(prefix), "--only-summary", "--stop-timeout", "2",
                           "--exit-code-on-error", "0", "--loglevel", "WARNING"],
                          env=env, capture_output=True, text=True, timeout=seconds + 120)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"locust failed ({proc.returncode}): {proc.stderr[-2000:]}")
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    agg = rows["Aggregated"]
    n, fails = int(agg["Request Count"]), int(agg["Failure Count"])
    if fails:
        with open(f"{prefix}_failures.csv", newline="") as fh:
            for row in list(csv.DictReader(fh))[:3]:
                say(f"    failures: {row.get('Name')}: {row.get('Error')} x{row.get('Occurrences')}")
    return {"users": users, "requests": n, "failures": fails, "error_rate": fails / n if n else 1.0,
            "rps": float(agg["Requests/s"]), "p50_ms": float(agg["50%"]), "p99_ms": float(agg["99%"]),
            "server_cpu_s": round(cpu_of(server) - s0, 1),
            "locust_cpu_s": round(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, 1),
            "wall_s": round(wall, 1),
            "by_kind": {k: {"rps": float(r["Requests/s"]), "p99_ms": float(r["99%"]), "failures": int(r["Failure Count"])}
                        for k, r in rows.items() if k != "Aggregated"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=0.5, help="length of the track")
    ap.add_argument("--users", default="1,2,4,8,16,32,64", help="locust users per stage, in order")
    ap.add_argument("--stage-seconds", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (scripthammer serve: 2)")
    args = ap.parse_args()

    import numpy as np
    import soundfile as sf

    from companion.config import Config
    from companion.db import upgrade
    from companion.media.peaks import peaks_from_samples
    from companion.storage import open_store
    from companion.storage.base import content_key, sha256_file
    from tests.conftest import stop_group
    from tests.faults.conftest import OwnRedis
    from tests.faults.pg import OwnPostgres

    scratch = Path(tempfile.mkdtemp(prefix="bench-load-"))
    rds, pg = OwnRedis(scratch / "redis"), OwnPostgres()
    server = static = None
    stages: list[dict] = []
    try:
        rds.start()
        pg.start()
        config = Config(var_dir=scratch / "var", database_url=pg.create_database("companion"), redis_url=rds.url,
                        queue_name="shm-load", wp_shared_secret="load-shared-secret",
                        delivery_secret="load-delivery-secret-0123456789", public_rate_limit="",
                        beacon_rate_limit="100000000 per minute", auth_failure_limit="100000000 per minute")
        upgrade(config.database_url)
        store = open_store(config)
        say(f"making a {args.minutes:g}-minute release ...")
        rel = make_release(scratch / "work", store, args.minutes)
        wav = scratch / "work" / "song.wav"
        samples, rate = sf.read(str(wav), dtype="float32", always_2d=True)
        peaks = [p for p in peaks_from_samples(samples.mean(axis=1).astype(np.float32), rate)
                 if p.get("samples_per_pixel") == 1024] or peaks_from_samples(samples.mean(axis=1), rate)[:1]
        peaks_file = scratch / "work" / "peaks.json"
        peaks_file.write_text(json.dumps(peaks[0]))
        peaks_key = content_key("peaks", sha256_file(wav), "peaks-1024.json")
        store.put_file(peaks_key, peaks_file)
        track_id = catalog_track(config, rel, peaks_key, len(peaks[0].get("data", [])))
        plan = plan_for(config, rel, track_id, peaks_key)

        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        for f in ("var_dir", "database_url", "redis_url", "queue_name", "wp_shared_secret", "delivery_secret",
                  "public_rate_limit", "beacon_rate_limit", "auth_failure_limit"):
            env["SCRIPTHAMMER_" + f.upper()] = str(getattr(config, f))
        log = open(scratch / "gunicorn.log", "wb")
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "--threads", "4",
                                   "-b", f"127.0.0.1:{port}", "--timeout", "120", "--backlog", "2048",
                                   "companion.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        wait_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        static_root = scratch / "static"
        static_plan = static_copy(base, plan, static_root)
        say("warming up every worker on every kind of request ...")
        warm(base, plan, rounds=6 * args.workers)
        plan_file, static_plan_file = scratch / "plan.json", scratch / "static-plan.json"
        plan_file.write_text(json.dumps(plan))
        static_plan_file.write_text(json.dumps(static_plan))
        pids = server_tree(server.pid)
        say(f"companion: gunicorn, {args.workers} workers x 4 threads, PostgreSQL, Redis, local store; "
            f"{len(plan)} distinct requests")

        best = None
        for users in [int(u) for u in args.users.split(",")]:
            st = locust_stage(base, plan_file, users, args.stage_seconds, scratch, pids)
            ok = st["error_rate"] <= MAX_ERROR_RATE and st["p99_ms"] <= MAX_P99_MS
            stages.append(st | {"within_bounds": ok})
            say(f"  {users:>3} users: {st['rps']:.0f} rps, p50 {st['p50_ms']:.0f} ms, p99 {st['p99_ms']:.0f} ms, "
                f"errors {st['failures']}/{st['requests']}, server CPU {st['server_cpu_s']} s, "
                f"locust CPU {st['locust_cpu_s']} s in {st['wall_s']} s{'' if ok else '  <- over the bounds'}")
            if ok and (best is None or st["rps"] > best["rps"]):
                best = st
            if not ok:
                break

        static, sport, kind = start_static(static_root, scratch)
        at = (best or stages[0])["users"]
        spids = server_tree(static.pid)
        say(f"static anchor: {kind}, {at} users ...")
        sst = locust_stage(f"http://127.0.0.1:{sport}", static_plan_file, at, args.stage_seconds, scratch, spids)
        say(f"  static: {sst['rps']:.0f} rps, p99 {sst['p99_ms']:.0f} ms, errors {sst['failures']}/{sst['requests']}, "
            f"server CPU {sst['server_cpu_s']} s, locust CPU {sst['locust_cpu_s']} s")
    finally:
        stop_group(server, timeout=15) if server else None
        stop_group(static, timeout=15) if static else None
        rds.stop()
        pg.stop()
        pg.remove()
        shutil.rmtree(scratch, ignore_errors=True)

    chosen = best or stages[0]
    out = {"sustained_rps": round(best["rps"], 1) if best else 0.0,
           "p99_ms": round(chosen["p99_ms"], 1), "errors": chosen["failures"],
           "static_ratio": round((best["rps"] if best else 0.0) / sst["rps"], 3) if sst["rps"] else None,
           "error_rate": round(chosen["error_rate"], 5), "users": chosen["users"],
           "static_rps": round(sst["rps"], 1), "static_server": kind,
           "server": f"gunicorn {args.workers} workers x 4 threads",
           "server_cpu_s": chosen["server_cpu_s"], "locust_cpu_s": chosen["locust_cpu_s"],
           "stage_wall_s": chosen["wall_s"],
           "stages": [{k: s[k] for k in ("users", "rps", "p99_ms", "failures", "requests", "within_bounds")}
                      for s in stages],
           "by_kind": chosen["by_kind"],
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "load_avg": [round(x, 2) for x in os.getloadavg()]}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
