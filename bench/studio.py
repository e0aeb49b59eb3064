"""Bench: the members' studio in headless Chromium, each figure beside its anchor in the same run.

    .venv/bin/python bench/studio.py            # 3 runs of each page load, 5 edits, 5 commits
    .venv/bin/python bench/studio.py --runs 5

The piece is bench/compositions.py's (4 parts x 200 measures of eighth notes, 6,400 notes, 400 s at
120 bpm), imported into a fresh companion (SQLite, a private redis-server) served on a free port.
One Chromium (Debian's, via Playwright) measures, each page load in a fresh browser context:

  * ready_ms: navigation start -> the studio editable with the roll and the score drawn (its
    ``data-state=ready``, set after the first paint of both; the score shows the 8-measure window
    around the current measure, the roll the whole part);
  * anchor_ms: navigation start -> OpenSheetMusicDisplay alone (same version, same options) has
    rendered the same MusicXML on a bare page, fetched from the same server; ready_ratio =
    ready_ms / anchor_ms. Both fetch the export cached per commit (the first, cold export is timed
    apart as cold_musicxml_ms);
  * edit_to_sound_ms: a note added in the roll (the working copy, the roll redrawn) while the loop
    plays (all parts muted) -> its sound reaches the output: the studio's level detector on the audio
    thread (Audio.heard: an AudioWorkletProcessor fed by the synth, armed before the edit) reports the
    first render quantum over -40 dBFS RMS, with its context time mapped to the page's clock through
    getOutputTimestamp (so the output latency is counted). Beside it, edit_seen_ms: the same edit seen
    by an AnalyserNode polled from the page's main thread on every task turn (the figure earlier runs
    reported; it waits for the page to be free, which a redraw of the roll delays);
  * wasm_realtime_factor: seconds of audio the WASM FluidSynth (js-synthesizer) renders per second,
    the piece's MIDI export with the studio's SoundFont (the render engine's presets), no audio device;
  * native_realtime_factor: the fluidsynth command (-F, fast render) on the same MIDI and SoundFont;
    wasm_vs_native = wasm / native (the native figure includes its SoundFont load, a few ms here);
  * commit_ms: a note edit -> the commit API has answered (through the studio's own commit()).

Medians over the runs. CPU seconds of this process (the companion's threads) and of its children
(Playwright's driver and Chromium, fluidsynth) are printed beside wall time. Progress goes to stderr;
the last line of stdout is one JSON object with the figures.
Goals: ready_ms <= 1500, ready_ratio <= 1.0, edit_to_sound_ms <= 50, wasm_realtime_factor >= 20,
wasm_vs_native >= 0.3, commit_ms < 150.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.net import free_port, wait_port  # noqa: E402

from tests.browser import chromium  # noqa: E402  (the browser fixture, written once)

STUDIO = ROOT / "studio"
OUT = ROOT / "bench" / "out" / "studio"
COMP = "bench-studio"

ANCHOR_JS = """
import { OpenSheetMusicDisplay } from 'opensheetmusicdisplay';
const osmd = new OpenSheetMusicDisplay(document.getElementById('score'), {
  autoResize: false, backend: 'svg', drawTitle: false, drawSubtitle: false, drawComposer: false,
  drawPartNames: true, drawingParameters: 'compacttight', followCursor: false,
  autoGenerateMultipleRestMeasuresFromRestMeasures: false,
});
fetch('/bench/score.musicxml').then((r) => r.text()).then((x) => osmd.load(x)).then(() => {
  osmd.render();
  window.__done = performance.now();
});
"""
ANCHOR_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>OSMD alone</title></head>
<body><div id="score"></div><script src="/bench/anchor.js"></script></body></html>"""


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def build() -> None:
    """The studio bundle (npm run build) and the anchor's: OSMD alone, bundled by the same esbuild."""
    if not (STUDIO / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=STUDIO, check=True)
    subprocess.run(["npm", "run", "build", "--silent"], cwd=STUDIO, check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "anchor-src.js").write_text(ANCHOR_JS)
    subprocess.run([str(STUDIO / "node_modules" / ".bin" / "esbuild"), str(OUT / "anchor-src.js"), "--bundle",
                    "--format=iife", "--minify", "--log-level=warning", f"--outfile={OUT / 'anchor.js'}",
                    "--define:process.env.NODE_ENV=\"production\""],
                   check=True, env={**os.environ, "NODE_PATH": str(STUDIO / "node_modules")})


