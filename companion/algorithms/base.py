"""The algorithm interface every band member's personality implements.

An algorithm is called once per section::

    part = algorithm.generate(Request(composition, section, seed, params, instrument))

``composition`` is the piece so far (the canonical model, with what the members before have
written), ``section`` the section to write (its first measure and length; names and arrangement
come from the markers Form and Ivory wrote), ``seed`` an integer and ``params`` the mood, density,
tempo feel and key. The result maps measure numbers to that member's events for those measures.
Same inputs and seed give the same notes: algorithms draw randomness only from
:func:`Request.rng`, which is seeded from (seed, member, part, section) with a stable hash.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Iterable
from urllib.parse import quote

from ..compositions.model import Composition, Event, GlobalEvent, midi_to_pitch
from .instruments import Instrument
from .theory import Chord, Key, chord_from_pitches, progression, rng_for

TEMPO_FEELS = ("straight", "swing", "half-time", "double-time")
SECTION_KINDS = ("intro", "head", "verse", "bridge", "solo", "break", "outro")


@dataclass(frozen=True)
class Params:
    """What a caller may ask of the band: mood, density (0..1), tempo feel, key, tempo, meter."""

    mood: str = "cosmic"
    density: float = 0.5
    tempo_feel: str = "straight"
    key: str = "D minor"
    tempo: int = 104
    lyrics: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Params":
        d = dict(d or {})
        known = {f: d[f] for f in ("mood", "density", "tempo_feel", "key", "tempo", "lyrics") if f in d}
        p = cls(**known)
        from .theory import MOODS
        if p.mood not in MOODS:
            raise ValueError(f"mood must be one of {', '.join(MOODS)}")
        if not 0 <= float(p.density) <= 1:
            raise ValueError("density is between 0 and 1")
        if p.tempo_feel not in TEMPO_FEELS:
            raise ValueError(f"tempo_feel must be one of {', '.join(TEMPO_FEELS)}")
        if not 40 <= int(p.tempo) <= 240:
            raise ValueError("tempo is 40..240 bpm")
        Key.parse(p.key)
        return replace(p, density=float(p.density), tempo=int(p.tempo))

    def to_dict(self) -> dict[str, Any]:
        return {"mood": self.mood, "density": self.density, "tempo_feel": self.tempo_feel, "key": self.key,
                "tempo": self.tempo, "lyrics": self.lyrics}


@dataclass(frozen=True)
class Section:
    """A stretch of measures with one role: ``kind`` (intro, head, solo...), ``energy`` 0..1, and
    the arrangement Ivory wrote (``feature``: the member in the spotlight; ``tacet``: who lays out)."""

    name: str
    kind: str
    start: int
    measures: int
    energy: float = 0.5
    feature: str | None = None
    tacet: tuple[str, ...] = ()
    double: tuple[str, ...] = ()

    @property
    def end(self) -> int:
        return self.start + self.measures - 1

    @property
    def range(self) -> range:
        return range(self.start, self.start + self.measures)

    def marker(self) -> str:
        """The marker text in global.txt: ``name kind=.. energy=.. [feature=..] [tacet=a,b]``."""
        out = [self.name, f"kind={self.kind}", f"energy={self.energy:.2f}"]
        if self.feature:
            out.append(f"feature={self.feature}")
        if self.tacet:
            out.append("tacet=" + ",".join(self.tacet))
        if self.double:
            out.append("double=" + ",".join(self.double))
        return " ".join(out)

    @classmethod
    def from_marker(cls, text: str, start: int, measures: int) -> "Section":
        words = text.split()
        name = words[0] if words else "section"
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        kind = kv.get("kind", name.rstrip("0123456789") if name.rstrip("0123456789") in SECTION_KINDS else "head")
        lst = lambda k: tuple(x for x in kv.get(k, "").split(",") if x)
        try:
            energy = float(kv.get("energy", 0.5))
        except ValueError:
            energy = 0.5
        return cls(name, kind, start, measures, energy, kv.get("feature") or None, lst("tacet"), lst("double"))


def sections_of(comp: Composition) -> list[Section]:
    """The sections the composition's markers lay out (one section for the whole piece if none)."""
    marks = sorted((g for g in comp.global_events if g.kind == "marker" and g.onset == 0), key=lambda g: g.measure)
    if not marks:
        return [Section("piece", "head", 1, max(comp.measures, 1))]
    out = []
    for i, g in enumerate(marks):
        end = marks[i + 1].measure if i + 1 < len(marks) else comp.measures + 1
        if end > g.measure:
            out.append(Section.from_marker(g.value, g.measure, end - g.measure))
    return out


def key_of(comp: Composition, default: str = "D minor") -> Key:
    for g in sorted(comp.global_events, key=GlobalEvent.sort_key):
        if g.kind == "key":
            sharps, mode = g.value
            from ..compositions.model import key_name
            return Key.parse(key_name(sharps, mode or "major"))
    return Key.parse(default)


