"""Reed and Brass, the horns: both improvise over the changes, in opposite ways.

Reed (Lyrical Breeze, alto sax) is cool and introspective and *talks through his solos*: short
phrases separated by long rests (question, breath, answer), mostly stepwise in the chord scale,
long notes landing on guide tones, the odd chromatic passing tone, a soft dynamic arch.

Brass (Frontline Flame, trumpet) wants the spotlight: dense eighth, sixteenth and triplet runs,
wide leaps, a climb to a screaming high note near the top of the horn with a rip into it, loud
throughout. When not soloing he punctuates the heads with *horn hits*: short accented stabs on
the syncopations.

Both double Ivory's melody when she arranges it so (Reed an octave below, Brass at pitch).
"""
from __future__ import annotations

from fractions import Fraction as F

from ..base import Algorithm, PartOutput, Request, clip, note
from ..theory import nearest_in, scale_step
from .ivory import melody


def _fit(p: int, low: int, high: int) -> int:
    while p > high:
        p -= 12
    while p < low:
        p += 12
    return p


def doubled(req: Request, shift: int) -> dict[int, list]:
    """Ivory's melody shifted by ``shift`` semitones into the horn's comfortable range, clipped to each measure."""
    inst = req.instrument
    out = {}
    for m, evs in melody(req).items():
        out[m] = clip([note(e.onset, _fit(e.midi + shift, inst.comfortable_low, inst.comfortable_high), e.dur,
                            e.vel + 6, req.key.flats) for e in evs], req.measure_length(m))
    return out


