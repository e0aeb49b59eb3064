"""MusicXML import and export through music21.

Kept: parts (name, instrument, MIDI program and channel), measures and their lengths
(pickups), meter, key and tempo changes, every note's spelled pitch, onset, duration,
voice, tie and lyrics, chords (as simultaneous notes of one voice), grace notes and
dynamics. Not kept: layout, articulations, slurs, beams, chord symbols, repeats.
"""
from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from fractions import Fraction
from typing import Any

from .midi import guess_kind
from .model import _PITCH_RE, Composition, Event, GlobalEvent, Part, meter_length, pitch_to_midi, slugify


class MusicXMLError(ValueError):
    """The bytes are not a MusicXML score this importer can read."""


def _q(x) -> Fraction:
    return Fraction(x).limit_denominator(100000) if not isinstance(x, Fraction) else x


def read_musicxml(data: bytes, title: str = "", band=None) -> Composition:
    """Parse MusicXML (.musicxml/.xml or compressed .mxl) bytes. Raises MusicXMLError."""
    from music21 import converter, stream

    if not data or not data.strip():
        raise MusicXMLError("the upload is empty")
    is_zip = data[:2] == b"PK"
    if not is_zip and b"<score-partwise" not in data[:4000] and b"<score-timewise" not in data[:4000]:
        raise MusicXMLError("not a MusicXML document (no score-partwise or score-timewise element)")
    fd, path = tempfile.mkstemp(suffix=".mxl" if is_zip else ".musicxml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            score = converter.parse(path, format="musicxml", forceSource=True)
        except Exception as exc:  # music21 raises many kinds on bad XML
            raise MusicXMLError(f"not a readable MusicXML score: {exc}") from None
    finally:
        os.unlink(path)
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    if not isinstance(score, stream.Score) or not score.parts:
        raise MusicXMLError("the score has no parts")
    return from_music21(score, title=title, band=band)


def _last_length(parts) -> Fraction:
    """The last measure's length, ignoring hidden rests a writer added to fill the bar."""
    from music21 import note, stream

    end = Fraction(0)
    for p in parts:
        measures = p.getElementsByClass(stream.Measure)
        if not measures:
            continue
        m = measures[-1]
        for el in m.recurse().getElementsByClass(note.GeneralNote):
            if isinstance(el, note.Rest) and el.style.hideObjectOnPrint:
                continue
            t = _q(el.getOffsetInHierarchy(m)) + _q(el.duration.quarterLength)
            end = max(end, t)
    return end


def from_music21(score, title: str = "", band=None) -> Composition:
    from music21 import chord, dynamics, key, note, stream, tempo

    md_title = ""
    if score.metadata is not None:
        md_title = score.metadata.title or score.metadata.movementName or ""
    comp = Composition(title=title or md_title or "")
    comp.meta_extra["source"] = {"kind": "musicxml"}
    parts = list(score.parts)
    # the measure grid from the first part
    first_measures = list(parts[0].getElementsByClass(stream.Measure))
    n = len(first_measures)
    comp.measures = n
    offsets = [_q(m.offset) for m in first_measures]
    cur_meter = None
    for i, m in enumerate(first_measures):
        num = i + 1
        ts = m.timeSignature
        if ts is not None and ts.ratioString != cur_meter:
            cur_meter = ts.ratioString
            comp.global_events.append(GlobalEvent(num, Fraction(0), "meter", cur_meter))
        nominal = meter_length(cur_meter) if cur_meter else Fraction(4)
        actual = (offsets[i + 1] - offsets[i]) if i + 1 < n else _last_length(parts)
        if actual != nominal and actual > 0:
            comp.global_events.append(GlobalEvent(num, Fraction(0), "length", actual))
    cur_key = None
    used: set[str] = set()
    for pi, p in enumerate(parts):
        name = p.partName or p.id or f"part {pi + 1}"
        pid = slugify(str(name), f"part-{pi + 1}")
        base, k = pid, 2
        while pid in used:
            pid, k = f"{base}-{k}", k + 1
        used.add(pid)
        inst = p.getInstrument(returnDefault=False)
        program = inst.midiProgram if inst is not None else None
        channel = inst.midiChannel if inst is not None and inst.midiChannel is not None else pi % 16
        kind, lead = guess_kind(program, channel, f"{name} {inst.instrumentName if inst else ''}")
        owner = None
        if band is not None:
            owners = band.owner_of(kind, lead)
            owner = owners[0] if len(owners) == 1 else None
        part = Part(id=pid, name=str(name), instrument=(inst.instrumentName or "") if inst else "",
                    program=program, channel=channel, kind=kind, owner=owner)
        if lead:
            part.extra["lead_instrument"] = lead
        comp.parts.append(part)
        for i, m in enumerate(p.getElementsByClass(stream.Measure)):
            num = i + 1
            if num > comp.measures:
                comp.measures = num
            evs: list[Event] = []
            # global events from the first part only (meter/key/tempo are score-wide)
            if pi == 0:
                for ks in m.getElementsByClass(key.KeySignature):
                    mode = getattr(ks, "mode", None)
                    mode = mode if mode in ("major", "minor") else None
                    val = (ks.sharps, mode)
                    if val != cur_key and -7 <= ks.sharps <= 7:
                        cur_key = val
                        comp.global_events.append(GlobalEvent(num, _q(ks.offset), "key", val))
                for mm in m.recurse().getElementsByClass(tempo.MetronomeMark):
                    qpm = mm.getQuarterBPM()
                    if qpm:
                        comp.global_events.append(GlobalEvent(num, _q(mm.getOffsetInHierarchy(m)), "tempo",
                                                              round(60_000_000 / qpm)))
            for d in m.recurse().getElementsByClass(dynamics.Dynamic):
                evs.append(Event(Fraction(d.getOffsetInHierarchy(m)).limit_denominator(192), "dyn", value=d.value))
            containers: list[tuple[int, Any, Fraction]] = []
            voices = list(m.voices)
            if voices:
                for vi, v in enumerate(voices):
                    try:
                        vid = int(v.id)
                    except (TypeError, ValueError):
                        vid = vi + 1
                    containers.append((vid if vid >= 1 else vi + 1, v, _q(v.offset)))
            if len(voices) == 1 and not m.notes:
                containers = [(1, voices[0], _q(voices[0].offset))]  # a lone voice is voice 1
            containers.append((1, m, Fraction(0)))
            for vid, cont, base_off in containers:
                for el in cont.getElementsByClass((note.Note, chord.Chord)):
                    onset = base_off + _q(el.offset)
                    grace = el.duration.isGrace
                    dur = Fraction(0) if grace else _q(el.duration.quarterLength)
                    lyrics = tuple(ly.text for ly in el.lyrics if ly.text) if el.lyrics else ()
                    members = [el] if isinstance(el, note.Note) else list(el.notes)
                    vel = el.volume.velocity if el.volume.velocity is not None else 64
                    for j, nn in enumerate(members):
                        pitch = nn.pitch
                        alter = int(pitch.accidental.alter) if pitch.accidental is not None else 0
                        if alter not in (-2, -1, 0, 1, 2):
                            alter = 0
                        acc = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}[alter]
                        octave = pitch.octave if pitch.octave is not None else pitch.implicitOctave
                        name = f"{pitch.step}{acc}{octave}"
                        if not 0 <= pitch_to_midi(name) <= 127:
                            continue
                        tie = nn.tie.type if nn.tie is not None else (el.tie.type if el.tie is not None else "")
                        if tie == "let-ring":
                            tie = ""
                        evs.append(Event(onset, "note", pitch=name, dur=dur, vel=int(vel), voice=vid,
                                         tie=tie or "", grace=grace, lyrics=lyrics if j == 0 else ()))
            comp.set_events(pid, num, evs)
    return comp