def companion(tmp: Path, redis_url: str):
    from companion import create_app
    from companion.band.service import seed_members
    from companion.band.tokens import create_token
    from companion.compositions import service as S
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store
    from companion.config import Config
    from companion.db import upgrade
    from jobs import context
    from bench.compositions import build_midi

    config = Config(var_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'bench.db'}", redis_url=redis_url,
                    queue_name="bench-studio", job_retries=0)
    upgrade(config.database_url)
    context.configure(config)
    svc = context.services()
    with svc.db.session() as s:
        seed_members(s, svc.band)
        _, token = create_token(s, role="member", member_id="ivory", label="bench")
    store = Store(config.compositions_dir)
    t0 = time.perf_counter()
    S.import_file(store, svc.band, member_actor(svc.band, "ivory"), build_midi(), "midi", "bench.mid",
                  comp_id=COMP, title="Bench Studio")
    say(f"imported the 4 x 200 piece in {time.perf_counter() - t0:.2f} s")
    return create_app(config), token


def serve(app, score: bytes):
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    anchor_js = (OUT / "anchor.js").read_bytes()
    statics = {"/bench/anchor.html": (ANCHOR_HTML.encode(), "text/html; charset=utf-8"),
               "/bench/anchor.js": (anchor_js, "application/javascript"),
               "/bench/score.musicxml": (score, "application/vnd.recordare.musicxml+xml")}

    def wsgi(environ, start_response):
        hit = statics.get(environ.get("PATH_INFO"))
        if hit:
            start_response("200 OK", [("Content-Type", hit[1]), ("Content-Length", str(len(hit[0]))),
                                      ("Cache-Control", "no-store")])
            return [hit[0]]
        return app(environ, start_response)

    port = free_port()
    server = make_server("127.0.0.1", port, wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def children_cpu() -> float:
    """CPU seconds of this process's children: those still running (psutil) and those reaped (os.times)."""
    import psutil

    t = os.times()
    total = t.children_user + t.children_system
    for c in psutil.Process().children(recursive=True):
        try:
            ct = c.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:
            pass
    return total


def measure(url: str, token: str, runs: int, sf: bytes, midi: bytes) -> dict:
    out: dict = {"ready": [], "anchor": [], "edit": [], "edit_polled": [], "commit": []}
    with chromium() as browser:
        for i in range(runs + 1):  # the first pair warms Chromium's caches of the OS files; not counted
            for kind in ("anchor", "studio"):
                ctx = browser.new_context(viewport={"width": 1024, "height": 800})
                page = ctx.new_page()
                if kind == "anchor":
                    page.goto(f"{url}/bench/anchor.html")
                    page.wait_for_function("window.__done !== undefined", timeout=120000)
                    ms = page.evaluate("window.__done")
                    n = page.evaluate("document.querySelectorAll('#score svg g.vf-stavenote').length")
                else:
                    page.goto(f"{url}/studio/{COMP}#token={token}")
                    page.wait_for_function("document.getElementById('studio').dataset.state === 'ready'",
                                           timeout=120000)
                    ms = page.evaluate("studio.times.ready")
                    n = page.evaluate("document.querySelectorAll('#roll rect.note[data-id]').length")
                if i:
                    out["ready" if kind == "studio" else "anchor"].append(ms)
                say(f"  run {i} {kind}: {ms:.0f} ms ({n} notes drawn){'' if i else ' (warm-up)'}")
                ctx.close()
        # edits heard, commits, and the WASM synth's speed: one studio page
        ctx = browser.new_context(viewport={"width": 1024, "height": 800})
        page = ctx.new_page()
        page.goto(f"{url}/studio/{COMP}#token={token}")
        page.wait_for_function("document.getElementById('studio').dataset.state === 'ready'", timeout=120000)
        page.wait_for_function("studio.audio.synth !== undefined", timeout=60000)
        page.evaluate("""(async () => {
            for (const p of studio.model.parts) studio.audio.mute.add(p.id);
            studio.select(100); await studio.audio.play(); })()""")
        for i in range(5):
            page.wait_for_function("studio.audio.listen().rms < 0.001", timeout=20000)
            r = page.evaluate("""(async () => {
                const part = studio.roll.part; const t = studio.work.measureStart(100) + 0.5;
                const sound = (await studio.audio.heard(0.01, 5000)).at;  // armed: listening on the audio thread
                const seen = new Promise((resolve) => {
                  const ch = new MessageChannel();
                  const t0 = performance.now();
                  ch.port1.onmessage = () => {
                    if (studio.audio.listen().rms > 0.01) resolve(performance.now() - t0);
                    else if (performance.now() - t0 > 5000) resolve(null);
                    else ch.port2.postMessage(0);
                  };
                  ch.port2.postMessage(0);
                });
                const t0 = performance.now();
                studio.run(() => studio.work.addNote(part, t, 69 + %d, 1, 110));
                const [at, polled] = await Promise.all([sound, seen]);
                studio.work.undo();
                return {sound: at == null ? null : at - t0, polled};
            })()""" % i)
            say(f"  edit {i}: sound at the output after {r['sound']} ms (seen by a main-thread poll after {r['polled']} ms)")
            out["edit"].append(r["sound"])
            out["edit_polled"].append(r["polled"])
        page.evaluate("studio.audio.stop()")
        for i in range(5):
            ms = page.evaluate("""(async () => {
                const part = studio.roll.part;
                document.getElementById('message').value = 'bench edit %d';
                const t0 = performance.now();
                studio.run(() => studio.work.addNote(part, studio.work.measureStart(150) + %d * 0.5, 72, 0.5, 90));
                const r = await studio.commit();
                return r ? studio.times.committedAt - t0 : null;
            })()""" % (i, i))
            say(f"  commit {i}: {ms:.1f} ms")
            out["commit"].append(ms)
        # the WASM synth rendering the piece (the page's JSSynth, no audio device)
        page.evaluate("window.__smf = null")
        r = page.evaluate("""(async ([smfUrl, sfUrl]) => {
            const [smf, sf] = await Promise.all([smfUrl, sfUrl].map((u) => fetch(u, {headers: studio.api.headers()})
                .then((r) => r.arrayBuffer())));
            return StudioAudio.renderOffline(smf, sf);
        })""", [f"/api/compositions/{COMP}/export?rev=main&format=midi", f"/api/studio/{COMP}/soundfont.sf2?rev=main"])
        out["wasm"] = r
        say(f"  WASM synth: {r['seconds']:.1f} s of audio in {r['wallMs']:.0f} ms (peak {r['peak']:.3f})")
        ctx.close()
    return out


def native(sf: bytes, midi: bytes, tmp: Path) -> dict:
    (tmp / "bench.sf2").write_bytes(sf)
    (tmp / "bench.mid").write_bytes(midi)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise SystemExit("fluidsynth is not installed (scripts/setup.sh)")
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([exe, "-ni", "-q", "-F", str(tmp / "native.wav"), "-r", "44100", str(tmp / "bench.sf2"),
                        str(tmp / "bench.mid")], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    info = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                           str(tmp / "native.wav")], capture_output=True, text=True, check=True)
    return {"seconds": float(info.stdout.strip()), "wall_s": statistics.median(walls)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import psutil

    wall0, cpu0, kids0 = time.perf_counter(), time.process_time(), children_cpu()
    build()
    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    port = free_port()
    redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                              "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                             stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        app, token = companion(tmp, f"redis://127.0.0.1:{port}/0")
        client = app.test_client()
        h = {"Authorization": f"Bearer {token}"}
        t0 = time.perf_counter()
        r = client.get(f"/api/studio/{COMP}/musicxml?rev=main", headers=h)
        cold = (time.perf_counter() - t0) * 1000
        score = r.data
        say(f"cold MusicXML export: {cold:.0f} ms, {len(score) / 1e6:.2f} MB")
        sf = client.get(f"/api/studio/{COMP}/soundfont.sf2?rev=main", headers=h).data
        midi = client.get(f"/api/compositions/{COMP}/export?rev=main&format=midi", headers=h).data
        server, url = serve(app, score)
        try:
            got = measure(url, token, args.runs, sf, midi)
        finally:
            server.shutdown()
        nat = native(sf, midi, tmp)
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    wasm_rt = got["wasm"]["seconds"] / (got["wasm"]["wallMs"] / 1000)
    native_rt = nat["seconds"] / nat["wall_s"]
    ready, anchor = statistics.median(got["ready"]), statistics.median(got["anchor"])
    edits = [e for e in got["edit"] if e is not None]
    result = {
        "ready_ms": round(ready, 1), "anchor_ms": round(anchor, 1), "ready_ratio": round(ready / anchor, 3),
        "edit_to_sound_ms": round(statistics.median(edits), 1) if edits else None,
        "edits_heard": f"{len(edits)}/{len(got['edit'])}",
        "edit_seen_ms": (round(statistics.median([e for e in got["edit_polled"] if e is not None]), 1)
                         if any(e is not None for e in got["edit_polled"]) else None),
        "wasm_realtime_factor": round(wasm_rt, 1), "native_realtime_factor": round(native_rt, 1),
        "wasm_vs_native": round(wasm_rt / native_rt, 3),
        "commit_ms": round(statistics.median(got["commit"]), 1),
        "cold_musicxml_ms": round(cold, 1), "musicxml_bytes": len(score), "soundfont_bytes": len(sf),
        "audio_s": round(got["wasm"]["seconds"], 1), "runs": args.runs,
        "cpu_s": round(time.process_time() - cpu0, 2), "children_cpu_s": round(children_cpu() - kids0, 2),
        "wall_s": round(time.perf_counter() - wall0, 1), "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
        "date": dt.date.today().isoformat(), "psutil": psutil.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