@dataclass
class Harmony:
    """The changes, as (measure, onset, chord) in time order, and a lookup by time."""

    slots: list[tuple[int, Fraction, Chord]]

    def at(self, measure: int, onset: Fraction) -> Chord:
        cur = self.slots[0][2]
        for m, o, c in self.slots:
            if (m, o) <= (measure, onset):
                cur = c
            else:
                break
        return cur

    def in_measure(self, measure: int) -> list[tuple[Fraction, Chord]]:
        """Chords that start in (or carry into) ``measure``: [(onset, chord)], first at onset 0."""
        out = [(Fraction(0), self.at(measure, Fraction(0)))]
        for m, o, c in self.slots:
            if m == measure and o > 0:
                out.append((o, c))
        return out


HARMONY_KINDS = ("harmony",)


def harmony_of(comp: Composition, params: Params, seed: int) -> Harmony:
    """Read the changes from the harmony part (Chops' chords) or, when there is none yet, derive them
    from the functional-harmony model so the others can still play over something."""
    slots: list[tuple[int, Fraction, Chord]] = []
    for p in comp.parts:
        if p.kind not in HARMONY_KINDS:
            continue
        for m in range(1, comp.measures + 1):
            groups: dict[Fraction, list[int]] = {}
            for ev in comp.events(p.id, m):
                if ev.kind == "note" and ev.vel > 40:  # dead notes and ghosts do not define harmony
                    groups.setdefault(ev.onset, []).append(ev.midi)
            for onset in sorted(groups):
                if len(groups[onset]) >= 3:
                    chord = chord_from_pitches(groups[onset])
                    if not slots or slots[-1][2].pcs != chord.pcs:
                        slots.append((m, onset, chord))
        if slots:
            return Harmony(slots)
    key = key_of(comp, params.key)
    n = max(comp.measures, 1)
    prog = progression(key, n, seed, params.mood)
    return Harmony([(i + 1, Fraction(0), c) for i, (c, _, _) in enumerate(prog)])


def measure_length(comp: Composition, measure: int) -> Fraction:
    grid = comp.grid(max(measure, comp.measures))
    return grid[measure - 1][1]


@dataclass
class Request:
    composition: Composition
    section: Section
    seed: int
    params: Params
    instrument: Instrument
    sections: list[Section] = field(default_factory=list)
    _harmony: Harmony | None = None

    def rng(self, *salt):
        return rng_for(self.seed, self.instrument.member, self.instrument.part, self.section.name,
                       self.section.start, *salt)

    @property
    def harmony(self) -> Harmony:
        if self._harmony is None:
            self._harmony = harmony_of(self.composition, self.params, self.seed)
        return self._harmony

    @property
    def key(self) -> Key:
        return key_of(self.composition, self.params.key)

    def measure_length(self, measure: int) -> Fraction:
        return measure_length(self.composition, measure)

    @property
    def member(self) -> str:
        return self.instrument.member

    @property
    def featured(self) -> bool:
        return self.section.feature == self.member

    @property
    def tacet(self) -> bool:
        return self.member in self.section.tacet


@dataclass
class PartOutput:
    """What an algorithm returns: events per measure for its part, and for Form (or the leader)
    the global events it sets (tempo, meter, key, markers)."""

    measures: dict[int, list[Event]] = field(default_factory=dict)
    global_events: list[GlobalEvent] = field(default_factory=list)

    def add(self, measure: int, event: Event) -> None:
        self.measures.setdefault(measure, []).append(event)


def note(onset, midi: int, dur, vel: int, flats: bool = True, **kw) -> Event:
    vel = max(1, min(127, int(vel)))
    return Event(Fraction(onset), "note", pitch=midi_to_pitch(int(midi), flats=flats), dur=Fraction(dur), vel=vel, **kw)


def clip(events: Iterable[Event], length: Fraction) -> list[Event]:
    """Keep events inside the measure: onsets before ``length``, notes ending by the barline."""
    out = []
    for e in events:
        if e.onset >= length or e.onset < 0:
            continue
        if e.kind == "note" and e.onset + e.dur > length:
            e = replace(e, dur=length - e.onset)
        if e.kind == "note" and e.dur <= 0:
            continue
        out.append(e)
    return out


class Algorithm(abc.ABC):
    """One member's personality. Subclasses set ``member`` and implement :meth:`generate`."""

    member: str = ""
    summary: str = ""
    traits: tuple[str, ...] = ()

    @abc.abstractmethod
    def generate(self, req: Request) -> PartOutput:
        """The member's events for ``req.section`` (measures inside it only)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.member}>"


def pct(text: str) -> str:
    return quote(text, safe="")
