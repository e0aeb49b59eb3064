"""What a music21 score holds, part by part, in the terms the canonical format keeps: the
yardstick of the MusicXML round-trip tests (source vs. what the API exports).

Every kind is a sorted list of hashable tuples per part (measure index from 1, offset within
the measure as a Fraction), so a test can compare each kind of each part on its own and say
exactly what was lost.
"""
from __future__ import annotations

from collections import Counter
from fractions import Fraction

KINDS = ("notes", "clefs", "meters", "keys", "slurs", "hairpins", "articulations", "ornaments", "fermatas",
         "dynamics", "lyrics")


def _q(x) -> Fraction:
    return Fraction(x).limit_denominator(100000)


def _changes(items):
    """Only where the value changes (a repeated signature is not a change)."""
    out, last = [], object()
    for m, off, v in items:
        if v != last:
            out.append((m, off, v))
            last = v
    return out


def census(score) -> dict:
    """{"parts": [{kind: sorted list}], "tempos": sorted list} of a parsed score."""
    from music21 import clef, dynamics, harmony, key, meter, note, spanner, stream, tempo
    from companion.compositions.musicxml import MeasureTimes, _marks_of, clef_name, tempo_text

    parts = list(score.parts)
    where: dict[int, tuple[int, int, Fraction, Fraction]] = {}  # id -> (part, measure, offset, abs)
    out = []
    for pi, p in enumerate(parts):
        d: dict[str, list] = {k: [] for k in KINDS}
        clefs, meters, keys = [], [], []
        for i, m in enumerate(p.getElementsByClass(stream.Measure)):
            num = i + 1
            start = _q(m.offset)
            times = MeasureTimes(m)  # times as notated (a writer's rounding to its divisions undone)
            for c in m.recurse().getElementsByClass(clef.Clef):
                clefs.append((num, times.direction(c.getOffsetInHierarchy(m)), clef_name(c)))
            for ts in m.getElementsByClass(meter.TimeSignature):
                meters.append((num, _q(ts.offset), ts.ratioString))
            for ks in m.getElementsByClass(key.KeySignature):
                keys.append((num, _q(ks.offset), ks.sharps))
            for dy in m.recurse().getElementsByClass(dynamics.Dynamic):
                d["dynamics"].append((num, times.nearest(dy.getOffsetInHierarchy(m), notes_only=True), dy.value))
            for el in m.recurse().getElementsByClass(note.GeneralNote):
                if isinstance(el, harmony.Harmony):
                    continue  # chord symbols are not kept (documented)
                off = times.note(el.getOffsetInHierarchy(m))
                dur = Fraction(0) if el.duration.isGrace else times.note(_q(el.getOffsetInHierarchy(m)) + _q(el.duration.quarterLength)) - off
                where[id(el)] = (pi, num, off, start + off)
                if isinstance(el, note.Rest):
                    continue
                for nn in (el.notes if el.isChord else [el]):
                    where[id(nn)] = (pi, num, off, start + off)
                    d["notes"].append((num, off, nn.pitch.nameWithOctave, dur,
                                       nn.tie.type if nn.tie is not None else ""))
                art, orn = _marks_of(el)
                art, orn = list(dict.fromkeys(art)), list(dict.fromkeys(orn))  # a mark given twice is one mark
                for a in art:
                    (d["fermatas"] if a == "fermata" else d["articulations"]).append((num, off, a))
                for o in orn:
                    d["ornaments"].append((num, off, o))
                for ly in el.lyrics or ():
                    if ly.text:
                        # an elision (music21's "composite") is kept as its text, one syllable
                        syllabic = "single" if ly.syllabic in (None, "composite") else ly.syllabic
                        d["lyrics"].append((num, off, ly.number, ly.text, syllabic))
        d["clefs"] = _changes(sorted(clefs, key=lambda x: (x[0], x[1])))
        d["meters"] = _changes(sorted(meters, key=lambda x: (x[0], x[1])))
        d["keys"] = _changes(sorted(keys, key=lambda x: (x[0], x[1])))
        out.append(d)
    for sp in score.spannerBundle:
        if isinstance(sp, spanner.Slur):
            kind = "slurs"
        elif isinstance(sp, (dynamics.Crescendo, dynamics.Diminuendo)):
            kind = "hairpins"
        else:
            continue
        a, b = where.get(id(sp.getFirst())), where.get(id(sp.getLast()))
        if a is None or b is None or b[3] < a[3]:
            continue  # a spanner music21 reads as ending before it starts is not kept (documented)
        out[a[0]][kind].append((a[1], a[2], b[3] - a[3], type(sp).__name__))
    for d in out:
        for k in KINDS:
            d[k] = sorted(d[k], key=repr)
    # tempo marks are the score's: one per (measure, tempo, beat printed), with the words any
    # part's copy of it stands beside
    tempos: dict[tuple, str | None] = {}
    for p in parts:
        for i, m in enumerate(p.getElementsByClass(stream.Measure)):
            times = MeasureTimes(m)
            for mm in m.recurse().getElementsByClass(tempo.MetronomeMark):
                if mm.getQuarterBPM():
                    k = (i + 1, round(mm.getQuarterBPM(), 2), _q(mm.referent.quarterLength) if mm.number is not None
                         else None)
                    tempos[k] = tempos.get(k) or tempo_text(m, mm, times) or None
    return {"parts": out, "tempos": sorted(((m, bpm, text, beat) for (m, bpm, beat), text in tempos.items()), key=repr)}


def differences(a: dict, b: dict) -> dict:
    """{(part index, kind): (only in a, only in b)} where the two censuses differ."""
    out = {}
    for pi, (pa, pb) in enumerate(zip(a["parts"], b["parts"])):
        for k in KINDS:
            ca, cb = Counter(pa[k]), Counter(pb[k])
            if ca != cb:
                out[(pi, k)] = (sorted((ca - cb).elements(), key=repr)[:5], sorted((cb - ca).elements(), key=repr)[:5],
                                len(pa[k]), len(pb[k]))
    if len(a["parts"]) != len(b["parts"]):
        out[("parts", "count")] = (len(a["parts"]), len(b["parts"]))
    if a["tempos"] != b["tempos"]:
        out[("score", "tempos")] = (sorted(set(a["tempos"]) - set(b["tempos"]), key=repr),
                                    sorted(set(b["tempos"]) - set(a["tempos"]), key=repr))
    return out


def totals(c: dict) -> dict:
    """How many of each kind a census holds (over all parts), to show a test checks something."""
    t = Counter()
    for d in c["parts"]:
        for k in KINDS:
            t[k] += len(d[k])
    t["tempos"] = len(c["tempos"])
    return dict(t)