class Reed(Algorithm):
    member = "reed"
    summary = "lyrical, sparse solos: phrases and breaths, stepwise lines landing on guide tones"
    traits = ("lowest note density of the soloists", "smallest intervals", "most rests", "soft")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        inst = req.instrument
        if req.tacet:
            return out
        if req.member in s.double:
            out.measures.update(doubled(req, -12))
            return out
        rng = req.rng()
        lo, hi = inst.comfortable_low, inst.comfortable_high
        if not req.featured:
            # background: a soft guide tone now and then under heads and verses
            for k, m in enumerate(s.range):
                if s.kind in ("head", "verse", "outro") and k % 4 == 2 and rng.random() < 0.6:
                    g = req.harmony.at(m, F(0)).guide_tones[1]
                    out.measures[m] = [note(0, nearest_in({g}, 64, lo, hi), F(3), 54, req.key.flats)]
            return out
        cur = nearest_in(req.harmony.at(s.start, F(0)).guide_tones, 68, lo, hi)
        k = 0
        while k < s.measures:
            phrase = rng.choice((1, 1, 2))
            for j in range(phrase):
                m = s.start + k + j
                if m > s.end:
                    break
                length = req.measure_length(m)
                t = F(rng.choice((0, 1, 2)), 2)  # he often starts after the beat, like speech
                evs = []
                while t < length - F(1, 2):
                    d = rng.choice((F(1, 2), F(1), F(1), F(3, 2), F(2), F(1, 2)))
                    chord = req.harmony.at(m, t)
                    step = rng.choice((-1, -1, 1, 1, 1, -2, 2, 0))
                    nxt = scale_step(chord.scale_pcs, cur, step, lo, hi)
                    if d >= 1 or t == 0:
                        nxt = nearest_in(set(chord.guide_tones) | chord.pcs, nxt, lo, hi)
                    if abs(nxt - cur) == 2 and d >= 1 and rng.random() < 0.25 and t + F(1, 2) < length:
                        # a chromatic passing tone between two scale tones a whole step apart
                        evs.append(note(t, (cur + nxt) // 2, F(1, 2), 60, req.key.flats))
                        t += F(1, 2)
                    vel = 62 + int(14 * (1 - abs(2 * float(t / length) - 1))) + rng.randint(-4, 4)
                    evs.append(note(t, nxt, min(d, length - t), vel, req.key.flats))
                    cur = nxt
                    t += d
                    if rng.random() < 0.2:
                        t += F(1, 2)  # a breath inside the phrase
                out.measures[m] = clip(evs, length)
            k += phrase + rng.choice((1, 1, 2))  # then he listens: one or two measures of rest
        return out


class Brass(Algorithm):
    member = "brass"
    summary = "loud, showy solos with runs, leaps and a high climax; horn hits on the heads"
    traits = ("loudest", "highest register", "densest solos", "widest leaps", "horn hits")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        inst = req.instrument
        if req.tacet:
            return out
        if req.member in s.double:
            out.measures.update(doubled(req, 0))
            return out
        rng = req.rng()
        lo, hi = inst.comfortable_low, inst.comfortable_high
        flats = req.key.flats
        if not req.featured:
            if s.kind in ("head", "outro", "verse") and s.energy >= 0.45:
                for k, m in enumerate(s.range):
                    if k % 2 == 1 or s.kind == "outro":
                        length = req.measure_length(m)
                        for t in (F(3, 2), F(7, 2)) if k % 4 == 1 else (F(5, 2),):
                            if t < length:
                                chord = req.harmony.at(m, t)
                                p = nearest_in(set(chord.guide_tones), 74, lo, hi)
                                out.measures.setdefault(m, []).append(note(t, p, F(1, 4), 112 + rng.randint(0, 10),
                                                                           flats))
            return out
        cur = nearest_in(req.harmony.at(s.start, F(0)).pcs, 70, lo, hi)
        climax = s.start + (s.measures * 3) // 4
        for k, m in enumerate(s.range):
            length = req.measure_length(m)
            evs = []
            t = F(0)
            rising = m < climax
            while t < length:
                chord = req.harmony.at(m, t)
                if m == climax and t == 0:
                    top = nearest_in(chord.pcs, hi - 1, lo, hi)
                    for j, g in enumerate((-4, -3, -2, -1)):  # the rip up into the high note
                        evs.append(note(F(j, 8), scale_step(chord.scale_pcs, top, g, lo, hi), F(1, 8), 100 + j * 5,
                                        flats))
                    evs.append(note(F(1, 2), top, F(5, 2), 127, flats))
                    cur, t = top, F(3)
                    continue
                figure = rng.choice(("run8", "run16", "trip", "leap", "leap"))
                target = hi - 2 if rising else (lo + hi) // 2
                up = 1 if cur < target else -1
                if figure == "run16" and t + 1 <= length:
                    for j in range(4):  # an arpeggiated run in thirds towards the target
                        cur = scale_step(chord.scale_pcs, cur, 2 * up, lo, hi)
                        evs.append(note(t + F(j, 4), cur, F(1, 4), 104 + rng.randint(0, 14), flats))
                    t += 1
                elif figure == "trip" and t + 1 <= length:
                    for j, st in enumerate((2 * up, -up, 3 * up)):
                        cur = scale_step(chord.scale_pcs, cur, st, lo, hi)
                        evs.append(note(t + F(j, 3), cur, F(1, 3), 106 + rng.randint(0, 12), flats))
                    t += 1
                elif figure == "leap":
                    jump = rng.choice((7, 8, 9, 12)) * (up if rng.random() < 0.7 else -up)
                    if not lo <= cur + jump <= hi:
                        jump = -jump
                    cur = nearest_in(chord.pcs, max(lo, min(hi, cur + jump)), lo, hi)
                    evs.append(note(t, cur, F(1, 2), 118 + rng.randint(0, 9), flats))
                    t += F(1, 2)
                else:
                    for j in range(2):
                        cur = scale_step(chord.scale_pcs, cur, rng.choice((2, 3)) * up, lo, hi)
                        evs.append(note(t + F(j, 2), cur, F(1, 2), 102 + rng.randint(0, 12), flats))
                    t += 1
            out.measures[m] = clip(evs, length)
        return out
