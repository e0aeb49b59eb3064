"""Form, the Architect: quiet, watchful, always orchestrating.

Form lays out the piece (sections with an energy arc, tempo, meter, key and a marker per
section, written to global.txt) and, in its own ``form`` part, shapes dynamics and the mix:
a dynamic mark per section, CC7 (volume), CC10 (pan) and CC91 (reverb send) per part channel
at each section start, and CC11 swells into sections that rise in energy.
"""
from __future__ import annotations

from fractions import Fraction

from ...compositions.model import Event, GlobalEvent
from ..base import Algorithm, Params, PartOutput, Request, Section
from ..theory import Key, rng_for

DYNAMICS = ((0.25, "pp"), (0.4, "p"), (0.55, "mp"), (0.7, "mf"), (0.85, "f"), (1.01, "ff"))
ENERGY = {"intro": 0.3, "head": 0.6, "verse": 0.5, "solo": 0.75, "bridge": 0.45, "break": 0.35, "outro": 0.35}


def layout(measures: int, seed: int, params: Params) -> list[Section]:
    """Sections for a piece of ``measures`` bars: intro, then 8-bar blocks (4 for short pieces)
    cycling through head, verse, solo, solo, bridge, a last head that peaks, and an outro."""
    rng = rng_for("form-layout", seed, measures, params.mood)
    if measures < 4:
        return [Section("head1", "head", 1, measures, 0.6)]
    edge = 2 if measures < 24 else 4
    block = 4 if measures < 40 else 8
    body = measures - 2 * edge
    kinds_cycle = ["head", "verse", "solo", "solo", "bridge", "verse", "solo", "head"]
    if rng.random() < 0.5:
        kinds_cycle[1], kinds_cycle[2] = kinds_cycle[2], kinds_cycle[1]
    sections = [Section("intro", "intro", 1, edge, 0.3)]
    m, counts = 1 + edge, {}
    blocks = max(1, body // block)
    for b in range(blocks):
        length = block if b < blocks - 1 else body - block * (blocks - 1)
        kind = "head" if b == 0 or (b == blocks - 1 and blocks > 1) else kinds_cycle[1 + (b - 1) % 7]
        counts[kind] = counts.get(kind, 0) + 1
        energy = ENERGY[kind] + rng.uniform(-0.05, 0.05) + (0.3 if b == blocks - 1 and blocks > 1 else 0)
        sections.append(Section(f"{kind}{counts[kind]}", kind, m, length, round(min(0.95, energy), 2)))
        m += length
    sections.append(Section("outro", "outro", m, measures - m + 1, 0.35))
    return sections


def global_events(sections: list[Section], params: Params) -> list[GlobalEvent]:
    key = Key.parse(params.key)
    from ...compositions.model import parse_key
    tonic = key.name_text().split()[0]
    try:
        k = parse_key([tonic, key.mode])
    except Exception:
        enh = {"Db": "C#", "Gb": "F#", "Ab": "G#", "Eb": "D#", "Bb": "A#", "C#": "Db", "F#": "Gb", "G#": "Ab"}
        k = parse_key([enh.get(tonic, tonic), key.mode])
    us = round(60_000_000 / params.tempo)
    out = [GlobalEvent(1, Fraction(0), "meter", "4/4"), GlobalEvent(1, Fraction(0), "key", k),
           GlobalEvent(1, Fraction(0), "tempo", us)]
    for s in sections:
        out.append(GlobalEvent(s.start, Fraction(0), "marker", s.marker()))
    # a slight ritardando over the outro's last measure
    if sections and sections[-1].kind == "outro" and sections[-1].measures >= 2:
        out.append(GlobalEvent(sections[-1].end, Fraction(2), "tempo", round(us * 1.12)))
    return out


def dynamic(energy: float) -> str:
    return next(mark for limit, mark in DYNAMICS if energy < limit)


class Form(Algorithm):
    member = "form"
    summary = "sections, structure, dynamics and mix automation"
    traits = ("one marker per section", "energy arc peaking in the last head", "mix automation per channel")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        rng = req.rng()
        out.add(s.start, Event(Fraction(0), "dyn", value=dynamic(s.energy)))
        for p in req.composition.parts:
            if p.kind == "form":
                continue
            owner = p.owner or ""
            featured = s.feature is not None and owner == s.feature
            base = 100 if featured else (88 if s.feature else 96)
            if owner in s.tacet:
                base = 0
            vol = max(0, min(127, int(base + (s.energy - 0.5) * 20 + rng.randint(-2, 2))))
            out.add(s.start, Event(Fraction(0), "cc", num=7, value=vol, ch=p.channel))
            reverb = 30 + int(40 * (1 - s.energy)) + (20 if s.kind in ("bridge", "outro", "intro") else 0)
            out.add(s.start, Event(Fraction(0), "cc", num=91, value=min(127, reverb), ch=p.channel))
        # a swell (CC11 expression ramp) into the next section when it rises in energy
        nxt = next((x for x in req.sections if x.start == s.end + 1), None)
        if nxt is not None and nxt.energy > s.energy + 0.05 and s.measures >= 2:
            for beat in range(4):
                for p in req.composition.parts:
                    if p.kind != "form":
                        out.add(s.end, Event(Fraction(beat), "cc", num=11, value=90 + beat * 12, ch=p.channel))
            if nxt.start <= req.composition.measures:
                for p in req.composition.parts:
                    if p.kind != "form":
                        out.add(nxt.start, Event(Fraction(0), "cc", num=11, value=127, ch=p.channel))
        return out
