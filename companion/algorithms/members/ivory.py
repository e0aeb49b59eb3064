"""Ivory, the Melody Master and band leader: calm, cerebral, with a playful streak of syncopation.

Melody: one *motif* per piece (three to five notes: a rhythm and scale steps), developed phrase
by phrase the way a composer would: statement, sequence (moved up the scale), inversion,
retrograde, augmentation, fragmentation, and a playful rhythmic displacement by an eighth.
Steps are realised in the chord scale of the changes sounding at each note, so the line always
fits Chops' harmony. In solos she lays out; in verses she answers the singer with short fills.

Arrangement: as the leader Ivory decides who is featured in which section (solos alternate
between Reed and Brass, Verse takes the verses, the last head doubles the melody in the horns)
and who lays out; she writes that into the section markers (``feature=``, ``tacet=``, ``double=``).
Her vintage polysynth holds guide-tone pads under quiet sections.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction as F

from ..base import Algorithm, PartOutput, Request, Section, clip, note
from ..theory import nearest_in, rng_for, scale_step


@dataclass(frozen=True)
class Motif:
    rhythm: tuple[tuple[F, F], ...]  # (onset within the motif, duration)
    steps: tuple[int, ...]           # scale steps from the first note

    @property
    def length(self) -> F:
        return max(o + d for o, d in self.rhythm)


def make_motif(seed) -> Motif:
    rng = rng_for("ivory-motif", seed)
    n = rng.choice((3, 4, 4, 5))
    durs = [rng.choice((F(1, 2), F(1, 2), F(1), F(3, 2), F(1, 4))) for _ in range(n)]
    onsets, t = [], F(rng.choice((0, 0, 1, 2)), 2)  # may start off the beat: her syncopation
    for d in durs:
        onsets.append(t)
        t += d
    steps, cur = [0], 0
    for _ in range(n - 1):
        cur += rng.choice((-2, -1, 1, 1, 2, 3, -3, 4))
        steps.append(cur)
    return Motif(tuple(zip(onsets, durs)), tuple(steps))


DEVELOPMENT = ("statement", "sequence", "inversion", "displacement", "retrograde", "augmentation", "fragment")


def develop(m: Motif, op: str, amount: int = 2) -> Motif:
    if op == "sequence":
        return replace(m, steps=tuple(s + amount for s in m.steps))
    if op == "inversion":
        return replace(m, steps=tuple(-s for s in m.steps))
    if op == "retrograde":
        return replace(m, steps=tuple(reversed(m.steps)))
    if op == "displacement":
        return replace(m, rhythm=tuple((o + F(1, 2), d) for o, d in m.rhythm))
    if op == "augmentation":
        return replace(m, rhythm=tuple((o * 2, d * 2) for o, d in m.rhythm))
    if op == "fragment":
        k = max(2, len(m.steps) - 2)
        return Motif(m.rhythm[:k], m.steps[:k])
    return m


def arrange(sections: list[Section], seed: int, members: set[str]) -> list[Section]:
    """Who is featured, who doubles the melody and who lays out, per section."""
    rng = rng_for("ivory-arrange", seed)
    soloists = [x for x in ("reed", "brass") if x in members]
    if len(soloists) == 2 and rng.random() < 0.5:
        soloists.reverse()
    out, solo_i = [], 0
    for s in sections:
        feature, tacet, double = None, [], []
        if s.kind == "solo" and soloists:
            feature = soloists[solo_i % len(soloists)]
            solo_i += 1
            tacet = [x for x in soloists if x != feature] + ["verse"]
        elif s.kind == "verse":
            feature = "verse" if "verse" in members else "ivory"
            tacet = ["brass"]
        elif s.kind == "intro":
            tacet = ["reed", "brass", "verse"]
        elif s.kind == "bridge":
            feature, tacet = "ivory", ["brass", "verse"]
        elif s.kind == "head":
            feature = "ivory"
            tacet = ["verse"]
            if s is sections[-2] or (len(sections) > 2 and s.start == sections[-2].start):
                double = [x for x in ("reed", "brass") if x in members]
        elif s.kind == "outro":
            tacet = ["brass"]
        out.append(replace(s, feature=feature, tacet=tuple(t for t in tacet if t in members or t == "verse"),
                           double=tuple(double)))
    return out


def melody(req: Request, register: int = 72) -> dict[int, list]:
    """Ivory's motif-developed melody over the section (the horns double it when arranged so)."""
    s = req.section
    motif = make_motif(req.seed)
    rng = rng_for("ivory-melody", req.seed, s.kind, s.measures)
    inst_low, inst_high = max(req.instrument.low, register - 14), min(req.instrument.high, register + 14)
    out: dict[int, list] = {m: [] for m in s.range}
    phrase_len = 2  # measures per phrase
    flats = req.key.flats
    anchor = register
    for pi, start in enumerate(range(s.start, s.start + s.measures, phrase_len)):
        if pi == 0:
            op = "statement"
        elif start + phrase_len > s.end:
            op = "fragment"
        else:
            op = rng.choice(DEVELOPMENT[1:])
        mo = develop(motif, op, amount=rng.choice((1, 2, 3, -2)))
        # an answer in the phrase's second half: the motif again, sequenced
        answer = develop(mo, "sequence", amount=rng.choice((-1, 1, 2)))
        length = req.measure_length(start)
        items = [(o, d, st) for (o, d), st in zip(mo.rhythm, mo.steps)]
        off2 = max(mo.length, length) if mo.length < length * 2 else length
        items += [(off2 + o, d, st) for (o, d), st in zip(answer.rhythm, answer.steps) if off2 + o < 2 * length]
        chord0 = req.harmony.at(start, F(0))
        base = nearest_in(chord0.pcs, anchor, inst_low, inst_high)
        for o, d, st in items:
            m = start + int(o // length)
            if m > s.end:
                break
            on = o - (m - start) * length
            chord = req.harmony.at(m, on)
            p = scale_step(chord.scale_pcs, base, st, inst_low, inst_high)
            if on == 0 or d >= 1:
                p = nearest_in(chord.pcs, p, inst_low, inst_high)  # strong beats and long notes: chord tones
            vel = 78 + (8 if on.denominator > 1 else 0) + rng.randint(-6, 6)  # accent the syncopations
            out[m].append(note(on, p, d, vel, flats))
        anchor = base + rng.choice((-2, 0, 2, 3))
    return out


class IvoryKeys(Algorithm):
    member = "ivory"
    summary = "motif-based melodies with development; arranges the band"
    traits = ("repeated interval patterns (motif development)", "moderate syncopation", "upper-middle register")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        if req.tacet:
            return out
        if s.kind in ("head", "bridge", "outro", "intro") or (s.feature == "ivory"):
            mel = melody(req, register=72 if s.kind != "intro" else 67)
            if s.kind == "intro":
                mel = {m: [e for e in evs if e.onset.denominator == 1] for m, evs in mel.items()}
        else:
            # fills answering the singer or soloist: the motif's head, two beats, every other measure
            mel = {m: [] for m in s.range}
            motif = make_motif(req.seed)
            rng = req.rng("fills")
            for k, m in enumerate(s.range):
                if k % 2 == 1 and rng.random() < 0.7:
                    chord = req.harmony.at(m, F(2))
                    base = nearest_in(chord.pcs, 76, req.instrument.low, req.instrument.high)
                    for (o, d), st in list(zip(motif.rhythm, motif.steps))[:3]:
                        on = F(2) + o / 2
                        if on < req.measure_length(m):
                            p = scale_step(chord.scale_pcs, base, st, 60, 96)
                            mel[m].append(note(on, p, d / 2, 64 + rng.randint(-5, 5), req.key.flats))
        for m, evs in mel.items():
            out.measures[m] = clip(evs, req.measure_length(m))
        return out


class IvorySynth(Algorithm):
    member = "ivory"
    summary = "vintage polysynth pads: guide tones and a colour tone under quiet sections"
    traits = ("long notes", "three-note pads")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        inst = req.instrument
        if req.tacet or s.energy > 0.8:
            return out
        prev = [60, 64, 69]
        for m in s.range:
            evs = []
            length = req.measure_length(m)
            chords = req.harmony.in_measure(m)
            for ci, (onset, chord) in enumerate(chords):
                end = chords[ci + 1][0] if ci + 1 < len(chords) else length
                g3, g7 = chord.guide_tones
                colour = next(((chord.root + i) % 12 for i in chord.intervals if i % 12 in (2, 5, 6, 9)), chord.root)
                pcs = [g3, g7, colour]
                voicing = sorted(nearest_in({pc}, p, inst.comfortable_low, inst.comfortable_high)
                                 for pc, p in zip(pcs, prev))
                prev = voicing
                for p in voicing:
                    evs.append(note(onset, p, end - onset, 56, req.key.flats))
            out.measures[m] = clip(evs, length)
        return out
