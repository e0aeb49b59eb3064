"""Rendering bench: the companion's renderer against the bare tools doing the same work, and the
quick preview of a changed piece.

A generated 4-part piece (keys, guitar, bass, drums) of 3 minutes or more is rendered by each engine,
ours and bare, with equal work: both sides take the same notes through the same synth with the same
settings and write the audio they make to files.

* Ours: the stem stage of the renderer (``companion.render.service.render_stems``, the code every
  render runs): the engine renders the parts, and a stem WAV per part is written. The mixdown that
  follows it in a render (gain, pan, Form's automation, the convolution reverb bus, loudness measured
  by ffmpeg's ebur128, the look-ahead limiter, a 24-bit WAV) is work the bare tools do not do, so it
  is not in the ratio: it is timed on its own (``mix``: one whole render per engine after the rounds,
  its ``total_s - stems_s``). Earlier versions of this bench put it in ours, which made ours do about
  twice the bare tool's work.
* FluidSynth, bare: ``fluidsynth -ni -q -R 0 -C 0 -o synth.dynamic-sample-loading=1
  -o synth.lock-memory=0 -g 0.5 -r 44100 -F out.wav FluidR3_GM.sf2 part.mid`` on the MIDI our engine
  plays (notes only): no reverb or chorus, samples loaded as needed and not locked in memory, as ours;
  the same gain and rate. The MIDI file is written by the same code on both sides, inside the timing
  (both sides start from the composition). The bare program's file renderer writes one stereo file
  per run, so to make the same output as ours (a stem per part) it runs once per part, the parts of a
  process slot one after the other. The anchor of earlier runs, one run writing the mix of all parts
  (less output than ours), is kept beside it as the pairing ``fluidsynth_1proc_onemix``, not in the
  headline.
* SuperCollider, bare: ``supriya.render`` of one score per process of the same synths with the same
  controls, each part on an output bus of its own as ours: scsynth writes the same channels (the
  stems) into one multichannel 24-bit WAV, and one ``ffmpeg`` run (a pure channel map) splits it into a
  mono 24-bit WAV per part: the same files as ours, whose SuperCollider stems are mono 24-bit WAVs
  (score building counted on both sides). Earlier runs stopped at the multichannel file (less output
  than ours, which wrote stereo stems then); ``stems_match`` checks after the warm-up that both sides'
  stems are files of the same shape whose samples differ by at most one 24-bit step (scsynth's rounding).
* The same number of processes on both sides, in two pairings: ours with one worker against the bare
  tool as one process ("1proc"), and ours with two workers against the bare tool run as two processes
  at once over the same split of the parts (the engine's own ``Engine.split``: "2proc").

After one warm-up round of each (not counted: page cache, imports), ``--rounds`` rounds each run every
pairing ours and bare back to back, in alternating order. Per pairing: the overhead is the median over
rounds of ours / bare - 1 within the round (paired, so load that drifts hits both sides), with its
spread; the CPU ratio is the median over rounds of ours' CPU seconds / bare's (user + system of this
process and of its children: forked renderers, fluidsynth, scsynth). The headline figures are the
worse of the two pairings. Beside each pairing: the CPU that writing ours' stem files took (this
process's thread time around the writes) and the CPU ratio without it, the part of the difference
that is the extra output, not extra work for the same output. The 1-minute load average is printed at the start and after each round.

Instruction counts (valgrind's callgrind, which would not move with the load) were tried: under
callgrind, building the piece and importing the renderer alone took 425 s here, so the bench keeps to
CPU seconds, and the profile of our own Python work is in bench/RESULTS.md.

first_segment_s: the quick preview of a changed piece, measured first in the process, before any
render of the piece: one note's pitch in measure 2 (inside the 8 s the preview renders) is changed,
then the time from the request to the first HLS segment in a fresh object store.

sampler_overhead (issue 10): the library-backed sampler against the same SynthDef reading plain file
buffers, measured by bench/samples.py (its figures join this line: ``sampler_figures`` below).

The last stdout line is one JSON object: fluidsynth_overhead, supercollider_overhead,
fluidsynth_cpu_ratio, supercollider_cpu_ratio, first_segment_s, sampler_overhead and the details.

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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.algorithms.base import Params  # noqa: E402
from companion.algorithms.generate import compose  # noqa: E402
from companion.algorithms.instruments import by_part, load_instruments  # noqa: E402
from companion.compositions.midi import write_midi  # noqa: E402
from companion.compositions.model import Composition, midi_to_pitch  # noqa: E402
from companion.config import Config  # noqa: E402
from companion.render.engines import DEFAULT_SOUNDFONT, FluidSynthEngine, PartJob, SuperColliderEngine  # noqa: E402
from companion.render.engines.slicing import ensemble_composition  # noqa: E402
from companion.render.engines.supercollider import voice_for  # noqa: E402
from companion.render.preview import quick_preview  # noqa: E402
from companion.render.service import RenderSettings, render_composition, render_stems  # noqa: E402
from companion.render.timeline import TempoMap, part_notes  # noqa: E402
from companion.storage import open_store  # noqa: E402

PARTS = ("keys", "guitar", "bass", "drums")
TAIL = 2.0  # RenderSettings().tail_seconds: both sides render the same length


def four_part_piece(measures: int, seed: int) -> Composition:
    full = compose(None, seed, Params(tempo=104), measures=measures, members=["chops", "crash", "ivory", "form"])
    comp = Composition(title="Bench piece", measures=full.measures, global_events=list(full.global_events))
    comp.parts = [p for p in full.parts if p.id in PARTS]
    for p in comp.parts:
        for m in range(1, full.measures + 1):
            comp.set_events(p.id, m, full.events(p.id, m))
    return comp


def part_jobs(comp: Composition) -> list[PartJob]:
    insts = by_part(load_instruments())
    return [PartJob(p.id, insts[p.id]) for p in comp.parts]


# --------------------------------------------------------------------------- the bare tools

def at_once(fn, groups: list[list[PartJob]], errors: list) -> None:
    """``fn(i, group)`` for every group at once (a thread each: the bare tools run as one process per
    group); the first error any of them recorded in ``errors`` is raised."""
    threads = [threading.Thread(target=fn, args=(i, g)) for i, g in enumerate(groups)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def bare_fluidsynth(comp: Composition, work: Path, groups: list[list[PartJob]], stems: bool = True) -> None:
    """``fluidsynth`` per group (the groups at once), on the MIDI our engine plays for them. With ``stems``
    (the headline anchor) each part of a group is its own run and its own WAV, one after the other in
    the group's process slot: the same output as ours (a stem per part). Without, one run per group
    writes the mix of its parts (the anchor of earlier runs: less output than ours)."""
    eng = FluidSynthEngine()
    errors = []

    def run(name: str, jobs: list[PartJob]) -> None:
        midi = work / f"bare-{name}.mid"
        midi.write_bytes(write_midi(ensemble_composition(comp, [(j.part, eng.program_for(j.instrument))
                                                                for j in jobs])))
        rc = subprocess.run(
            ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-o", "synth.dynamic-sample-loading=1",
             "-o", "synth.lock-memory=0", "-g", str(eng.gain), "-r", "44100", "-F", str(work / f"bare-fs-{name}.wav"),
             DEFAULT_SOUNDFONT, str(midi)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL).returncode
        if rc != 0:
            errors.append(RuntimeError(f"bare fluidsynth failed ({rc})"))

    def group_run(i: int, group: list[PartJob]) -> None:
        if stems:
            for j in group:
                run(f"{i}-{j.part}", [j])
        else:
            run(str(i), group)
    at_once(group_run, groups, errors)


def bare_fluidsynth_mix(comp: Composition, work: Path, groups: list[list[PartJob]]) -> None:
    bare_fluidsynth(comp, work, groups, stems=False)


def split_channels(multi: Path, stems: list[Path]) -> list[str]:
    """One ffmpeg run writing channel i of ``multi`` to ``stems[i]`` as a mono 24-bit WAV (the samples
    unchanged: a pure channel map, no mixing)."""
    n = len(stems)
    graph = f"[0:a]asplit={n}" + "".join(f"[a{i}]" for i in range(n)) + ";" + ";".join(
        f"[a{i}]pan=mono|c0=c{i}[o{i}]" for i in range(n))
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(multi), "-filter_complex", graph]
    for i, out in enumerate(stems):
        cmd += ["-map", f"[o{i}]", "-c:a", "pcm_s24le", str(out)]
    return cmd


def bare_supercollider(comp: Composition, work: Path, groups: list[list[PartJob]]) -> None:
    """``supriya.render`` of one score per group (the groups at once), the same synths and controls, each
    part on an output bus of its own (the right side, always the centre's copy, on a bus nobody reads):
    scsynth writes the parts' channels into one multichannel 24-bit WAV, then one ``ffmpeg`` run per group
    writes each channel to a mono 24-bit WAV of its own (a one-part group's file already is its stem):
    the same files as ours, a mono 24-bit stem per part."""
    import supriya

    tm = TempoMap(comp)
    duration = tm.end(comp.measures) + TAIL
    errors = []

    def one(i: int, group: list[PartJob]) -> None:
        try:
            score = supriya.Score(output_bus_channel_count=len(group))
            private = score.options.first_private_bus_id
            voices = {j.part: voice_for(j.instrument) for j in group}
            with score.at(0):
                score.add_synthdefs(*{v.synthdef.name: v.synthdef for v in voices.values()}.values())
            for bus, j in enumerate(group):
                for k, n in enumerate(part_notes(comp, j.part, tm)):
                    with score.at(n.start):
                        score.add_synth(voices[j.part].synthdef, **voices[j.part].note_controls(n, k),
                                        out=float(bus), out_right=float(private))
            out = work / f"sc-{i}"
            out.mkdir(exist_ok=True)
            multi = out / "bare-sc.wav"
            supriya.render(score, output_file_path=str(multi), header_format="WAV", duration=duration,
                           render_directory_path=str(out))
            stems = [out / f"bare-{j.part}.wav" for j in group]
            if len(group) == 1:
                multi.replace(stems[0])
            else:
                subprocess.run(split_channels(multi, stems), check=True, stdin=subprocess.DEVNULL)
        except BaseException as exc:  # noqa: BLE001 - raised by at_once
            errors.append(exc)
    at_once(one, groups, errors)


def stems_match(work: Path, groups: list[list[PartJob]]) -> dict:
    """After a SuperCollider pairing ran both sides: ours' and bare's stem of each part, as files (channels,
    frames, sample format) and as samples (the largest difference, in 24-bit steps)."""
    import numpy as np
    import soundfile

    out = {}
    for i, group in enumerate(groups):
        for j in group:
            a, b = work / "ours-supercollider" / "stems" / f"{j.part}.wav", work / f"sc-{i}" / f"bare-{j.part}.wav"
            ia, ib = soundfile.info(str(a)), soundfile.info(str(b))
            same = (ia.channels, ia.subtype, ia.samplerate) == (ib.channels, ib.subtype, ib.samplerate)
            xa, _ = soundfile.read(str(a), dtype="int32")
            xb, _ = soundfile.read(str(b), dtype="int32")
            k = min(len(xa), len(xb))
            steps = int(np.abs((xa[:k] >> 8).astype(np.int64) - (xb[:k] >> 8)).max()) if k else None
            out[j.part] = {"ours": [ia.channels, ia.frames, ia.subtype], "bare": [ib.channels, ib.frames, ib.subtype],
                           "same_format": same, "max_step_diff": steps}
    return out


def ours(comp: Composition, work: Path, engine: str, workers: int):
    """The stem stage of a render: the engine's stems written as WAVs (what the bare tools do too)."""
    out = work / f"ours-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    return render_stems(comp, out, RenderSettings(engine=engine, tail_seconds=TAIL), workers=workers)


def whole_render(comp: Composition, work: Path, engine: str, workers: int) -> dict:
    """A whole render (stems and the mixdown): the mixdown's own cost, beside the ratio."""
    out = work / f"whole-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    wall, cpu, res = timed(render_composition, comp, out, RenderSettings(engine=engine, tail_seconds=TAIL), None,
                           workers)
    return {"total_s": round(wall, 3), "cpu_s": round(cpu, 3), "stems_s": res["timings"]["stems_s"],
            "mix_s": round(res["timings"]["total_s"] - res["timings"]["stems_s"], 3),
            "loudness_lufs": res["mix"]["loudness_lufs"], "limiter_db": res["mix"]["limiter_db"]}


# --------------------------------------------------------------------------- measuring

def cpu_seconds() -> float:
    """CPU time of this process and its finished children (engines, forked renderers, ffmpeg), user + system."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def timed(fn, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of ``fn(*args)``."""
    c, t = cpu_seconds(), time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, cpu_seconds() - c, out


def edited(comp: Composition) -> tuple[Composition, dict]:
    """``comp`` with one note changed inside the preview's window: the first note in measure 2 of the
    keys (or, when they rest there, of the guitar or the bass), a whole tone up."""
    changed = Composition.from_files(comp.to_files())
    for part in ("keys", "guitar", "bass"):
        evs = changed.events(part, 2)
        i = next((k for k, e in enumerate(evs) if e.kind == "note"), None)
        if i is not None:
            break
    else:
        raise ValueError("no note to change in measure 2")
    changed.set_events(part, 2, evs[:i] + [dataclasses.replace(evs[i], pitch=midi_to_pitch(evs[i].midi + 2))]
                       + evs[i + 1:])
    return changed, {"part": part, "measure": 2, "from": evs[i].pitch, "to": midi_to_pitch(evs[i].midi + 2)}


def preview_once(comp: Composition, work: Path) -> dict:
    """The quick preview of ``comp`` with one note changed inside the window it renders, in a fresh store:
    from the request to the first stored segment."""
    changed, what = edited(comp)
    files = changed.to_files()
    var = Path(tempfile.mkdtemp(prefix="preview-var-", dir=work))
    store = open_store(Config(var_dir=var))
    t = time.perf_counter()
    prev = quick_preview(store, files, var / "work", seconds=8)
    assert prev["measures"] >= 2 and not prev["cached"] and not prev["render_cached"]
    return {"first_segment_s": prev["first_segment_s"], "preview_total_s": round(time.perf_counter() - t, 3),
            "render_s": prev["render_s"], "preview_measures": prev["measures"], "changed": what}


def first_segment(comp: Composition, work: Path, measures: int, seed: int) -> dict:
    """first_segment_s on a warm render worker: this process is warmed as a long-lived worker is
    (``warm_up``: the engines loaded and one tiny built-in piece rendered, not this piece), then each of
    three pieces never rendered or previewed in this process (the bench piece and two more of other
    seeds) gets one note changed inside the window and its quick preview, in a fresh store; the figure is
    the median. Beside it, the same preview of the bench piece in a new process with nothing warm
    (``cold_new_process``: imports not counted, the engines' first use counted)."""
    from companion.render.service import warm_up

    cold = subprocess.run([sys.executable, __file__, "--cold-preview", "--measures", str(measures),
                           "--seed", str(seed)], capture_output=True, text=True, timeout=600)
    cold_fig = json.loads(cold.stdout.strip().splitlines()[-1]) if cold.returncode == 0 else {
        "error": cold.stderr[-300:]}
    t = time.perf_counter()
    took = warm_up(work / "warm")
    warm_s = round(time.perf_counter() - t, 3)
    runs = [preview_once(comp, work)]
    for k in (1, 2):
        runs.append(preview_once(four_part_piece(measures, seed + k), work))
    return {"first_segment_s": round(statistics.median(r["first_segment_s"] for r in runs), 3),
            "pieces": runs, "warm_up_s": warm_s, "warm_up": took, "cold_new_process": cold_fig}


def sampler_figures(rounds: int) -> dict:
    """The sample library's figures from bench/samples.py (sampler_overhead and its details): the
    library-backed sampler against the same SynthDef on plain file buffers."""
    import samples as sample_bench  # bench/samples.py, beside this file

    return {k: v for k, v in sample_bench.figures(rounds).items() if k != "rounds"}


def summary(ours_s, bare_s, ours_cpu, bare_cpu, ours_write_cpu) -> dict:
    """A pairing's figures; ``cpu_ratio_without_stem_files``: ours' CPU less what writing its stem files
    cost (the part of ours the bare tools have no match for: they write one mix), over bare's."""
    ratio = [o / b - 1 for o, b in zip(ours_s, bare_s)]
    cpu = [o / b for o, b in zip(ours_cpu, bare_cpu)]
    engine_cpu = [(o - w) / b for o, w, b in zip(ours_cpu, ours_write_cpu, bare_cpu)]
    return {"overhead": round(statistics.median(ratio), 3), "spread": [round(min(ratio), 3), round(max(ratio), 3)],
            "ours_s": round(statistics.median(ours_s), 3), "bare_s": round(statistics.median(bare_s), 3),
            "ours_cpu_s": round(statistics.median(ours_cpu), 3), "bare_cpu_s": round(statistics.median(bare_cpu), 3),
            "cpu_ratio": round(statistics.median(cpu), 3), "cpu_spread": [round(min(cpu), 3), round(max(cpu), 3)],
            "stem_files_cpu_s": round(statistics.median(ours_write_cpu), 3),
            "cpu_ratio_without_stem_files": round(statistics.median(engine_cpu), 3),
            "rounds_overhead": [round(r, 3) for r in ratio]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measures", type=int, default=80)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--cold-preview", action="store_true", help="only the preview, in this new process")
    args = ap.parse_args()
    if args.cold_preview:
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as d:
            print(json.dumps(preview_once(four_part_piece(args.measures, args.seed), Path(d))))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        load_start = round(os.getloadavg()[0], 2)
        comp = four_part_piece(args.measures, args.seed)
        seconds = TempoMap(comp).end(comp.measures)
        notes = sum(1 for p in PARTS for _, e in comp.all_events(p) if e.kind == "note")
        preview = first_segment(comp, work, args.measures, args.seed)  # first: nothing of these pieces rendered
        jobs = part_jobs(comp)
        duration = seconds + TAIL
        engines = {"fluidsynth": (FluidSynthEngine(), bare_fluidsynth),
                   "supercollider": (SuperColliderEngine(), bare_supercollider)}
        pairings = {}  # (engine, label) -> (workers, bare groups, the bare side)
        for name, (eng, bare) in engines.items():
            pairings[(name, "1proc")] = (1, [jobs], bare)
            pairings[(name, "2proc")] = (2, eng.split(comp, jobs, duration), bare)
        # beside the headline, the anchor of earlier runs: bare FluidSynth writing one mix, not stems
        pairings[("fluidsynth", "1proc_onemix")] = (1, [jobs], bare_fluidsynth_mix)
        fig = {k: {"ours": [], "bare": [], "ours_cpu": [], "bare_cpu": [], "ours_write_cpu": []} for k in pairings}
        for (name, _), (workers, groups, bare) in pairings.items():  # warm-up, not counted
            ours(comp, work, name, workers)
            bare(comp, work, groups)
            if (name, _) == ("supercollider", "2proc"):
                sc_stems = stems_match(work, groups)
        loads = []
        for r in range(args.rounds):
            for key, (workers, groups, bare) in pairings.items():
                name = key[0]
                sides = [("ours", lambda: ours(comp, work, name, workers)),
                         ("bare", lambda: bare(comp, work, groups))]
                for side, fn in (sides if r % 2 == 0 else sides[::-1]):
                    wall, cpu, out = timed(fn)
                    fig[key][side].append(wall)
                    fig[key][f"{side}_cpu"].append(cpu)
                    if side == "ours":
                        fig[key]["ours_write_cpu"].append(out.write_cpu_s)
            loads.append(round(os.getloadavg()[0], 2))
            print(f"round {r + 1}/{args.rounds}: load {loads[-1]}", flush=True)
        pairs = {f"{n}_{label}": summary(f["ours"], f["bare"], f["ours_cpu"], f["bare_cpu"], f["ours_write_cpu"])
                 for (n, label), f in fig.items()}
        worst = {n: max((pairs[f"{n}_1proc"], pairs[f"{n}_2proc"]), key=lambda p: p["overhead"]) for n in engines}  # headline
        worst_cpu = {n: max(pairs[f"{n}_1proc"]["cpu_ratio"], pairs[f"{n}_2proc"]["cpu_ratio"]) for n in engines}
        whole = {n: whole_render(comp, work, n, 2) for n in engines}
        result = {
            "fluidsynth_overhead": worst["fluidsynth"]["overhead"],
            "supercollider_overhead": worst["supercollider"]["overhead"],
            "fluidsynth_cpu_ratio": worst_cpu["fluidsynth"],
            "supercollider_cpu_ratio": worst_cpu["supercollider"],
            "first_segment_s": preview["first_segment_s"],
            "sampler_overhead": None,  # from sampler_figures() below
            **pairs,
            "supercollider_stems": sc_stems,
            "supercollider_stems_match": all(v["same_format"] and v["max_step_diff"] is not None
                                             and v["max_step_diff"] <= 1 for v in sc_stems.values()),
            "split": {n: [[j.part for j in g] for g in pairings[(n, "2proc")][1]] for n in engines},
            "preview": preview,
            "whole_render": whole,
            "piece_s": round(seconds, 1), "parts": len(PARTS), "notes": notes, "measures": comp.measures,
            "loudness_lufs": whole["fluidsynth"]["loudness_lufs"],
            "limiter_db": whole["fluidsynth"]["limiter_db"], "rounds": args.rounds,
            "load_1m_start": load_start, "load_1m_rounds": loads, "load_1m": round(os.getloadavg()[0], 2),
            "nproc": os.cpu_count(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "engines": {"fluidsynth": FluidSynthEngine().version(), "supercollider": SuperColliderEngine().version()},
        }
        print(f"piece: {seconds:.1f} s, {len(PARTS)} parts, {notes} notes; first segment {preview['first_segment_s']} s "
              f"(median of {[r['first_segment_s'] for r in preview['pieces']]} on a warm worker; "
              f"{preview['cold_new_process'].get('first_segment_s')} s in a new process)")
        for k, p in pairs.items():
            print(f"{k:22s} ours {p['ours_s']:.3f} s (CPU {p['ours_cpu_s']:.2f})  bare {p['bare_s']:.3f} s "
                  f"(CPU {p['bare_cpu_s']:.2f})  overhead {p['overhead']:+.3f} {p['spread']}  cpu x{p['cpu_ratio']} "
                  f"(x{p['cpu_ratio_without_stem_files']} without the stem files' {p['stem_files_cpu_s']:.2f} s)")
        for n, w in whole.items():
            print(f"{n} whole render (2 workers): {w['total_s']} s, of which the mixdown after the stems {w['mix_s']} s")
        result.update(sampler_figures(args.rounds))
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
