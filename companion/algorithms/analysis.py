"""Measurable traits of a part: what makes each personality recognisably itself.

All functions take a Composition and a part id and look only at notes.
"""
from __future__ import annotations

from fractions import Fraction
from statistics import mean, pstdev

from ..compositions.model import Composition


def notes(comp: Composition, part: str, measures=None):
    for m, ev in comp.all_events(part):
        if ev.kind == "note" and (measures is None or m in measures):
            yield m, ev


def traits(comp: Composition, part: str, measures=None) -> dict[str, float]:
    """density (notes per beat over the measures considered), syncopation (share of onsets off
    the beat), mean_interval (semitones between successive onsets' top notes), register (mean
    MIDI pitch), leaps (share of intervals of a fourth or more), velocity (mean), polyphony (notes per onset), off_grid (share of onsets off the
    sixteenth grid: humanised timing), rest_ratio (share of measures with no notes)."""
    grid = comp.grid()
    ms = list(measures) if measures is not None else list(range(1, comp.measures + 1))
    beats = sum(grid[m - 1][1] for m in ms) or 1
    evs = list(notes(comp, part, set(ms)))
    if not evs:
        return {"density": 0.0, "syncopation": 0.0, "mean_interval": 0.0, "register": 0.0, "velocity": 0.0,
                "polyphony": 0.0, "off_grid": 0.0, "rest_ratio": 1.0, "notes": 0}
    onsets: dict[tuple[int, Fraction], list[int]] = {}
    for m, e in evs:
        onsets.setdefault((m, e.onset), []).append(e.midi)
    tops = [max(v) for _, v in sorted(onsets.items())]
    intervals = [abs(b - a) for a, b in zip(tops, tops[1:])]
    with_notes = {m for m, _ in evs}
    return {
        "density": len(evs) / float(beats),
        "syncopation": sum(1 for (_, o) in onsets if o.denominator != 1) / len(onsets),
        "mean_interval": mean(intervals) if intervals else 0.0,
        "leaps": sum(1 for i in intervals if i >= 5) / len(intervals) if intervals else 0.0,
        "register": mean(e.midi for _, e in evs),
        "velocity": mean(e.vel for _, e in evs),
        "velocity_spread": pstdev([e.vel for _, e in evs]),
        "polyphony": len(evs) / len(onsets),
        "off_grid": sum(1 for (_, o) in onsets if (o * 4).denominator != 1 and (o * 3).denominator != 1) / len(onsets),
        "rest_ratio": 1 - len(with_notes) / len(ms),
        "notes": len(evs),
    }


def motif_recurrence(comp: Composition, part: str, n: int = 3, measures=None) -> float:
    """Share of rhythm-and-contour n-grams (time to the next onset, direction of the next
    interval) that occur more than once: motif statements, sequences and displacements keep
    them; free improvisation rarely repeats them."""
    grid = comp.grid()
    ms = list(measures) if measures is not None else range(1, comp.measures + 1)
    seq = []
    for m in ms:
        by: dict = {}
        for e in comp.events(part, m):
            if e.kind == "note":
                by.setdefault(e.onset, []).append(e.midi)
        seq += [(grid[m - 1][0] + o, max(by[o])) for o in sorted(by)]
    feats = [(b[0] - a[0], (b[1] > a[1]) - (b[1] < a[1])) for a, b in zip(seq, seq[1:])]
    grams = [tuple(feats[i:i + n]) for i in range(len(feats) - n + 1)]
    if not grams:
        return 0.0
    counts: dict = {}
    for g in grams:
        counts[g] = counts.get(g, 0) + 1
    return sum(1 for g in grams if counts[g] > 1) / len(grams)


def voice_leading(comp: Composition, part: str) -> float:
    """Mean movement (semitones) of the upper voices between successive distinct chords."""
    chords = []
    for m in range(1, comp.measures + 1):
        by: dict = {}
        for e in comp.events(part, m):
            if e.kind == "note" and e.vel > 40:
                by.setdefault(e.onset, []).append(e.midi)
        for o in sorted(by):
            if len(by[o]) >= 3:
                v = sorted(by[o])[1:]
                if not chords or chords[-1] != v:
                    chords.append(v)
    moves = []
    for a, b in zip(chords, chords[1:]):
        k = min(len(a), len(b))
        moves.append(sum(abs(x - y) for x, y in zip(a[:k], b[:k])) / k)
    return mean(moves) if moves else 0.0
