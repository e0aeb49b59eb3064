"""From the composition's measures and quarter notes to seconds (the tempo map)."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction

from ..compositions.model import Composition, GlobalEvent


@dataclass(frozen=True)
class NoteTime:
    start: float
    duration: float
    midi: int
    velocity: int
    lyric: str = ""


class TempoMap:
    def __init__(self, comp: Composition):
        self.grid = comp.grid(max(comp.measures, max((g.measure for g in comp.global_events), default=0)))
        self.starts = [s for s, _, _ in self.grid]
        changes: list[tuple[Fraction, int]] = []
        for g in sorted(comp.global_events, key=GlobalEvent.sort_key):
            if g.kind == "tempo":
                changes.append((self.quarters(g.measure, g.onset), g.value))
        if not changes or changes[0][0] > 0:
            changes.insert(0, (Fraction(0), 500000))
        self.q = [float(q) for q, _ in changes]
        self.us = [us for _, us in changes]
        self.sec = [0.0]
        for i in range(1, len(changes)):
            self.sec.append(self.sec[-1] + (self.q[i] - self.q[i - 1]) * self.us[i - 1] / 1e6)

    def quarters(self, measure: int, onset: Fraction) -> Fraction:
        if measure - 1 < len(self.starts):
            return self.starts[measure - 1] + onset
        last_start, last_len, _ = self.grid[-1]
        return last_start + last_len * (measure - len(self.grid)) + onset

    def seconds(self, q) -> float:
        q = float(q)
        i = max(0, bisect_right(self.q, q) - 1)
        return self.sec[i] + (q - self.q[i]) * self.us[i] / 1e6

    def at(self, measure: int, onset: Fraction) -> float:
        return self.seconds(self.quarters(measure, onset))

    def end(self, measures: int) -> float:
        if not self.grid:
            return 0.0
        upto = min(measures, len(self.grid))
        s, length, _ = self.grid[upto - 1]
        return self.seconds(s + length)


def part_notes(comp: Composition, part: str, tm: TempoMap | None = None, upto_measure: int | None = None
               ) -> list[NoteTime]:
    tm = tm or TempoMap(comp)
    out = []
    for m, e in comp.all_events(part):
        if e.kind != "note" or (upto_measure is not None and m > upto_measure):
            continue
        start = tm.at(m, e.onset)
        end = tm.seconds(tm.quarters(m, e.onset) + e.dur)
        out.append(NoteTime(start, max(0.01, end - start), e.midi, e.vel, e.lyrics[0] if e.lyrics else ""))
    return out


def cc_points(comp: Composition, channel: int, number: int, tm: TempoMap | None = None) -> list[tuple[float, int]]:
    """(seconds, value) of every CC ``number`` any part sends to ``channel`` (Form's automation)."""
    tm = tm or TempoMap(comp)
    out = []
    for p in comp.parts:
        for m, e in comp.all_events(p.id):
            if e.kind == "cc" and e.num == number and (e.ch if e.ch is not None else p.channel) == channel:
                out.append((tm.at(m, e.onset), int(e.value)))
    return sorted(out)
