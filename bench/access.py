"""Bench: signed delivery against the same bytes unsigned, through the companion's real HTTP server.

    .venv/bin/python bench/access.py                 # 10-minute track, 3 rounds
    .venv/bin/python bench/access.py --minutes 2 --rounds 1   # quick

Set-up (not timed): a companion (SQLite, local object store under a temporary var dir) with one
public track of ``--minutes`` minutes whose HLS ladder (48/96/192 kbps AAC, 4 s fMP4 segments, cut
by companion.media.hls as the release pipeline does) and MP3 320 download are in the store and in
the catalog (so the object index knows them). The companion is served by gunicorn on 127.0.0.1
exactly as ``scripthammer serve`` runs it (2 workers, 4 threads each).

Timed, in the same run, blocks of one pass over every segment of the ladder (inits included) per
side, in mirrored order (A B C C B A, rotated each round, so drift hits every side alike), one
keep-alive HTTP connection, each request read to its last byte:

  * signed:   ``/media/<segment>?exp=..&lid=..&sig=..`` as a listener's per-listener playlist names
              it (the companion checks the HMAC; no database);
  * unsigned: ``/media/<segment>`` of the same object (the companion classifies the key: one indexed
              lookup in the catalog's object index, public).

and, as a second anchor, ``/raw/<segment>``: the /media handler as it was before signed delivery
(the file by key, no check at all), served by the same gunicorn.

The same for the MP3 download (a few requests per side). In-process: building one listener's
per-listener variant playlist for the track (parsed once per process, then one HMAC per URI), and
classifying a key.

Progress goes to stderr; the last line of stdout is one JSON object with "segment_ratio" (p50 of
signed over unsigned segment requests; goal <= 1.10), "p99_ratio" (goal <= 1.25), "playlist_ms"
(goal < 5), "webhook_ms" (WooCommerce webhook verify + store + enqueue over HTTP, p50, measured by
bench/webhook.py's measure(); goal < 20), CPU seconds of the server and
the client per side, and the machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.net import free_port, wait_port  # noqa: E402

LISTENER = "l.1"


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_release(work: Path, store, minutes: float) -> dict:
    """The HLS ladder and an MP3 320 of a ``minutes``-long piece, stored as the pipeline stores them."""
    from companion.media import hls
    from companion.storage.base import content_key, sha256_file

    seconds = minutes * 60
    work.mkdir(parents=True, exist_ok=True)
    wav = work / "song.wav"
    graph = (f"sine=f=220:d={seconds}[a];sine=f=330:d={seconds}[b];anoisesrc=d={seconds}:a=0.02[n];"
             "[a][b][n]amix=inputs=3,volume=-14dB,apulsator=hz=1.5,aformat=channel_layouts=stereo[out]")
    ffmpeg("-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_s16le", "-ar", "44100", str(wav))
    variants = []
    for kbps in (48, 96, 192):
        rung = work / f"rung{kbps}.m4a"
        ffmpeg("-threads", "1", "-i", str(wav), "-c:a", "aac", "-b:a", f"{kbps}k", str(rung))
        variants.append(hls.segment(rung, work / "hls", kbps, 4))
    (work / "hls" / "master.m3u8").write_text(hls.master_playlist(variants))
    digest = sha256_file(wav)
    for f in sorted((work / "hls").iterdir()):
        store.put_file(content_key("hls", digest, f.name), f)
    mp3 = work / "bench-song-mp3-320.mp3"
    ffmpeg("-threads", "1", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "320k", str(mp3))
    mp3_sha = sha256_file(mp3)
    mp3_key = content_key("renditions", mp3_sha, mp3.name)
    store.put_file(mp3_key, mp3)
    return {"master_key": content_key("hls", digest, "master.m3u8"), "mp3_key": mp3_key, "mp3_sha": mp3_sha,
            "mp3_size": mp3.stat().st_size, "duration": seconds,
            "variant_keys": [content_key("hls", digest, v.playlist.name) for v in variants],
            "segments": {v.bitrate // 1000: [content_key("hls", digest, s.name) for s in v.segments]
                         for v in variants},
            "inits": [content_key("hls", digest, v.init.name) for v in variants]}


def catalog(config, rel: dict) -> int:
    """A public track naming the release (the session's hook indexes its keys)."""
    from companion.catalog import service
    from companion.db import Database

    manifest = {"renditions": [{"name": "mp3-320", "kind": "download", "format": "mp3", "codec": "mp3",
                                "container": "mp3", "mime": "audio/mpeg", "extension": "mp3", "bitrate": 320000,
                                "size": rel["mp3_size"], "key": rel["mp3_key"], "sha256": rel["mp3_sha"]}],
                "source": {"duration": rel["duration"]}, "loudness": {}, "hls": {"master_key": rel["master_key"]},
                "peaks": []}
    db = Database(config.database_url)
    with db.session() as s:
        t = service.create_track(s, title="Bench Song", release_state="public")
        service.apply_manifest(s, t, manifest)
        tid = t.id
    db.dispose()
    return tid


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def server_pids(master: int) -> list[int]:
    kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, kids)]


