"""Bench: the embedded player against a bare <audio> element on the MP3, in headless Chromium.

    .venv/bin/python bench/player.py              # the 190 s demo song when bench/out has it, else 60 s of tones
    .venv/bin/python bench/player.py --runs 7 --wav some.wav

A companion (SQLite, a private redis-server, local object store) releases the song through the
real pipeline, then serves it on a free localhost port. One Chromium (Debian's, via Playwright)
loads, alternately and each time in a fresh browser context (cold cache):

  * bare:   a page holding only <audio src="<the MP3 the player would fall back on>" autoplay>
  * player: /embed/track/<id>?autoplay=1 (the inline fast start, the player bundle, hls.js, the HLS
            ladder in fMP4, peaks)

and measures, from navigation start, the time until the first audio frame is played (the first
moment an <audio> element's currentTime is above 0, polled every 2 ms, with the 'playing' event
time beside it, and as a secondary figure the moment the audio clock started: the poll's time
minus the currentTime it saw), and the bytes fetched before that moment (Chrome DevTools Protocol
network events: bytes on the wire, headers excluded). Medians over the runs; the ratio is of the
polled first-audio times.

The mobile profile (``--profiles desktop,mobile``, the default; ``--profiles mobile`` for it alone) runs
the same alternating cold-cache runs with Chromium's network emulation (DevTools Protocol
Network.emulateNetworkConditions, set on each page before it navigates): 1.6 Mbit/s down, 750 kbit/s
up, 150 ms added to every round trip, the cache disabled. On such a link what each page fetches before
its first sound shows in the time.

Progress goes to stderr; the last line of stdout is one JSON object: {"ratio": player/bare time to
first audio, "player_ms", "bare_ms", "player_bytes", "bare_bytes", ..., and for the mobile profile
"mobile_ratio", "mobile_player_ms", "mobile_bare_ms", "mobile_player_bytes", "mobile_bare_bytes", ...}.
Goals: ratio <= 1.2, mobile_ratio <= 0.5.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.net import free_port, wait_port  # noqa: E402

from tests.browser import CHROMIUM, chromium  # noqa: E402  (the browser fixture, written once)

PROBE = """(() => {
  window.__bench = {firstAudio: null, playing: null, clock: null};
  document.addEventListener('playing', () => { if (window.__bench.playing === null) window.__bench.playing = performance.now(); }, true);
  const poll = setInterval(() => {
    for (const a of document.querySelectorAll('audio')) {
      if (a.currentTime > 0 && !a.paused) {
        window.__bench.firstAudio = performance.now(); window.__bench.clock = a.currentTime; clearInterval(poll); return;
      }
    }
  }, 2);
})();"""


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def make_wav(path: Path, seconds: float) -> Path:
    graph = (f"sine=f=220:d={seconds}[a];sine=f=330:d={seconds}[b];anoisesrc=d={seconds}:a=0.02[n];"
             "[a][b][n]amix=inputs=3,volume=-14dB,apulsator=hz=1.5,aformat=channel_layouts=stereo[out]")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-filter_complex", graph, "-map", "[out]",
                    "-c:a", "pcm_s16le", "-ar", "44100", str(path)], check=True)
    return path


def release(tmp: Path, redis_url: str, wav: Path):
    """A companion app with the song released; (app, track JSON)."""
    from rq import SimpleWorker

    from companion import create_app
    from companion.band.service import seed_members
    from companion.band.tokens import create_token
    from companion.config import Config
    from companion.db import upgrade
    from jobs import context

    config = Config(var_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'bench.db'}", redis_url=redis_url,
                    queue_name="bench-player", job_retries=0)
    upgrade(config.database_url)
    context.configure(config)
    svc = context.services()
    with svc.db.session() as s:
        seed_members(s, svc.band)
        member = next(iter(svc.band.members))
        _, token = create_token(s, role="member", member_id=member, label="bench")
    app = create_app(config)
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    t = client.post("/api/tracks", json={"title": "Bench Song", "release_state": "public"}, headers=h).get_json()
    with open(wav, "rb") as fh:
        r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, wav.name)}, headers=h,
                        content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    t0 = time.perf_counter()
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    say(f"released in {time.perf_counter() - t0:.1f} s")
    track = client.get(f"/api/tracks/{t['id']}").get_json()
    assert track["status"] == "ready", track
    return app, track


def _quiet_werkzeug() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def serve(app, bare_html: str):
    """Serve the companion, plus /bench/bare (the bare page) from the same origin and server."""
    from werkzeug.serving import make_server

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/bench/bare":
            body = bare_html.encode()
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                                      ("Cache-Control", "no-store")])
            return [body]
        return app(environ, start_response)

    _quiet_werkzeug()
    port = free_port()
    server = make_server("127.0.0.1", port, wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


#: the mobile profile: a slow 3G/4G-ish link (DevTools' throughputs are bytes per second).
MOBILE = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8, "uploadThroughput": 750_000 / 8}


def measure(browser, url: str, network: dict | None = None) -> dict:
    ctx = browser.new_context(viewport={"width": 1024, "height": 700} if network is None else
                              {"width": 390, "height": 844})
    page = ctx.new_page()
    page.add_init_script(PROBE)
    console: list[str] = []
    if os.environ.get("BENCH_TRACE"):
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if network is not None:
        cdp.send("Network.emulateNetworkConditions", network)
    chunks: list[tuple[float, str, int]] = []  # (monotonic s, request id, bytes)
    finished: dict[str, tuple[float, int]] = {}
    urls: dict[str, str] = {}
    nav: dict[str, float] = {}

    def will_send(e):
        urls[e["requestId"]] = e["request"]["url"]
        if e.get("type") == "Document" and "t" not in nav:
            nav["t"] = e["timestamp"]

    cdp.on("Network.requestWillBeSent", will_send)
    cdp.on("Network.dataReceived", lambda e: chunks.append((e["timestamp"], e["requestId"], e.get("encodedDataLength", 0))))
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], (e["timestamp"], e["encodedDataLength"])))
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => window.__bench && window.__bench.firstAudio !== null", timeout=60000, polling=20)
    res = page.evaluate("() => ({...window.__bench, nav: performance.getEntriesByType('navigation')[0].startTime})")
    page.wait_for_timeout(200)  # let the CDP events for bytes already received arrive
    first = nav["t"] + res["firstAudio"] / 1000.0
    # Bytes on the wire before the first audio frame. Chromium reports most body bytes in
    # loadingFinished (encodedDataLength, headers included); for requests still open at that moment
    # the dataReceived chunks are summed.
    total = 0
    per_url: dict[str, int] = {}
    for rid, (ts, n) in finished.items():
        if ts <= first:
            total += n
            per_url[urls.get(rid, rid)] = n
    for ts, rid, n in chunks:
        if ts <= first and not (rid in finished and finished[rid][0] <= first):
            total += n
            per_url[urls.get(rid, rid)] = per_url.get(urls.get(rid, rid), 0) + n
    if os.environ.get("BENCH_TRACE"):
        for u, n in sorted(per_url.items(), key=lambda kv: -kv[1]):
            say(f"    before first audio: {n:8d} B  {u.split('/')[-1][:70]}")
        for e in page.evaluate("() => performance.getEntriesByType('resource').map(r => [r.name.split('/').pop().slice(0, 40), Math.round(r.startTime), Math.round(r.responseEnd)])"):
            say("   ", e)
        say("    script-run/first-audio", res)
        say("    marks", page.evaluate("() => performance.getEntriesByType('mark').map(m => [m.name, Math.round(m.startTime)])"))
        page.wait_for_timeout(1500)
        say("    after 1.5 s", page.evaluate("() => { const a = document.querySelector('audio'); return a && "
                                             "{t: a.currentTime, paused: a.paused, buffered: a.buffered.length ? a.buffered.end(0) : 0}; }"))
        for line in console:
            say("    console", line)
    # The player's state once its bundle runs (on a slow link the bundle is fetched after the first
    # segment, so it comes after the first sound; the times above are already taken).
    try:
        if "/embed/" in url:
            page.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length && "
                                   "ScriptHammer.players[0].getState().ready", timeout=30000, polling=50)
    except Exception:  # noqa: BLE001 - reported as no mode / no fast start
        pass
    state = page.evaluate("() => window.ScriptHammer && ScriptHammer.players[0] ? ScriptHammer.players[0].getState() : null")
    ctx.close()
    # When the poll saw it late (the page's main thread busy), currentTime was already past 0: the
    # audio clock started about that much earlier. A secondary figure, the same for both pages.
    clock_start = res["firstAudio"] - 1000.0 * (res["clock"] or 0.0)
    return {"first_audio_ms": res["firstAudio"], "clock_start_ms": clock_start, "playing_ms": res["playing"], "bytes": total, "requests": len(per_url),
            "per_url": per_url,
            "mode": state and state["mode"], "level": state and state["level"], "fast_start": bool(state and state.get("fastStart"))}


def summarize(results: dict[str, list[dict]]) -> dict:
    med = {n: {k: statistics.median(x[k] for x in rs) for k in ("first_audio_ms", "bytes")} for n, rs in results.items()}
    return {"ratio": round(med["player"]["first_audio_ms"] / med["bare"]["first_audio_ms"], 3),
            "player_ms": round(med["player"]["first_audio_ms"], 1), "bare_ms": round(med["bare"]["first_audio_ms"], 1),
            "player_bytes": int(med["player"]["bytes"]), "bare_bytes": int(med["bare"]["bytes"]),
            "bytes_ratio": round(med["player"]["bytes"] / max(1, med["bare"]["bytes"]), 3),
            "player_clock_start_ms": round(statistics.median(x["clock_start_ms"] for x in results["player"]), 1),
            "bare_clock_start_ms": round(statistics.median(x["clock_start_ms"] for x in results["bare"]), 1),
            "player_playing_ms": round(statistics.median(x["playing_ms"] for x in results["player"]), 1),
            "bare_playing_ms": round(statistics.median(x["playing_ms"] for x in results["bare"]), 1),
            "player_mode": results["player"][0]["mode"],
            "player_fast_start_runs": sum(1 for x in results["player"] if x["fast_start"]),
            "player_runs_ms": [round(x["first_audio_ms"], 1) for x in results["player"]],
            "bare_runs_ms": [round(x["first_audio_ms"], 1) for x in results["bare"]]}


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "chromium": chromium,
            "date": dt.date.today().isoformat()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="measurements of each page (alternating); medians reported")
    ap.add_argument("--profiles", default="desktop,mobile",
                    help="comma-separated: desktop (no throttling), mobile (1.6 Mbit/s down, 750 kbit/s up, 150 ms RTT)")
    ap.add_argument("--wav", type=Path, help="the song to release (default: bench/out/demo-190s.wav or 60 s of tones)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-player-"))
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    try:
        wait_port(redis_port)
        subprocess.run(["npm", "run", "build", "--silent"], cwd=ROOT / "player", check=True, capture_output=True)
        wav = args.wav or (ROOT / "bench" / "out" / "demo-190s.wav")
        if not wav.is_file():
            wav = make_wav(tmp / "tones.wav", 60)
        say(f"releasing {wav.name}")
        app, track = release(tmp, f"redis://127.0.0.1:{redis_port}/0", wav)
        mp3 = next(r for r in track["renditions"] if r["name"] == "mp3-v0")
        mp3_path = urlsplit(mp3["url"]).path  # same origin as the player's page
        bare_html = (f'<!doctype html><html><head><meta charset="utf-8"><title>bare</title></head>'
                     f'<body><audio src="{mp3_path}" autoplay controls></audio></body></html>')
        server, base = serve(app, bare_html)
        urls = {"bare": f"{base}/bench/bare", "player": f"{base}/embed/track/{track['id']}?autoplay=1&vis=" + os.environ.get("BENCH_VIS", "spectrum")}
        out: dict = {}
        with chromium() as browser:
            for profile in args.profiles.split(","):
                network = MOBILE if profile == "mobile" else None
                results: dict[str, list[dict]] = {"bare": [], "player": []}
                for name in ("bare", "player"):  # warm-up (server, OS caches), not counted
                    measure(browser, urls[name], network)
                for i in range(args.runs):
                    for name in (("bare", "player") if i % 2 == 0 else ("player", "bare")):
                        r = measure(browser, urls[name], network)
                        results[name].append(r)
                        say(f"{profile} run {i + 1} {name:6s}: first audio {r['first_audio_ms']:7.1f} ms, "
                            f"playing {r['playing_ms'] or 0:7.1f} ms, {r['bytes'] / 1024:8.1f} KiB, {r['requests']} requests"
                            + (f", {r['mode']} level {r['level']}" if r["mode"] else "")
                            + (", fast start" if r["fast_start"] else ""))
                figures = summarize(results)
                if profile == "mobile":
                    figures = {("mobile_" + k if k != "ratio" else "mobile_ratio"): v for k, v in figures.items()}
                    # what each page fetched before its first sound (the median run's list, by bytes)
                    for name in ("player", "bare"):
                        rs = sorted(results[name], key=lambda x: x["first_audio_ms"])
                        med_run = rs[len(rs) // 2]
                        figures[f"mobile_{name}_before_audio"] = {u.split("/")[-1].split("?")[0][:60]: n for u, n in
                                                                  sorted(med_run["per_url"].items(), key=lambda kv: -kv[1])}
                    figures["mobile_network"] = {"down_kbit_s": MOBILE["downloadThroughput"] * 8 / 1000,
                                                 "up_kbit_s": MOBILE["uploadThroughput"] * 8 / 1000,
                                                 "rtt_ms": MOBILE["latency"]}
                out.update(figures)
        server.shutdown()
        out.update({"runs": args.runs, "song_s": round(track["duration"], 1),
                    "bare_mp3": mp3["name"], "bundle_gzip_bytes": (ROOT / "player" / "dist" / "player.js.gz").stat().st_size,
                    "boot_gzip_bytes": (ROOT / "player" / "dist" / "boot.js.gz").stat().st_size,
                    "profiles": args.profiles.split(","), **machine()})
        print(json.dumps(out))
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
