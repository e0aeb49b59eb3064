"""Benchmark: import, musical diff and three-way merge of a large piece vs musicdiff.

Builds a piece of 4 parts x 200 measures of eighth notes (6,400 notes) as MIDI, imports
it into a fresh store, makes two divergent branches (each changes notes in 2 parts, with
measures changed on both sides that still merge note by note), then times:

- import: MIDI bytes -> canonical -> first commit in the store;
- diff: our musical diff of the two branch heads, read from the store (median of runs);
- merge: the three-way merge of the two heads, read from the store (median of runs);
- musicdiff (PyPI) diffing the same two versions exported as MusicXML files (median of 3 runs;
  its time includes parsing both files, as ours includes reading both versions from the store).

Both diffs must find the same changed notes: the (part, measure, beat) of every note our diff reports
changed is compared with those of the notes musicdiff's edit list touches (one more musicdiff pass, not
timed); "same_changed_notes" says whether they agree, with the notes only one of them saw.

The last line of output is one JSON object with the figures, "diff_speedup" and "merge_ms".
Run: .venv/bin/python bench/compositions.py  (musicdiff comes with the bench extra: pip install -e ".[bench]")
"""
from __future__ import annotations

import io
import json
from fractions import Fraction
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mido  # noqa: E402

from companion.band.roster import load_band  # noqa: E402
from companion.compositions import service as S  # noqa: E402
from companion.compositions.merge import merge_files  # noqa: E402
from companion.compositions.rights import member_actor  # noqa: E402
from companion.compositions.store import Store  # noqa: E402

PARTS = 4
MEASURES = 200
TPB = 480


