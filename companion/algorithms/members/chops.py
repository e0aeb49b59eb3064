"""Chops, the Harmonic Hacker: streetwise, sardonic, loves chaos and crunchy chords.

Chops writes the changes: a functional-harmony progression per section kind (heads share their
changes, solos theirs), extended by the mood (m11, 13, 7#9, maj9#11...), voiced on the
Franken-guitar with the root in the bass and the upper voices *voice-led* (each chord's voicing
is the one that moves the upper voices least from the last), and comped in crunchy, syncopated
stabs with muted "dead-note" scratches in between. Sometimes he pushes a chord an eighth early
(an anticipation) just to keep everyone awake.
"""
from __future__ import annotations

import itertools
from fractions import Fraction as F

from ..base import Algorithm, PartOutput, Request, clip, note
from ..theory import Chord, progression, rng_for

# Comping rhythms: (onset, duration) in quarter notes within a 4/4 measure.
PATTERNS = {
    "straight": [[(F(0), F(1, 2)), (F(3, 2), F(1, 4)), (F(5, 2), F(1, 2)), (F(7, 2), F(1, 4))],
                 [(F(0), F(1, 4)), (F(3, 4), F(1, 4)), (F(3, 2), F(1, 2)), (F(11, 4), F(1, 4)), (F(3), F(1, 2))],
                 [(F(1, 2), F(1, 2)), (F(2), F(1, 4)), (F(5, 2), F(1, 2)), (F(15, 4), F(1, 4))]],
    "swing": [[(F(0), F(2, 3)), (F(5, 3), F(1, 3)), (F(3), F(2, 3))],
              [(F(2, 3), F(1, 3)), (F(2), F(2, 3)), (F(11, 3), F(1, 3))]],
}
DEAD = [F(1, 4), F(5, 4), F(9, 4), F(13, 4)]


def chords_per_measure(req: Request) -> int:
    return 2 if req.params.density > 0.6 and req.section.kind in ("head", "bridge") else 1


def section_changes(req: Request) -> list[Chord]:
    """The chords of this section: one progression per section kind and length (so heads repeat)."""
    s = req.section
    cpm = chords_per_measure(req)
    prog = progression(req.key, s.measures, (req.seed, s.kind), req.params.mood, chords_per_measure=cpm,
                       cadence=s.kind != "solo" or s.measures <= 4)
    return [c for c, _, _ in prog]


def voice(chord: Chord, previous: list[int] | None, low: int, high: int, rng) -> list[int]:
    """Root in the bass (E2..D#3), three or four upper voices from the chord's colour tones,
    choosing octaves so the upper voices move as little as possible from ``previous``."""
    bass = low + (chord.root - low) % 12
    rel = [i % 12 for i in chord.intervals if i % 12 != 0]
    colour = sorted(set(rel), key=lambda i: (i not in (3, 4, 10, 11), i not in (1, 2, 3, 6, 8, 9), i))
    tones = colour[:4] if len(colour) >= 4 else colour
    options = []
    for t in tones:
        pcs = (chord.root + t) % 12
        options.append([p for p in range(bass + 3, min(high, bass + 31)) if p % 12 == pcs])
    best, best_cost = None, None
    target = previous[1:] if previous else [bass + 10, bass + 14, bass + 17, bass + 21][:len(tones)]
    for combo in itertools.product(*options):
        upper = sorted(combo)
        if len(set(upper)) < len(upper) or upper[-1] - upper[0] > 15:
            continue
        cost = sum(abs(a - b) for a, b in zip(upper, sorted(target))) + abs(len(upper) - len(target)) * 3
        cost += 0.01 * rng.random()
        if best_cost is None or cost < best_cost:
            best, best_cost = upper, cost
    if best is None:
        best = sorted(o[0] for o in options if o)
    return [bass] + list(best)


class Chops(Algorithm):
    member = "chops"
    summary = "voice-led extended chords from a functional-harmony model, crunchy syncopated comping"
    traits = ("most notes sounding at once (4-6 note voicings)", "smallest upper-voice movement",
              "extended chords (9ths, 11ths, 13ths, altered)")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        inst = req.instrument
        s = req.section
        rng = req.rng()
        changes = section_changes(req)
        cpm = chords_per_measure(req)
        feel = "swing" if req.params.tempo_feel == "swing" else "straight"
        flats = req.key.flats
        prev = None
        voicings = []
        for ch in changes:
            prev = voice(ch, prev, inst.low, inst.comfortable_high, rng)
            voicings.append(prev)
        for k, m in enumerate(s.range):
            length = req.measure_length(m)
            events = []
            slot_len = length / cpm

            def voicing_at(onset: F) -> list[int]:
                i = k * cpm + min(cpm - 1, int(onset // slot_len))
                return voicings[min(i, len(voicings) - 1)]

            if req.tacet:
                continue
            if s.kind in ("intro", "outro", "bridge") or (s.kind == "solo" and req.params.density < 0.3):
                # let chords ring: one per slot, slightly strummed
                for j in range(cpm):
                    v = voicing_at(j * slot_len)
                    for n, p in enumerate(v):
                        events.append(note(j * slot_len, p, slot_len, 62 + 4 * n, flats))
            else:
                pattern = rng_for("chops-pattern", req.seed, s.kind, k % 2, feel).choice(PATTERNS[feel])
                if s.kind == "solo":
                    pattern = pattern[::2]  # leave room for the soloist
                must = {F(j) * slot_len for j in range(cpm)}
                hits = {o: d for o, d in pattern}
                for o in must:
                    hits.setdefault(o, F(1, 2))
                for onset, dur in sorted(hits.items()):
                    if onset >= length:
                        continue
                    v = voicing_at(onset)
                    if onset == F(7, 2) and k + 1 < s.measures and rng.random() < 0.3:
                        nxt = voicings[min((k + 1) * cpm, len(voicings) - 1)]
                        v = nxt  # anticipation: the next chord an eighth early
                        dur = F(1, 2)
                    accent = 96 if onset.denominator > 1 else 84
                    for n, p in enumerate(v):
                        events.append(note(onset, p, dur, accent - 3 * n + rng.randint(-5, 5), flats))
                # dead-note scratches between the stabs (the crunch)
                taken = {o for o in hits}
                for d in DEAD:
                    if d < length and d not in taken and all(abs(d - o) >= F(1, 4) for o in taken) \
                            and rng.random() < 0.25 + 0.4 * req.params.density:
                        v = voicing_at(d)
                        for p in v[:3]:
                            events.append(note(d, p, F(1, 8), 28 + rng.randint(0, 6), flats))
            # keep at most the instrument's polyphony at any onset
            by_onset: dict = {}
            for e in events:
                by_onset.setdefault(e.onset, []).append(e)
            kept = []
            for o, evs in by_onset.items():
                kept.extend(sorted(evs, key=lambda e: e.midi)[: inst.polyphony])
            out.measures[m] = clip(kept, length)
        return out