# --------------------------------------------------------------------------- export

def to_music21(comp: Composition):
    from music21 import chord, duration, dynamics, instrument, key, meter, metadata, note, stream, tempo, tie

    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = comp.title
    grid = comp.grid()
    globals_by_measure: dict[int, list[GlobalEvent]] = defaultdict(list)
    for g in comp.global_events:
        globals_by_measure[g.measure].append(g)
    for pi, p in enumerate(comp.parts):
        part = stream.Part(id=p.id)
        part.partName = p.name or p.id
        inst = instrument.Instrument()
        inst.partName = p.name or p.id
        inst.instrumentName = p.instrument or p.name or p.id
        if p.program is not None:
            inst.midiProgram = p.program
        inst.midiChannel = p.channel
        part.insert(0, inst)
        carry: list[tuple[int, Event, Fraction]] = []  # (voice, event, remaining) crossing a barline
        for num in range(1, comp.measures + 1):
            start, length, meter_str = grid[num - 1]
            m = stream.Measure(number=num)
            for g in sorted(globals_by_measure.get(num, ()), key=GlobalEvent.sort_key):
                if g.kind == "meter":
                    m.insert(g.onset, meter.TimeSignature(g.value))
                elif g.kind == "key":
                    ks = key.KeySignature(g.value[0])
                    if g.value[1]:
                        ks = ks.asKey(g.value[1])
                    m.insert(g.onset, ks)
                elif g.kind == "tempo" and pi == 0:
                    m.insert(g.onset, tempo.MetronomeMark(number=round(60_000_000 / g.value, 3), referent=1.0))
            if num == 1 and not any(g.kind == "meter" for g in globals_by_measure.get(1, ())):
                m.insert(0, meter.TimeSignature("4/4"))
            if length < meter_length(meter_str):
                if num == 1:
                    m.paddingLeft = float(meter_length(meter_str) - length)
                else:
                    m.paddingRight = float(meter_length(meter_str) - length)
            by_voice: dict[int, list[Event]] = defaultdict(list)
            for v, ev, rest in carry:
                by_voice[v].append(ev.__class__(Fraction(0), "note", pitch=ev.pitch, dur=rest, vel=ev.vel,
                                                voice=v, tie="stop" if rest <= length else "continue"))
            carry = []
            for ev in comp.events(p.id, num):
                if ev.kind == "dyn":
                    m.insert(float(ev.onset), dynamics.Dynamic(ev.value))
                elif ev.kind == "note":
                    by_voice[ev.voice].append(ev)
            for v, evs in sorted(by_voice.items()):
                container = stream.Voice(id=str(v)) if len(by_voice) > 1 or v != 1 else m
                groups: dict[tuple, list[Event]] = defaultdict(list)
                for ev in evs:
                    d = ev.dur
                    t = ev.tie
                    if not ev.grace and ev.onset + d > length and num < comp.measures:
                        carry.append((v, ev, ev.onset + d - length))
                        d = length - ev.onset
                        t = "start" if t in ("", "start") else "continue"
                    groups[(ev.onset, d, ev.grace)].append((ev, t))
                for (onset, d, grace), members in sorted(groups.items(), key=lambda x: (x[0][0], x[0][2] is False)):
                    notes = []
                    for ev, t in members:
                        n = note.Note(_m21_pitch(ev.pitch))
                        if t:
                            n.tie = tie.Tie(t)
                        n.volume.velocity = ev.vel
                        notes.append((n, ev))
                    if len(notes) == 1:
                        el = notes[0][0]
                    else:
                        el = chord.Chord([n for n, _ in notes])
                    if grace:
                        el.duration = duration.Duration(0.5)
                        el = el.getGrace()
                    else:
                        el.duration = duration.Duration(d)
                    for i, text in enumerate(members[0][0].lyrics):
                        el.addLyric(text)
                    container.insert(onset, el)
                if container is not m:
                    m.insert(0, container)
            part.append(m)
        for m, (_, length, _) in zip(part.getElementsByClass(stream.Measure), grid):
            span = [0.0, float(length)]
            if m.voices:
                for v in m.voices:
                    v.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=span)
            else:
                m.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=span)
        score.insert(0, part)
    return score


def _m21_pitch(name: str):
    from music21 import pitch

    mt = _PITCH_RE.match(name)
    p = pitch.Pitch()
    p.step = mt.group(1)
    alter = {"": 0, "#": 1, "##": 2, "b": -1, "bb": -2}[mt.group(2)]
    if alter:
        p.accidental = pitch.Accidental(alter)
    p.octave = int(mt.group(3))
    return p


def write_musicxml(comp: Composition) -> bytes:
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = to_music21(comp)
    try:
        return GeneralObjectExporter(score).parse()
    except Exception as exc:
        raise MusicXMLError(f"cannot write this composition as MusicXML: {exc}") from None
