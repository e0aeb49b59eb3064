"""Sample library bench: the library-backed sampler against the same SynthDef on plain file buffers.

Both sides render the same 10-minute part (about 2100 notes over 12 pitched samples, 24-bit mono
WAVs at 44.1 kHz) with the SuperColliderEngine (one scsynth non-realtime process, one worker) and
the same instrument: ``synthdef = "sh_sampler"`` naming the 12 samples by sha256. Only where the
engine finds the bytes differs:

* plain: a resolver that maps each sha256 to a WAV in a plain folder, named by path;
* library: the 12 samples are in the sample library (SQLite catalog, local object store, added
  before timing); each round the engine gets a fresh store resolver, which finds each sha256's
  object in the store (``samples/<ab>/<sha>/``) as the render does.

After one warm-up round of each, ``--rounds`` rounds run both back to back in alternating order;
``sampler_overhead`` is the median over rounds of library / plain - 1 (wall time), with its spread;
``sampler_cpu_ratio`` the same for CPU seconds (user + system, scsynth included). The two renders'
samples are compared (``sampler_identical_output``). ``sampler_resolve_ms`` [library, plain] times
the only step that differs, finding the 12 samples' bytes, on its own (median of 51). The last stdout line is one JSON object;
``bench/render.py`` can call :func:`figures`.

    .venv/bin/python bench/samples.py [--rounds 9] [--measures 300]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.config import Config  # noqa: E402
from companion.db import upgrade  # noqa: E402
from companion.samples import service as S  # noqa: E402
from companion.algorithms.instruments import load_instruments, parse_instrument  # noqa: E402
from companion.compositions.model import Composition, Event, Part  # noqa: E402
from companion.render.engines import SuperColliderEngine  # noqa: E402
from companion.samples.library import FileResolver, Memo, StoreResolver  # noqa: E402
from companion.services import Services  # noqa: E402

INSTRUMENT = "ivory-keys"
ROOTS = list(range(36, 96, 5))  # 12 samples


def make_samples(folder: Path) -> list[tuple[Path, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    n = np.arange(int(1.5 * 44100))
    for root in ROOTS:
        hz = 440.0 * 2 ** ((root - 69) / 12)
        x = 0.4 * (np.sin(2 * np.pi * hz * n / 44100) + 0.3 * np.sin(4 * np.pi * hz * n / 44100)) * np.exp(-n / 30000)
        p = folder / f"key-{root}.wav"
        sf.write(str(p), x, 44100, subtype="PCM_24")
        out.append((p, root))
    return out


def part(measures: int = 90, seed: int = 5) -> Composition:
    """A keys part of ``measures`` 4/4 measures at 120 bpm (2 s each): chords and runs."""
    from fractions import Fraction

    rnd = random.Random(seed)
    comp = Composition(title="sampler bench", measures=measures)
    comp.parts = [Part(id="keys", name="keys", instrument="sampler", kind="melody", channel=0, owner="ivory")]
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    for m in range(1, measures + 1):
        events, t = [], Fraction(0)
        while t < 1:
            step = rnd.choice((Fraction(1, 8), Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)))
            for _ in range(rnd.choice((1, 1, 2, 3))):
                k = rnd.randrange(36, 96)
                events.append(Event(onset=t, pitch=f"{names[k % 12]}{k // 12 - 1}", dur=min(step, 1 - t),
                                    vel=rnd.randrange(40, 120)))
            t += step
        comp.set_events("keys", m, events)
    return comp


def instrument(refs: list[tuple[str, str, int]]):
    """Ivory's keys file, playing the given (ref, sha256, root) samples through sh_sampler."""
    text = load_instruments()["ivory-keys"].source.replace('engine = "fluidsynth"', 'engine = "supercollider"')
    lines = ",\n  ".join(f'{{ sample = "{r}", version = 1, sha256 = "{sha}", root = {k}, low = {k - 2}, '
                         f'high = {k + 2} }}' for r, sha, k in refs)
    text = re.sub(r'synthdef = "sh_epiano"\nparams = .*\n', f'synthdef = "sh_sampler"\nsamples = [\n  {lines},\n]\n',
                  text)
    return parse_instrument(text, "bench-keys.toml")


def cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def timed(fn) -> tuple[float, float]:
    c0, t0 = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu() - c0


def figures(rounds: int = 9, measures: int = 300) -> dict:
    """Run the bench; the figures as a dict (sampler_overhead, sampler_cpu_ratio, ...)."""
    from companion.render.timeline import TempoMap

    with tempfile.TemporaryDirectory(prefix="bench-samples-") as tmp:
        tmp = Path(tmp)
        files = make_samples(tmp / "plain")
        cfg = Config(var_dir=tmp / "var")
        upgrade(cfg.database_url)
        svc = Services(cfg)
        actor = S.Actor("ivory", "leader")
        refs, plain_files = [], {}
        for p, r in files:
            res = S.add(svc, actor, INSTRUMENT, p, p.name, S.SampleMeta(licence="CC0-1.0", source="bench", root=r,
                                                                        low=r - 2, high=r + 2))
            ch = res["changes"][0]
            refs.append((ch["ref"], ch["sha256"], r))
            plain_files[ch["sha256"]] = p
        inst = instrument(refs)
        comp = part(measures)
        duration = TempoMap(comp).end(comp.measures) + 2.0
        notes = sum(1 for _, e in comp.all_events("keys") if e.kind == "note")
        out = tmp / "out"
        out.mkdir()

        def run(resolver, name):
            engine = SuperColliderEngine()
            engine.processes = 1
            engine.samples = resolver
            work = tmp / f"w-{name}"
            work.mkdir(exist_ok=True)
            engine.render_part(comp, "keys", inst, out / f"{name}.wav", work, duration)

        def plain():
            run(FileResolver(plain_files), "plain")

        def library():
            run(Memo(StoreResolver(svc.store, tmp / "dl")), "library")

        def resolve_all(make):
            resolver = make()
            for sha in plain_files:
                resolver.path(sha)

        # the only work that differs: finding the 12 samples' bytes (a fresh resolver each time)
        lookups = []
        for _ in range(51):
            t0 = time.perf_counter()
            resolve_all(lambda: Memo(StoreResolver(svc.store, tmp / "dl")))
            lookups.append(time.perf_counter() - t0)
        plain_lookups = []
        for _ in range(51):
            t0 = time.perf_counter()
            resolve_all(lambda: FileResolver(plain_files))
            plain_lookups.append(time.perf_counter() - t0)

        plain(), library()  # warm-up
        same = sf.read(str(out / "plain.wav"))[0].tobytes() == sf.read(str(out / "library.wav"))[0].tobytes()
        walls, cpus, p_s, l_s = [], [], [], []
        for i in range(rounds):
            order = (plain, library) if i % 2 == 0 else (library, plain)
            res = {fn: timed(fn) for fn in order}
            walls.append(res[library][0] / res[plain][0] - 1)
            cpus.append(res[library][1] / res[plain][1])
            p_s.append(res[plain][0])
            l_s.append(res[library][0])
        svc.close()
    return {"sampler_overhead": round(statistics.median(walls), 4),
            "sampler_overhead_spread": [round(min(walls), 4), round(max(walls), 4)],
            "sampler_cpu_ratio": round(statistics.median(cpus), 4),
            "sampler_plain_s": round(statistics.median(p_s), 4), "sampler_library_s": round(statistics.median(l_s), 4),
            "sampler_resolve_ms": [round(1000 * statistics.median(lookups), 3),
                                   round(1000 * statistics.median(plain_lookups), 3)],
            "sampler_notes": notes, "sampler_seconds": round(duration, 2), "sampler_identical_output": same,
            "rounds": rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--measures", type=int, default=300, help="length of the part (2 s a measure)")
    args = ap.parse_args()
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
          file=sys.stderr)
    res = figures(args.rounds, args.measures)
    print(f"plain {res['sampler_plain_s']} s, library {res['sampler_library_s']} s, overhead "
          f"{res['sampler_overhead']} (spread {res['sampler_overhead_spread']}), CPU ratio {res['sampler_cpu_ratio']}, "
          f"identical output: {res['sampler_identical_output']}", file=sys.stderr)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