class Client:
    """One keep-alive connection; GET returns (seconds, status, bytes)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[float, int, int]:
        t0 = time.perf_counter()
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        n = 0
        while True:
            chunk = resp.read(1 << 16)
            if not chunk:
                break
            n += len(chunk)
        return time.perf_counter() - t0, resp.status, n


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


def timed_blocks(client: Client, pids: list[int], paths: dict[str, list[str]], rounds: int) -> dict:
    """Blocks of one pass per side, in mirrored order (A B C C B A, then rotated); latencies and CPU per side."""
    names = list(paths)
    lat = {n: [] for n in names}
    cpu = {n: 0.0 for n in names}
    client_cpu = {n: 0.0 for n in names}
    nbytes = {n: 0 for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for side in order + order[::-1]:
            s0, c0 = cpu_of(pids), time.process_time()
            for path in paths[side]:
                secs, status, n = client.get(path)
                if status != 200:
                    raise RuntimeError(f"{side} {path} answered {status}")
                lat[side].append(secs)
                nbytes[side] += n
            cpu[side] += cpu_of(pids) - s0
            client_cpu[side] += time.process_time() - c0
    return {"lat": lat, "cpu": cpu, "client_cpu": client_cpu, "bytes": nbytes}


def wsgi_app():
    """What gunicorn serves: the companion, plus ``/raw/<key>``: the /media handler as it was before
    signed delivery (main's code for a local file: a flask-smorest view, the file by key, no
    classification, no signature), a second anchor."""
    from flask import send_file
    from flask_smorest import Blueprint

    from companion import create_app
    from companion.errors import NotFound
    from companion.services import current as services
    from companion.storage.base import check_key

    app = create_app()
    blp = Blueprint("raw", __name__, url_prefix="/raw")

    @blp.route("/<path:key>", methods=["GET", "HEAD"])
    @blp.response(200)
    def raw(key: str):
        try:
            check_key(key)
        except ValueError:
            raise NotFound("no such media", code="media_not_found") from None
        path = services().store.local_path(key)
        resp = send_file(path, mimetype="video/iso.segment", conditional=True, etag=True, max_age=31536000)
        resp.headers["Accept-Ranges"] = "bytes"
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers["Access-Control-Expose-Headers"] = "Content-Length, Content-Range, Accept-Ranges"
        return resp

    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
    return app


def webhook_ms(rounds: int = 200) -> float:
    """WooCommerce webhook verify + store + enqueue, p50 over HTTP (bench/webhook.py's measure)."""
    import webhook as webhook_bench  # bench/webhook.py, beside this script

    return float(webhook_bench.measure(rounds)["webhook_ms"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3, help="mirrored rounds of passes over the ladder")
    ap.add_argument("--downloads", type=int, default=6, help="download requests per side")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (scripthammer serve: 2)")
    args = ap.parse_args()

    from companion.access.delivery import may_fetch_unsigned
    from companion.access.playlists import TemplateCache, listener_playlist
    from companion.access.signing import signer_for
    from companion.band.auth import ANONYMOUS
    from companion.config import Config
    from companion.db import Database, upgrade
    from companion.storage import open_store

    tmp = Path(tempfile.mkdtemp(prefix="bench-access-"))
    config = Config(var_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'bench.db'}",
                    delivery_secret="bench-delivery-secret-0123456789", wp_shared_secret="bench-shared-secret")
    upgrade(config.database_url)
    store = open_store(config)
    say(f"making a {args.minutes:g}-minute ladder and MP3 ...")
    rel = make_release(tmp / "work", store, args.minutes)
    track_id = catalog(config, rel)
    signer = signer_for(config)
    exp_seconds = config.stream_url_seconds + int(rel["duration"]) + 3600

    def signed(key: str) -> str:
        return f"/media/{key}?{signer.sign(key, LISTENER, exp_seconds).query()}"

    # --- in process: the per-listener playlist and classifying a key ------------------------
    variant = rel["variant_keys"][1]
    n_segments = len(rel["segments"][96])
    exp = signer.sign(variant, LISTENER, exp_seconds).exp
    cache = TemplateCache()
    t0 = time.perf_counter()
    listener_playlist(store, variant, signer, LISTENER, exp, cache)
    cold_ms = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(200):
        t0 = time.perf_counter()
        text = listener_playlist(store, variant, signer, LISTENER, exp, cache)
        runs.append((time.perf_counter() - t0) * 1000)
    assert text.count("sig=") == n_segments + 1, "every segment and the init signed"
    playlist_ms = statistics.median(runs)
    db = Database(config.database_url)
    seg = rel["segments"][96][n_segments // 2]
    cls = []
    with db.engine.connect() as conn:  # as the /media handler reads
        for _ in range(300):
            t0 = time.perf_counter()
            assert may_fetch_unsigned(conn, seg, ANONYMOUS)
            cls.append((time.perf_counter() - t0) * 1e6)
    db.dispose()
    say(f"per-listener playlist ({n_segments} segments): {playlist_ms:.3f} ms (cold parse {cold_ms:.1f} ms); "
        f"classify a key: {statistics.median(cls):.0f} us")

    # --- through gunicorn ----------------------------------------------------------------------
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), SCRIPTHAMMER_VAR_DIR=str(config.var_dir),
               SCRIPTHAMMER_DATABASE_URL=config.database_url, SCRIPTHAMMER_DELIVERY_SECRET=config.delivery_secret,
               SCRIPTHAMMER_WP_SHARED_SECRET=config.wp_shared_secret)
    log = open(tmp / "gunicorn.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "--threads", "4",
                               "-b", f"127.0.0.1:{port}", "--timeout", "600", "bench.access:wsgi_app()"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        client = Client(port)
        pids = server_pids(server.pid)
        # Warm up both paths (imports, connections, the playlist templates) on every worker.
        for _ in range(4 * args.workers):
            client.get(signed(variant))
            client.get(f"/media/{variant}")
            client.get(signed(seg))
            client.get(f"/media/{seg}")
            client.get(f"/raw/{seg}")
        check = client.get(f"/media/{rel['segments'][96][0]}")
        assert check[1] == 200, check
        assert client.get(f"/media/{rel['mp3_key']}?exp=1&lid={LISTENER}&sig={'0' * 32}")[1] == 404
        segs = [k for kbps in (48, 96, 192) for k in [rel["inits"][[48, 96, 192].index(kbps)], *rel["segments"][kbps]]]
        paths = {"signed": [signed(k) for k in segs], "unsigned": [f"/media/{k}" for k in segs],
                 "unchecked": [f"/raw/{k}" for k in segs]}
        say(f"segments: {len(segs)} per pass, {args.rounds} mirrored rounds ...")
        seg_res = timed_blocks(client, pids, paths, args.rounds)
        pl_paths = {"signed": [signed(k) for k in rel["variant_keys"]] * 10,
                    "unsigned": [f"/media/{k}" for k in rel["variant_keys"]] * 10}
        pl_res = timed_blocks(client, pids, pl_paths, max(1, args.rounds))
        dl_paths = {"signed": [signed(rel["mp3_key"])] * max(1, args.downloads // 2),
                    "unsigned": [f"/media/{rel['mp3_key']}"] * max(1, args.downloads // 2),
                    "unchecked": [f"/raw/{rel['mp3_key']}"] * max(1, args.downloads // 2)}
        say("downloads ...")
        dl_res = timed_blocks(client, pids, dl_paths, 1)
    finally:
        server.terminate()
        server.wait(20)
        log.close()

    def side(res, name, q):
        return pct(res["lat"][name], q) * 1000

    s50, u50 = side(seg_res, "signed", 0.5), side(seg_res, "unsigned", 0.5)
    s99, u99 = side(seg_res, "signed", 0.99), side(seg_res, "unsigned", 0.99)
    r50, r99 = side(seg_res, "unchecked", 0.5), side(seg_res, "unchecked", 0.99)
    d50s, d50u = side(dl_res, "signed", 0.5), side(dl_res, "unsigned", 0.5)
    p50s, p50u = side(pl_res, "signed", 0.5), side(pl_res, "unsigned", 0.5)
    out = {
        "segment_ratio": round(s50 / u50, 3), "p99_ratio": round(s99 / u99, 3), "playlist_ms": round(playlist_ms, 3),
        "webhook_ms": webhook_ms(),
        "segment_p50_ms": {"signed": round(s50, 3), "unsigned": round(u50, 3), "unchecked": round(r50, 3)},
        "segment_p99_ms": {"signed": round(s99, 3), "unsigned": round(u99, 3), "unchecked": round(r99, 3)},
        "signed_vs_unchecked": {"p50": round(s50 / r50, 3), "p99": round(s99 / r99, 3)},
        "segment_requests": {k: len(v) for k, v in seg_res["lat"].items()},
        "segment_bytes": seg_res["bytes"],
        "server_cpu_s": {k: round(v, 2) for k, v in seg_res["cpu"].items()},
        "client_cpu_s": {k: round(v, 2) for k, v in seg_res["client_cpu"].items()},
        "download_ratio": round(d50s / d50u, 3),
        "download_p50_ms": {"signed": round(d50s, 2), "unsigned": round(d50u, 2),
                            "unchecked": round(side(dl_res, "unchecked", 0.5), 2)},
        "download_bytes": rel["mp3_size"],
        "download_server_cpu_s": {k: round(v, 2) for k, v in dl_res["cpu"].items()},
        "playlist_http_p50_ms": {"signed": round(p50s, 3), "unsigned": round(p50u, 3)},
        "playlist_cold_ms": round(cold_ms, 2), "playlist_segments": n_segments,
        "classify_us": round(statistics.median(cls), 1),
        "track_minutes": args.minutes, "track_id": track_id, "rounds": args.rounds, "gunicorn_workers": args.workers,
        "cores": os.cpu_count(), "cpu_model": _cpu_model(), "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    say(f"segments p50 signed {s50:.3f} ms / unsigned {u50:.3f} ms = {out['segment_ratio']}; "
        f"p99 {s99:.3f} / {u99:.3f} = {out['p99_ratio']}; download {d50s:.1f} / {d50u:.1f} ms")
    print(json.dumps(out))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