def build_midi(seed: int = 1) -> bytes:
    r = random.Random(seed)
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    cond = mido.MidiTrack()
    cond.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    cond.append(mido.MetaMessage("set_tempo", tempo=500000))
    cond.append(mido.MetaMessage("key_signature", key="C"))
    mid.tracks.append(cond)
    names = ["Piano", "Bass", "Guitar", "Sax"]
    programs = [0, 33, 27, 65]
    for p in range(PARTS):
        t = mido.MidiTrack()
        t.append(mido.MetaMessage("track_name", name=names[p]))
        t.append(mido.Message("program_change", channel=p, program=programs[p]))
        low = [60, 36, 52, 64][p]
        for _ in range(MEASURES * 8):
            note = low + r.choice([0, 2, 4, 5, 7, 9, 11, 12])
            t.append(mido.Message("note_on", channel=p, note=note, velocity=r.randint(60, 100), time=0))
            t.append(mido.Message("note_off", channel=p, note=note, velocity=0, time=TPB // 2))
        mid.tracks.append(t)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def shift_note(body: str, index: int, semitones: int) -> str:
    from companion.compositions.model import format_events, midi_to_pitch, parse_events
    import dataclasses
    evs = parse_events(body)
    e = evs[index]
    evs[index] = dataclasses.replace(e, pitch=midi_to_pitch(e.midi + semitones))
    return format_events(evs)


def our_changed_notes(d: dict, parts: list[str]) -> set[tuple[int, int, Fraction]]:
    """(part index, measure, onset in quarters) of every note our diff says was added, removed or changed."""
    out = set()
    for p in d["parts"]:
        for m in p["measures"]:
            events = m["added"] + m["removed"] + [c["from"] for c in m["changed"]] + [c["to"] for c in m["changed"]]
            out |= {(parts.index(p["part"]), m["measure"], Fraction(str(e["onset"])))
                    for e in events if e.get("kind") == "note"}
    return out


def musicdiff_changed_notes(path_a: Path, path_b: Path) -> tuple[set[tuple[int, int, Fraction]], int]:
    """(part index, measure, offset in quarters) of every note whose sounding pitch musicdiff's edit list
    changes, and how many of its note edits change only notation (an accidental shown or not on a note
    of the same pitch, because another note of the measure changed)."""
    import music21 as m21
    from musicdiff import Comparison, DetailLevel
    from musicdiff.annotation import AnnNote, AnnScore

    scores = [m21.converter.parse(str(p), forceSource=True) for p in (path_a, path_b)]
    ops, _ = Comparison.annotated_scores_diff(*(AnnScore(sc, DetailLevel.AllObjects) for sc in scores))
    notes = [{id(n): n for n in sc.recurse().notes} for sc in scores]
    parts = [list(sc.parts) for sc in scores]
    def note(side, obj):
        return notes[side].get(obj.general_note) if isinstance(obj, AnnNote) else None

    out, notation_only = set(), 0
    for op in ops:
        a, b = note(0, op[1]), note(1, op[2])
        if a is not None and b is not None and [p.midi for p in a.pitches] == [p.midi for p in b.pitches]:
            notation_only += 1
            continue
        for side, n in ((0, a), (1, b)):
            if n is not None:
                part = n.getContextByClass(m21.stream.Part)
                out.add((next(i for i, p in enumerate(parts[side]) if p is part), n.measureNumber,
                         Fraction(n.offset).limit_denominator(96)))
    return out, notation_only


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    band = load_band(Path(__file__).resolve().parents[1] / "companion" / "band" / "band.toml")
    ivory = member_actor(band, "ivory")
    root = Path(tempfile.mkdtemp(prefix="bench-compositions-"))
    store = Store(root / "store")
    data = build_midi()

    t0 = time.perf_counter()
    res = S.import_file(store, band, ivory, data, "midi", "bench.mid", comp_id="bench", title="Bench")
    import_ms = (time.perf_counter() - t0) * 1000
    comp_id = res["id"]
    files = S.get_composition(store, band, ivory, comp_id, with_text=True)
    parts = [p["id"] for p in files["parts"]]
    notes = sum(len([x for x in line.split(" ; ") if x.strip()]) for pid in parts
                for line in (l.partition("|")[2] for l in files["files"][f"parts/{pid}.txt"].splitlines() if "|" in l))
    lines = {pid: {int(l.partition("|")[0]): l.partition("|")[2].strip()
                   for l in files["files"][f"parts/{pid}.txt"].splitlines() if "|" in l} for pid in parts}

    S.create_branch(store, band, ivory, comp_id, "idea")
    r = random.Random(2)
    # ours (main): parts 0 and 1; theirs (idea): parts 1 and 2; in part 1 both sides change
    # the same 20 measures, but different notes (first half vs second half of the bar)
    ours = {parts[0]: {}, parts[1]: {}}
    theirs = {parts[1]: {}, parts[2]: {}}
    for m in r.sample(range(1, MEASURES + 1), 40):
        ours[parts[0]][str(m)] = shift_note(lines[parts[0]][m], r.randrange(8), 1)
        theirs[parts[2]][str(m)] = shift_note(lines[parts[2]][m], r.randrange(8), -1)
    for m in r.sample(range(1, MEASURES + 1), 20):
        ours[parts[1]][str(m)] = shift_note(lines[parts[1]][m], r.randrange(4), 2)
        theirs[parts[1]][str(m)] = shift_note(lines[parts[1]][m], 4 + r.randrange(4), -2)
    S.commit_change(store, band, ivory, comp_id, "main", None, "ours",
                    {"parts": {k: {"measures": v} for k, v in ours.items()}})
    S.commit_change(store, band, ivory, comp_id, "idea", None, "theirs",
                    {"parts": {k: {"measures": v} for k, v in theirs.items()}})

    # our diff: read both versions from the store and diff them
    diff_times = []
    for _ in range(7):
        t0 = time.perf_counter()
        repo = store.repo(comp_id)
        d = S.diff_revisions(store, repo, "main", "idea")
        diff_times.append(time.perf_counter() - t0)
    diff_s = statistics.median(diff_times)

    # our three-way merge: read base, ours, theirs from the store and merge
    merge_times = []
    for _ in range(7):
        t0 = time.perf_counter()
        repo = store.repo(comp_id)
        ct, cs = store.resolve(repo, "main"), store.resolve(repo, "idea")
        base = S.base_files(store, repo, ct.id, cs.id)
        mr = merge_files(base, store.read_files(repo, ct), store.read_files(repo, cs))
        merge_times.append(time.perf_counter() - t0)
    merge_ms = statistics.median(merge_times) * 1000
    t0 = time.perf_counter()
    S.merge(store, band, ivory, comp_id, "idea", "main", message="Merge idea")
    merge_commit_ms = (time.perf_counter() - t0) * 1000

    out = {"parts": PARTS, "measures": MEASURES, "notes": notes,
           "measures_changed": d["summary"]["measures_changed"], "notes_changed": d["summary"]["notes_changed"],
           "import_ms": round(import_ms, 1), "diff_ms": round(diff_s * 1000, 2), "merge_ms": round(merge_ms, 2),
           "merge_commit_ms": round(merge_commit_ms, 1), "merge_conflicts": len(mr.conflicts),
           "nproc": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(),
           "date": time.strftime("%Y-%m-%d")}

    # musicdiff on the same two versions as MusicXML files
    xa, _, _ = S.export(store, band, ivory, comp_id, d["from"]["id"], "musicxml")
    xb, _, _ = S.export(store, band, ivory, comp_id, d["to"]["id"], "musicxml")
    pa, pb = root / "a.musicxml", root / "b.musicxml"
    pa.write_bytes(xa)
    pb.write_bytes(xb)
    try:
        import musicdiff
    except ImportError:
        sys.exit("musicdiff is missing: pip install -e '.[bench]'")
    md_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        ndiffs = musicdiff.diff(str(pa), str(pb), visualize_diffs=False, print_text_output=False)
        md_times.append(time.perf_counter() - t0)
    md_s = statistics.median(md_times)
    ours_notes = our_changed_notes(d, parts)
    theirs, notation_only = musicdiff_changed_notes(pa, pb)
    out.update({"musicdiff_s": round(md_s, 3), "musicdiff_runs_s": [round(x, 3) for x in md_times],
                "musicdiff_differences": ndiffs, "diff_speedup": round(md_s / diff_s, 1),
                "same_changed_notes": ours_notes == theirs, "changed_notes": len(ours_notes),
                "musicdiff_notation_only_edits": notation_only,
                "only_ours": sorted(map(str, ours_notes - theirs))[:10],
                "only_musicdiff": sorted(map(str, theirs - ours_notes))[:10]})
    print(f"piece: {PARTS} parts x {MEASURES} measures, {notes} notes; {out['measures_changed']} measures differ")
    print(f"import {out['import_ms']} ms, diff {out['diff_ms']} ms, merge {out['merge_ms']} ms "
          f"(with commit {out['merge_commit_ms']} ms), musicdiff {out.get('musicdiff_s')} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
