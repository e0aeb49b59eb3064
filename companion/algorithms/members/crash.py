"""Crash, the Pulse Engine: restless energy, a hyperactive metronome.

Drums: a groove per tempo feel (sixteenth-note funk with ghost notes, or a swung ride), a
*polyrhythmic cycle* on cowbell or rim that repeats every 3, 5 or 7 sixteenths across the
barlines (the band's cosmic rhythm cycles), a crash on every section's downbeat, a fill into
every new section, and humanised timing (a few 1/96ths of a beat early or late) and velocity.

Bass (the rhythm section's, played by Crash too): roots on the changes, chord tones and
syncopated octaves in straight feels, a walking line in swing, with a chromatic approach
note into each new chord.
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction as F

from ..base import Algorithm, PartOutput, Request, clip, note
from ..theory import rng_for

KICK, SNARE, RIM, HAT, PEDAL, OPEN, RIDE, CRASH, COWBELL = 36, 38, 37, 42, 44, 46, 51, 49, 56
TOMS = (50, 48, 47, 45, 43, 41)
SIX = F(1, 4)


def humanise(events, rng, length: F, amount: int = 2):
    """Nudge onsets by up to ``amount``/96 of a beat and velocities by a few steps."""
    out = []
    for e in events:
        shift = F(rng.randint(-amount, amount), 96)
        onset = e.onset + shift
        if onset < 0 or onset >= length:
            onset = e.onset
        vel = max(1, min(127, e.vel + int(rng.gauss(0, 6))))
        out.append(replace(e, onset=onset, vel=vel))
    return out


class CrashDrums(Algorithm):
    member = "crash"
    summary = "grooves with fills, polyrhythmic cycles, humanised timing and velocity"
    traits = ("highest note density", "most syncopation", "a 3/5/7-sixteenth cycle across barlines",
              "off-grid (humanised) onsets")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        rng = req.rng()
        density = req.params.density
        swing = req.params.tempo_feel == "swing"
        cycle = rng_for("crash-cycle", req.seed).choice((3, 5, 7)) if s.kind != "intro" else 0
        energy = s.energy
        pos_total = 0
        for k, m in enumerate(s.range):
            length = req.measure_length(m)
            steps = int(length / SIX)
            ev = []
            last = k == s.measures - 1 and s.measures > 1 and s.kind != "outro"
            fill_from = steps // 2 if last else steps
            if req.tacet:
                continue
            if swing:
                for beat in range(int(length)):
                    ev.append(note(beat, RIDE, F(1, 4), 84 if beat % 2 == 0 else 72))
                    if beat % 2 == 1:
                        ev.append(note(beat + F(2, 3), RIDE, F(1, 6), 60))
                        ev.append(note(beat, PEDAL, F(1, 4), 70))
                    if rng.random() < 0.25 + 0.4 * density:
                        ev.append(note(beat + F(2, 3), SNARE, F(1, 6), 34 + rng.randint(0, 12)))  # comping
                    if beat == 0 or rng.random() < 0.15 * density:
                        ev.append(note(beat, KICK, F(1, 4), 60 + rng.randint(0, 10)))
                ev = [e for e in ev if e.onset < fill_from * SIX]
            else:
                hats16 = energy > 0.6 or density > 0.7
                for i in range(fill_from):
                    t = i * SIX
                    if hats16 or i % 2 == 0:
                        hat = OPEN if (i % 16 == 14 and rng.random() < 0.5) else HAT
                        ev.append(note(t, hat, SIX, (90 if i % 4 == 0 else 64) + rng.randint(-4, 4)))
                    if i % 16 in (0, 10) or (i % 16 in (3, 7, 11, 14) and rng.random() < 0.2 + 0.5 * density):
                        ev.append(note(t, KICK, SIX, 100 if i % 16 == 0 else 86))
                    if i % 8 == 4:
                        ev.append(note(t, SNARE, SIX, 108))
                    elif i % 16 in (2, 7, 9, 13, 15) and rng.random() < 0.3 + 0.5 * density:
                        ev.append(note(t, SNARE, SIX, 26 + rng.randint(0, 14)))  # ghost notes
            # the cosmic cycle: every `cycle` sixteenths, counted from the section start
            if cycle and energy >= 0.45:
                for i in range(fill_from):
                    if (pos_total + i) % cycle == 0:
                        ev.append(note(i * SIX, COWBELL if energy > 0.6 else RIM, SIX, 70 + rng.randint(-6, 6)))
            if k == 0 and s.kind != "intro":
                ev.append(note(0, CRASH, 1, 112))
            if last:
                ev.extend(self.fill(rng, fill_from, steps, swing))
            pos_total += steps
            out.measures[m] = clip(humanise(ev, rng, length), length)
        return out

    @staticmethod
    def fill(rng, start: int, steps: int, swing: bool):
        """A tom-and-snare run over the second half of the measure, rising in volume."""
        ev = []
        style = rng.choice(("toms", "snare-roll", "toms-triplets"))
        if style == "toms-triplets" or swing:
            n = (steps - start) * 3 // 4
            for j in range(n):
                ev.append(note(start * SIX + F(j, 3), TOMS[j * len(TOMS) // max(n, 1)], F(1, 3), 80 + j * 3))
        else:
            for j, i in enumerate(range(start, steps)):
                key = SNARE if style == "snare-roll" else TOMS[j * len(TOMS) // (steps - start)]
                ev.append(note(i * SIX, key, SIX, 76 + j * 4))
                if style == "snare-roll" and j % 2:
                    ev.append(note(i * SIX + F(1, 8), SNARE, F(1, 8), 60 + j * 3))
        ev.append(note(start * SIX, KICK, SIX, 96))
        return ev


class CrashBass(Algorithm):
    member = "crash"
    summary = "the rhythm section's bass: roots on the changes, walking or syncopated, chromatic approaches"
    traits = ("lowest register", "root on every chord change", "chromatic approach notes")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        inst = req.instrument
        s = req.section
        rng = req.rng()
        swing = req.params.tempo_feel == "swing"
        flats = req.key.flats
        low, high = inst.low, inst.comfortable_high
        prev = None
        for m in s.range:
            length = req.measure_length(m)
            if req.tacet:
                continue
            chords = req.harmony.in_measure(m)
            nxt_root = req.harmony.at(m + 1, F(0)).root
            ev = []
            for ci, (onset, chord) in enumerate(chords):
                end = chords[ci + 1][0] if ci + 1 < len(chords) else length
                root = low + (chord.root - low) % 12
                if root > low + 9:
                    root -= 0 if root - 12 < low else 12
                beats = []
                if s.kind in ("intro", "outro") and s.energy < 0.5:
                    beats = [(onset, end - onset, root)]
                elif swing:
                    t = onset
                    tones = [root, root + chord.intervals[1] % 12, root + 7]
                    while t < end:
                        if t == onset:
                            p = root
                        elif t + 1 >= end and ci + 1 >= len(chords):
                            target = low + (nxt_root - low) % 12
                            p = target + rng.choice((-1, 1))  # chromatic approach into the next chord
                        else:
                            p = rng.choice(tones)
                        beats.append((t, F(1), p))
                        t += 1
                else:
                    grid = [F(0), F(3, 4), F(3, 2), F(2), F(11, 4), F(7, 2)]
                    for g in grid:
                        t = onset + g
                        if t >= end:
                            break
                        if g == 0:
                            p, d = root, F(1, 2)
                        elif g in (F(3, 4), F(11, 4)):
                            if rng.random() > 0.3 + 0.5 * req.params.density:
                                continue
                            p, d = root + 12, F(1, 4)  # the octave pop
                        elif t + F(1, 2) >= length and ci + 1 >= len(chords):
                            target = low + (nxt_root - low) % 12
                            p, d = target + rng.choice((-1, 1)), F(1, 2)  # chromatic approach
                        else:
                            p, d = root + rng.choice((7, chord.intervals[1] % 12, 0, 10 if 10 in
                                                      [i % 12 for i in chord.intervals] else 7)), F(1, 2)
                        beats.append((t, d, p))
                for t, d, p in beats:
                    while p > high:
                        p -= 12
                    while p < low:
                        p += 12
                    ev.append(note(t, p, d, 92 + rng.randint(-8, 8) if t == onset else 80 + rng.randint(-8, 8),
                                   flats))
                    prev = p
            out.measures[m] = clip(ev, length)
        return out
