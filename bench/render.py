"""Rendering bench: the companion's renderer against the bare tools, and the quick preview.

A generated 4-part piece (keys, guitar, bass, drums) of 3 minutes or more is rendered
1. with FluidSynth through the companion (a stem per part, then the mixdown: gain, pan, reverb
   bus, limiter, loudness normalisation) and bare: ``fluidsynth -ni -F`` on the exported MIDI;
2. with SuperCollider through the companion (same) and bare: ``supriya.render`` of one score
   holding the same synths;
3. the quick preview of a changed piece: one note changed, then the time from the request to
   the first HLS segment in the object store.
After one warm-up round of each (not counted: page cache, imports), ``--rounds`` rounds each run
ours and bare back to back, in alternating order; the overhead is the median over rounds of
ours / bare - 1 within the round (paired, so load that drifts over the run hits both sides), with
its spread; the best-of figures are printed too. The last stdout line is one JSON object:
fluidsynth_overhead, supercollider_overhead, first_segment_s and the figures. Informational:
``fluidsynth_bare_nofx_s``, the bare CLI with its own reverb and chorus off (as ours runs it), and
``*_cpu_s`` [ours, bare]: median CPU seconds (user + system, children included). Ours overlaps
the mixdown with the engines on the second core; on a machine with no idle core the wall-time
ratio tends to the CPU ratio.

    .venv/bin/python bench/render.py [--measures 80] [--rounds 7]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.algorithms.base import Params  # noqa: E402
from companion.algorithms.generate import compose  # noqa: E402
from companion.algorithms.instruments import by_part, load_instruments  # noqa: E402
from companion.compositions.midi import write_midi  # noqa: E402
from companion.compositions.model import Composition  # noqa: E402
from companion.config import Config  # noqa: E402
from companion.render.engines import DEFAULT_SOUNDFONT, SuperColliderEngine  # noqa: E402
from companion.render.preview import quick_preview  # noqa: E402
from companion.render.service import RenderSettings, render_composition  # noqa: E402
from companion.render.timeline import TempoMap, part_notes  # noqa: E402
from companion.storage import open_store  # noqa: E402

PARTS = ("keys", "guitar", "bass", "drums")


def four_part_piece(measures: int, seed: int) -> Composition:
    full = compose(None, seed, Params(tempo=104), measures=measures, members=["chops", "crash", "ivory", "form"])
    comp = Composition(title="Bench piece", measures=full.measures, global_events=list(full.global_events))
    comp.parts = [p for p in full.parts if p.id in PARTS]
    for p in comp.parts:
        for m in range(1, full.measures + 1):
            comp.set_events(p.id, m, full.events(p.id, m))
    return comp


def bare_fluidsynth(comp: Composition, work: Path, fx: bool = True) -> float:
    midi = work / "bare.mid"
    midi.write_bytes(write_midi(comp))
    t = time.perf_counter()
    subprocess.run(["fluidsynth", "-ni", "-q"] + ([] if fx else ["-R", "0", "-C", "0"]) +
                   ["-F", str(work / "bare-fs.wav"), "-r", "44100", DEFAULT_SOUNDFONT, str(midi)],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def bare_supercollider(comp: Composition, work: Path) -> float:
    """The same synths in one score, rendered by supriya (score building counted, as ours does)."""
    import supriya
    from companion.render.synthdefs import midi_to_hz, synthdef_for

    t = time.perf_counter()
    insts = by_part(load_instruments())
    tm = TempoMap(comp)
    duration = tm.end(comp.measures) + 2.0
    score = supriya.Score(output_bus_channel_count=2)
    defs = {p: synthdef_for(insts[p]) for p in PARTS}
    with score.at(0):
        score.add_synthdefs(*defs.values())
    for p in PARTS:
        for i, n in enumerate(part_notes(comp, p, tm)):
            with score.at(n.start):
                score.add_synth(defs[p], frequency=float(n.midi) if insts[p].percussion else midi_to_hz(n.midi),
                                amplitude=0.6 * (n.velocity / 127) ** 1.6, sustain=n.duration, seed=float(i))
    supriya.render(score, output_file_path=str(work / "bare-sc.wav"), header_format="WAV", duration=duration,
                   render_directory_path=str(work))
    return time.perf_counter() - t


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (engines, forked renderers), user + system."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def timed_cpu(cpu: list, fn, *args):
    c = cpu_seconds()
    out = fn(*args)
    cpu.append(cpu_seconds() - c)
    return out


def ours(comp: Composition, work: Path, engine: str, workers: int) -> tuple[float, dict]:
    out = work / f"ours-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    t = time.perf_counter()
    res = render_composition(comp, out, RenderSettings(engine=engine), workers=workers)
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measures", type=int, default=80)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        load_start = round(os.getloadavg()[0], 2)
        comp = four_part_piece(args.measures, args.seed)
        seconds = TempoMap(comp).end(comp.measures)
        notes = sum(1 for p in PARTS for _, e in comp.all_events(p) if e.kind == "note")
        fig: dict = {"fs_ours": [], "fs_bare": [], "sc_ours": [], "sc_bare": [], "fs_bare_nofx": []}
        cpu: dict = {k: [] for k in ("fs_ours", "fs_bare", "sc_ours", "sc_bare")}
        info = {}
        ours(comp, work, "fluidsynth", args.workers)  # warm-up, not counted
        bare_fluidsynth(comp, work)
        ours(comp, work, "supercollider", args.workers)
        bare_supercollider(comp, work)
        for r in range(args.rounds):
            for eng, key, bare in (("fluidsynth", "fs", bare_fluidsynth), ("supercollider", "sc", bare_supercollider)):
                if r % 2:
                    fig[f"{key}_bare"].append(timed_cpu(cpu[f"{key}_bare"], bare, comp, work))
                t, res = timed_cpu(cpu[f"{key}_ours"], ours, comp, work, eng, args.workers)
                fig[f"{key}_ours"].append(t)
                info[key] = res
                if not r % 2:
                    fig[f"{key}_bare"].append(timed_cpu(cpu[f"{key}_bare"], bare, comp, work))
            fig["fs_bare_nofx"].append(bare_fluidsynth(comp, work, fx=False))
        best = {k: min(v) for k, v in fig.items()}
        med = {k: statistics.median(v) for k, v in fig.items()}
        ratio = {k: [o / b - 1 for o, b in zip(fig[f"{k}_ours"], fig[f"{k}_bare"])] for k in ("fs", "sc")}
        # the quick preview of a changed piece: render and segment the opening, first segment first
        store = open_store(Config(var_dir=work / "var"))
        files = comp.to_files()
        quick_preview(store, files, work / "var" / "work", seconds=8)  # warm: the unchanged piece
        changed = Composition.from_files(files)
        evs = changed.events("keys", 5) or changed.events("bass", 5)
        pid = "keys" if changed.events("keys", 5) else "bass"
        changed.set_events(pid, 5, [dataclasses.replace(evs[0], vel=max(1, evs[0].vel - 9))] + evs[1:])
        t = time.perf_counter()
        prev = quick_preview(store, changed.to_files(), work / "var" / "work", seconds=8)
        first = prev["first_segment_s"]
        result = {
            "fluidsynth_overhead": round(statistics.median(ratio["fs"]), 3),
            "supercollider_overhead": round(statistics.median(ratio["sc"]), 3),
            "first_segment_s": round(first, 3),
            "fluidsynth_overhead_spread": [round(min(ratio["fs"]), 3), round(max(ratio["fs"]), 3)],
            "supercollider_overhead_spread": [round(min(ratio["sc"]), 3), round(max(ratio["sc"]), 3)],
            "fluidsynth_overhead_best_of": round(best["fs_ours"] / best["fs_bare"] - 1, 3),
            "supercollider_overhead_best_of": round(best["sc_ours"] / best["sc_bare"] - 1, 3),
            "fluidsynth_ours_s": round(med["fs_ours"], 3), "fluidsynth_bare_s": round(med["fs_bare"], 3),
            "supercollider_ours_s": round(med["sc_ours"], 3), "supercollider_bare_s": round(med["sc_bare"], 3),
            "fluidsynth_bare_nofx_s": round(med["fs_bare_nofx"], 3),
            "fluidsynth_overhead_vs_nofx": round(statistics.median(
                [o / b - 1 for o, b in zip(fig["fs_ours"], fig["fs_bare_nofx"])]), 3),
            "fluidsynth_cpu_s": [round(statistics.median(cpu["fs_ours"]), 3), round(statistics.median(cpu["fs_bare"]), 3)],
            "supercollider_cpu_s": [round(statistics.median(cpu["sc_ours"]), 3),
                                    round(statistics.median(cpu["sc_bare"]), 3)],
            "fs_stems_s": info["fs"]["timings"]["stems_s"], "sc_stems_s": info["sc"]["timings"]["stems_s"],
            "preview_total_s": round(time.perf_counter() - t, 3), "preview_measures": prev["measures"],
            "piece_s": round(seconds, 1), "parts": len(PARTS), "notes": notes, "measures": comp.measures,
            "loudness_lufs": info["fs"]["mix"]["loudness_lufs"], "limiter_db": info["fs"]["mix"]["limiter_db"],
            "rounds": args.rounds, "workers": args.workers,
            "load_1m_start": load_start,
            "nproc": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
            "engines": {"fluidsynth": subprocess.run(["fluidsynth", "--version"], capture_output=True,
                                                     text=True).stdout.split("\n")[0],
                        "supercollider": SuperColliderEngine().version()},
        }
        print(f"piece: {seconds:.1f} s, {len(PARTS)} parts, {notes} notes")
        for k, v in fig.items():
            print(f"{k:12s} median {statistics.median(v):.3f}  " + " ".join(f"{x:.3f}" for x in v))
        for k, v in ratio.items():
            print(f"{k}_overhead median {statistics.median(v):.3f}  " + " ".join(f"{x:.3f}" for x in v))
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
