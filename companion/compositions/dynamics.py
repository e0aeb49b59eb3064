"""Dynamics to MIDI velocities: the one documented rule (docs/composition-format.md, "Dynamics").

- A dynamic mark sets the velocity of the part's notes from its onset on: ``pppp`` 8, ``ppp`` 16,
  ``pp`` 33, ``p`` 49, ``mp`` 64, ``mf`` 80, ``f`` 96, ``ff`` 112, ``fff`` 120, ``ffff`` 127
  (:data:`VELOCITIES`). Before the first mark a part plays at :data:`DEFAULT` (64).
- Accents (``sf``, ``sfz``, ``fz``, ``rf``, ``rfz``, ``sffz``) give only the notes at their
  onset their velocity (:data:`ACCENTS`); ``fp``, ``sfp``, ``sfpp`` accent their notes and then
  set a soft level (:data:`ACCENT_THEN`).
- Hairpins are interpolated: over a ``cresc`` or ``dim`` spanning ``[start, end]`` a note's
  velocity goes linearly (rounded half up) from the level at ``start`` to the hairpin's target,
  reached at ``end`` and held after it. The target is the next dynamic mark after ``start`` if
  it comes no later than one 4/4 bar (4 quarter notes) after ``end`` and lies in the hairpin's
  direction; otherwise one step of the table up (cresc) or down (dim) from the starting level.
- Marks the table does not know (``n``, text such as ``dolce``) change nothing.

Importers apply the rule to notes whose source gives no velocity of its own (MusicXML without
a ``dynamics`` attribute on the note); MIDI keeps its velocities as they are. The result is
stored in each note's ``v<n>``, so MIDI export, the renderer and the studio's roll all play the
same velocities.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Callable

from .model import Composition, Event

VELOCITIES = {"pppp": 8, "ppp": 16, "pp": 33, "p": 49, "mp": 64, "mf": 80, "f": 96, "ff": 112, "fff": 120,
              "ffff": 127}
ACCENTS = {"sf": 112, "sfz": 112, "fz": 112, "rf": 104, "rfz": 104, "sffz": 120, "fp": 96, "sfp": 112, "sfpp": 112}
ACCENT_THEN = {"fp": 49, "sfp": 49, "sfpp": 33}
DEFAULT = 64
HAIRPIN_REACH = Fraction(4)  # how far after a hairpin's end its target mark may come
_STEPS = sorted(VELOCITIES.values())


def step(level: int, up: bool) -> int:
    """One step of the table up or down from ``level`` (clamped to 1..127)."""
    if up:
        return next((v for v in _STEPS if v > level), 127)
    return next((v for v in reversed(_STEPS) if v < level), max(1, level - 16))


@dataclass(frozen=True)
class Hairpin:
    start: Fraction
    end: Fraction
    up: bool
    target: int = DEFAULT
    origin: int = DEFAULT


class DynamicsMap:
    """The velocity at any time of one part, from its dynamic marks and hairpins (absolute
    times in quarter notes)."""

    def __init__(self, marks: list[tuple[Fraction, str]], hairpins: list[tuple[Fraction, Fraction, str]]):
        self.accents: dict[Fraction, int] = {}
        sustain: list[tuple[Fraction, int, int]] = []  # (time, priority, level): marks win at one time
        for t, mark in sorted(marks):
            if mark in VELOCITIES:
                sustain.append((t, 1, VELOCITIES[mark]))
            elif mark in ACCENTS:
                self.accents[t] = ACCENTS[mark]
                if mark in ACCENT_THEN:
                    sustain.append((t, 1, ACCENT_THEN[mark]))
        mark_times = sorted((t, VELOCITIES[m]) for t, m in marks if m in VELOCITIES)
        self.hairpins: list[Hairpin] = []
        for start, end, kind in sorted(hairpins):
            sustain.sort()
            origin = self._level(sustain, start)
            up = kind == "cresc"
            target = None
            for t, v in mark_times:
                if t > start:
                    if t <= end + HAIRPIN_REACH and (v > origin if up else v < origin):
                        target = v
                    break
            if target is None:
                target = step(origin, up)
            self.hairpins.append(Hairpin(start, end, up, target, origin))
            sustain.append((end, 0, target))
        self.sustain = sorted(sustain)
        self._times = [(t, p) for t, p, _ in self.sustain]

    @staticmethod
    def _level(sustain: list[tuple[Fraction, int, int]], t: Fraction) -> int:
        level = DEFAULT
        for when, _, v in sustain:
            if when > t:
                break
            level = v
        return level

    def velocity(self, t: Fraction) -> int:
        if t in self.accents:
            return self.accents[t]
        for h in reversed(self.hairpins):
            if h.start <= t < h.end:
                frac = (t - h.start) / (h.end - h.start)
                return max(1, min(127, int(h.origin + (h.target - h.origin) * frac + Fraction(1, 2))))
        i = bisect_right(self._times, (t, 2)) - 1
        return self.sustain[i][2] if i >= 0 else DEFAULT


def part_map(comp: Composition, part_id: str) -> DynamicsMap:
    starts = [s for s, _, _ in comp.grid()]
    marks, hairpins = [], []
    for m, e in comp.all_events(part_id):
        t = starts[m - 1] + e.onset if m - 1 < len(starts) else e.onset
        if e.kind == "dyn":
            marks.append((t, str(e.value)))
        elif e.kind in ("cresc", "dim"):
            hairpins.append((t, t + e.dur, e.kind))
    return DynamicsMap(marks, hairpins)


def apply_dynamics(comp: Composition, part_id: str, which: Callable[[int, Event], bool] | None = None) -> int:
    """Set the velocity of the part's notes (those ``which(measure, event)`` picks; default all) by
    the rule; returns how many notes changed."""
    dm = part_map(comp, part_id)
    starts = [s for s, _, _ in comp.grid()]
    changed = 0
    measures = sorted({m for m, _ in comp.all_events(part_id)})
    for m in measures:
        evs = comp.events(part_id, m)
        new = []
        touched = False
        for e in evs:
            if e.kind == "note" and (which is None or which(m, e)):
                t = (starts[m - 1] if m - 1 < len(starts) else Fraction(0)) + e.onset
                v = dm.velocity(t)
                if v != e.vel:
                    e = replace(e, vel=v)
                    touched = True
                    changed += 1
            new.append(e)
        if touched:
            comp.set_events(part_id, m, new)
    return changed
