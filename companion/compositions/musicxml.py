"""MusicXML import and export through music21.

Kept (docs/composition-format.md, "What import and export keep"): parts (name, instrument,
MIDI program and channel, transposition), measures and their lengths (pickups), meter (with
its common/cut symbol), key and tempo marks (number, beat unit, text) score-wide and per part,
clefs and their changes, every note's spelled pitch, onset, duration, voice, tie, grace flag,
articulations, ornaments and lyrics (with their syllables), chords (as simultaneous notes of
one voice), slurs, dynamics and hairpins. Velocities come from the source's own note
velocities where it gives them, otherwise from the dynamics (:mod:`.dynamics`).

Pitches are stored at sounding pitch: a transposing part (a B-flat clarinet) is read through its
instrument's transposition and written back at written pitch with it. Not kept: layout, beams,
stems, chord symbols, repeats, ottava lines, rests' own marks, text directions other than tempo.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections import defaultdict
from dataclasses import replace
from fractions import Fraction
from typing import Any

from ..errors import ScriptHammerError
from .dynamics import part_map
from .midi import guess_kind
from .model import (_ART_ORDER, _ORN_ORDER, _PITCH_RE, CLEF_RE, Composition, Event, GlobalEvent, Part, _slur_value,
                    marks, meter_length, pitch_to_midi, slugify, slur_grace)


class MusicXMLError(ScriptHammerError, ValueError):
    """The bytes are not a MusicXML score this importer can read."""

    status = 422
    code = "bad_musicxml"


#: Denominators a notated time may have (quarter notes): tuplets of 3, 5, 7, 11 and 13 over binary divisions.
_CLEAN = sorted({2 ** a * 3 ** b * t for a in range(7) for b in range(3) for t in (1, 5, 7, 11, 13)
                 if 2 ** a * 3 ** b * t <= 256})
_CLEAN_SET = frozenset(_CLEAN)
_TOLERANCE = Fraction(1, 256)
_FALLBACK = 48


def _q(x) -> Fraction:
    """A music21 time as an exact notated fraction of a quarter note.

    Clean times (denominators of binary divisions and tuplets of 3, 5, 7, 11, 13) are kept
    exactly. A time a writer rounded to its MusicXML divisions (a triplet sixteenth stored as
    171/1024 at 1024 divisions) becomes the nearest clean time (of two nearly as near, the
    simpler one) if one lies within 1/256 of a quarter; anything further off (a direction's
    graphical offset) the nearest 1/48."""
    f = x if isinstance(x, Fraction) else Fraction(x).limit_denominator(1_000_000)
    if f.denominator in _CLEAN_SET:
        return f
    cands = sorted((abs(Fraction(round(f * d), d) - f), d) for d in _CLEAN)
    best = cands[0][0]
    if best > _TOLERANCE:
        return Fraction(round(f * _FALLBACK), _FALLBACK)
    d = min(d for diff, d in cands if diff <= best * 2)
    return Fraction(round(f * d), d)


def _exact(x) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(x).limit_denominator(1_000_000)


def measure_snapper(times) -> Any:
    """How to read the times of one measure: exactly when they are all clean; otherwise on the
    coarsest clean grid (1/D of a quarter) that holds every note's onset and end within 1/400
    of a quarter (a 13-tuplet of 32nds written at 1024 divisions lands on 1/52), else by :func:`_q`."""
    exact = [_exact(t) for t in times]
    if all(f.denominator in _CLEAN_SET for f in exact):
        return _q
    for d in _CLEAN:
        if all(abs(Fraction(round(f * d), d) - f) <= _GRID_TOLERANCE for f in exact):
            def snap(x, d=d):
                f = _exact(x)
                g = Fraction(round(f * d), d)
                return g if abs(g - f) <= _GRID_TOLERANCE else _q(f)
            return snap
    return _q


_GRID_TOLERANCE = Fraction(1, 400)


class MeasureTimes:
    """How to read the times in one music21 measure: notes and rests through
    :func:`measure_snapper`; tempo marks, clefs and hairpin ends exactly when their offset is
    clean, otherwise at the nearest note or rest onset (a direction's MusicXML ``<offset>`` is
    mostly graphical, the musical place is the note it stands at); dynamics always at the
    nearest note's onset (a dynamic belongs to the note it stands at; rests are where a
    measure has no notes)."""

    def __init__(self, m):
        from music21 import harmony

        els = [el for el in m.recurse().notesAndRests if not isinstance(el, harmony.Harmony)]
        raw = [(el.getOffsetInHierarchy(m), el.duration.quarterLength) for el in els]
        self.note = measure_snapper(t for off, ql in raw for t in (off, _exact(off) + _exact(ql)))
        self.onsets = sorted({self.note(off) for off, _ in raw})
        self.note_onsets = sorted({self.note(el.getOffsetInHierarchy(m)) for el in els if not el.isRest})

    def direction(self, x) -> Fraction:
        f = _exact(x)
        if f.denominator in _CLEAN_SET or not self.onsets:
            return self.note(f)
        return self.nearest(f)

    def nearest(self, x, notes_only: bool = False) -> Fraction:
        """The note (or rest) onset nearest ``x`` (of two as near, the later)."""
        f = _exact(x)
        onsets = (self.note_onsets if notes_only else None) or self.onsets
        if not onsets:
            return self.note(f)
        return min(onsets, key=lambda o: (abs(o - f), -o))


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
    try:
        return from_music21(score, title=title, band=band)
    except ScriptHammerError:
        raise
    except Exception as exc:  # music21 objects a hostile file can make that no score has
        raise MusicXMLError(f"cannot read this score: {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------- vocabularies

#: music21 articulation class name -> canonical name (docs: "Articulations and ornaments").
_ART_FROM_M21 = {"Staccato": "staccato", "Staccatissimo": "staccatissimo", "Spiccato": "spiccato",
                 "Accent": "accent", "StrongAccent": "strong-accent", "Tenuto": "tenuto",
                 "DetachedLegato": "detached-legato", "Stress": "stress", "Unstress": "unstress",
                 "BreathMark": "breath-mark", "Caesura": "caesura", "Doit": "doit", "Falloff": "falloff",
                 "Plop": "plop", "Scoop": "scoop", "UpBow": "up-bow", "DownBow": "down-bow",
                 "OpenString": "open-string", "Harmonic": "harmonic", "StringHarmonic": "harmonic",
                 "Stopped": "stopped", "Pizzicato": "pizzicato", "SnapPizzicato": "snap-pizzicato"}
_ART_TO_M21 = {"staccato": "Staccato", "staccatissimo": "Staccatissimo", "spiccato": "Spiccato", "accent": "Accent",
               "strong-accent": "StrongAccent", "tenuto": "Tenuto", "detached-legato": "DetachedLegato",
               "stress": "Stress", "unstress": "Unstress", "breath-mark": "BreathMark", "caesura": "Caesura",
               "doit": "Doit", "falloff": "Falloff", "plop": "Plop", "scoop": "Scoop", "up-bow": "UpBow",
               "down-bow": "DownBow", "open-string": "OpenString", "harmonic": "StringHarmonic",
               "stopped": "Stopped", "pizzicato": "Pizzicato", "snap-pizzicato": "SnapPizzicato"}


def _marks_of(el) -> tuple[list[str], list[str]]:
    """(articulations, ornaments) of a music21 note or chord, as canonical names."""
    from music21 import expressions as ex

    art, orn = [], []
    for a in el.articulations:
        name = _ART_FROM_M21.get(type(a).__name__)
        if name:
            art.append(name)
    for e in el.expressions:
        if isinstance(e, ex.Fermata):
            art.append("fermata")  # its placement (upright/inverted) is layout, not kept
        elif isinstance(e, ex.ArpeggioMark):
            art.append("arpeggio")
        elif isinstance(e, ex.Tremolo):
            orn.append(f"tremolo{min(4, max(1, int(e.numberOfMarks or 3)))}")
        elif isinstance(e, ex.InvertedMordent):
            orn.append("inverted-mordent")
        elif isinstance(e, ex.Mordent):
            orn.append("mordent")
        elif isinstance(e, ex.InvertedTurn):
            orn.append("inverted-turn")
        elif isinstance(e, ex.Turn):
            orn.append("turn")
        elif isinstance(e, ex.Shake):
            orn.append("shake")
        elif isinstance(e, ex.Trill):
            orn.append("trill")
        elif isinstance(e, ex.Schleifer):
            orn.append("schleifer")
    return art, orn


def _set_marks(el, art: tuple[str, ...], orn: tuple[str, ...]) -> None:
    from music21 import articulations, expressions as ex

    for name in art:
        if name in _ART_TO_M21:
            el.articulations.append(getattr(articulations, _ART_TO_M21[name])())
        elif name == "fermata":
            f = ex.Fermata()
            f.type = "upright"
            el.expressions.append(f)
        elif name == "arpeggio":
            el.expressions.append(ex.ArpeggioMark())
    for name in orn:
        if name.startswith("tremolo"):
            t = ex.Tremolo()
            t.numberOfMarks = int(name[7:])
            el.expressions.append(t)
        else:
            cls = {"trill": ex.Trill, "mordent": ex.Mordent, "inverted-mordent": ex.InvertedMordent,
                   "turn": ex.Turn, "inverted-turn": ex.InvertedTurn, "shake": ex.Shake,
                   "schleifer": ex.Schleifer}[name]
            el.expressions.append(cls())


def clef_name(c) -> str | None:
    """A music21 clef as canonical text (``G2``, ``F4``, ``C3``, ``G2-8``, ``percussion``...)."""
    sign = (c.sign or "").upper()
    if sign in ("G", "F", "C") and c.line:
        shift = {0: "", -1: "-8", 1: "+8", -2: "-15", 2: "+15"}.get(c.octaveChange or 0)
        name = f"{sign}{c.line}{shift}" if shift is not None else None
    else:
        name = {"PERCUSSION": "percussion", "TAB": "tab", "NONE": "none"}.get(sign)
    return name if name and CLEF_RE.match(name) else None


def clef_of(name: str):
    from music21 import clef

    if name == "percussion":
        return clef.PercussionClef()
    if name == "tab":
        return clef.TabClef()
    if name == "none":
        return clef.NoClef()
    base, shift = name[:2], name[2:]
    octave = {"": 0, "-8": -1, "+8": 1, "-15": -2, "+15": 2}[shift]
    return clef.clefFromString(base, octaveShift=octave)


def lyric_texts(el) -> tuple[str, ...]:
    """A note's lyrics by verse number ("" for a verse without a syllable here), in the band's
    syllable convention: a syllable that the next one continues ends in "-" ("cos-" then "mic")."""
    verses: dict[int, str] = {}
    for i, ly in enumerate((el.lyrics or ())[:99]):  # verses 1..99
        if not ly.text:
            continue
        number = ly.number if isinstance(ly.number, int) and 1 <= ly.number <= 99 else i + 1
        verses[number] = ly.text + ("-" if ly.syllabic in ("begin", "middle") else "")
    if not verses:
        return ()
    return tuple(verses.get(k, "") for k in range(1, max(verses) + 1))


def tempo_text(m, mm, times) -> str:
    """A printed tempo mark's text: its own, or the words standing at its place in the measure
    (music21 writes "Allegro" and the metronome as two directions and reads them back apart)."""
    from music21 import expressions

    if mm.text and not mm.textImplicit:
        return mm.text
    if mm.number is None or mm.numberImplicit:
        return ""
    at = times.direction(mm.getOffsetInHierarchy(m))
    for t in m.recurse().getElementsByClass(expressions.TextExpression):
        if t.content and str(t.content).strip() and times.direction(t.getOffsetInHierarchy(m)) == at:
            return str(t.content).strip()
    return ""


def _key_value(ks, trans) -> tuple[int, str | None] | None:
    """A key signature at sounding pitch as (sharps, mode)."""
    if trans is not None:
        ks = ks.transpose(trans)
    sharps = ks.sharps
    if not -12 <= sharps <= 12:
        return None  # not a key signature (a broken file): none
    if sharps > 7:
        sharps -= 12  # a transposition went past 7 sharps: its enharmonic key
    elif sharps < -7:
        sharps += 12
    mode = getattr(ks, "mode", None)
    return sharps, (mode if mode in ("major", "minor") else None)


def _transposition(inst):
    """The instrument's written-to-sounding interval, or None for a concert-pitch instrument."""
    t = getattr(inst, "transposition", None) if inst is not None else None
    if t is None or t.semitones == 0 and t.generic.directed in (1, -1):
        return None
    if abs(t.semitones) > 36 or not _TRANSPOSITION_RE.match(t.directedName or ""):
        return None  # not an instrument's transposition (a hostile or broken file): read as written
    return t


_TRANSPOSITION_RE = re.compile(r"^(P|M|m|A{1,3}|d{1,3})-?[1-9][0-9]?$")  # as the schema says


# --------------------------------------------------------------------------- import

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


def _overrides(global_points: list[tuple[int, Fraction, Any]], actual: list[tuple[int, Fraction, Any]]
               ) -> list[tuple[int, Fraction, Any]]:
    """The part events needed so that the part's effective meter/key (the model's rule: the latest
    of the score's and the part's own events) is what the part actually has."""
    points = sorted([(m, o, 0, v) for m, o, v in global_points] + [(m, o, 1, v) for m, o, v in actual],
                    key=lambda x: (x[0], x[1], x[2]))
    unset: Any = object()
    effective: Any = unset
    act: Any = unset
    out = []
    i = 0
    while i < len(points):
        m, o = points[i][0], points[i][1]
        while i < len(points) and points[i][:2] == (m, o):
            if points[i][2] == 0:
                effective = points[i][3]
            else:
                act = points[i][3]
            i += 1
        if act is not unset and act != effective and not (act is None and effective is unset):
            out.append((m, o, act))
            effective = act
    return out


class _Reader:
    """One score into a Composition (small steps, in order: grid, parts, spanners, velocities)."""

    def __init__(self, score, title: str, band):
        self.score = score
        self.band = band
        md_title = ""
        if score.metadata is not None:
            md_title = score.metadata.title or score.metadata.movementName or ""
        self.comp = Composition(title=title or md_title or "")
        self.comp.meta_extra["source"] = {"kind": "musicxml"}
        self.parts = list(score.parts)
        self.where: dict[int, tuple[int, int, Fraction, int]] = {}  # id(element) -> (part, measure, onset, voice)
        self.graces: dict[int, int] = {}  # id of a grace note or chord -> its order before the main note
        self.grace_count: dict[tuple, int] = defaultdict(int)
        self.pids: list[str] = []
        self.trans: list[Any] = []
        self.starts: list[Fraction] = []
        self.part_meters: list[list[tuple[int, Fraction, Any]]] = []
        self.part_keys: list[list[tuple[int, Fraction, Any]]] = []
        self.unvoiced: list[list[tuple[int, Event]]] = []
        self.snap = _q
        self.times: MeasureTimes | None = None
        self.snappers: dict[tuple[int, int], MeasureTimes] = {}

    def read(self) -> Composition:
        self.grid()
        used: set[str] = set()
        for pi, p in enumerate(self.parts):
            self.part(pi, p, used)
        self.spanners()
        self.global_signatures()
        self.velocities()
        return self.comp

    # ---- the measure grid, from the first part
    def grid(self) -> None:
        from music21 import stream

        first = list(self.parts[0].getElementsByClass(stream.Measure))
        n = len(first)
        self.comp.measures = n
        offsets = [_q(m.offset) for m in first]
        cur = None
        for i, m in enumerate(first):
            ts = m.timeSignature
            if ts is not None and ts.ratioString != (cur.ratioString if cur is not None else None):
                cur = ts
                symbol = ts.symbol if ts.symbol in ("common", "cut") else ""
                self.comp.global_events.append(GlobalEvent(i + 1, Fraction(0), "meter", ts.ratioString, symbol=symbol))
            nominal = meter_length(cur.ratioString) if cur is not None else Fraction(4)
            actual = (offsets[i + 1] - offsets[i]) if i + 1 < n else _last_length(self.parts)
            if actual != nominal and actual > 0:
                self.comp.global_events.append(GlobalEvent(i + 1, Fraction(0), "length", actual))
        self.starts = [s for s, _, _ in self.comp.grid()]

    def abs_time(self, measure: int, onset: Fraction) -> Fraction:
        return (self.starts[measure - 1] if measure - 1 < len(self.starts) else Fraction(0)) + onset

    # ---- one part
    def part(self, pi: int, p, used: set[str]) -> None:
        from music21 import clef, dynamics, key, meter, stream, tempo

        comp = self.comp
        name = p.partName or p.id or f"part {pi + 1}"
        pid = slugify(str(name), f"part-{pi + 1}")
        base, k = pid, 2
        while pid in used:
            pid, k = f"{base}-{k}", k + 1
        used.add(pid)
        self.pids.append(pid)
        inst = p.getInstrument(returnDefault=False)
        trans = _transposition(inst)
        self.trans.append(trans)
        program = inst.midiProgram if inst is not None else None
        channel = inst.midiChannel if inst is not None and inst.midiChannel is not None else pi % 16
        kind, lead = guess_kind(program, channel, f"{name} {inst.instrumentName if inst else ''}")
        owner = None
        if self.band is not None:
            owners = self.band.owner_of(kind, lead)
            owner = owners[0] if len(owners) == 1 else None
        part = Part(id=pid, name=str(name), instrument=(inst.instrumentName or "") if inst else "",
                    program=program, channel=channel, kind=kind, owner=owner)
        if lead:
            part.extra["lead_instrument"] = lead
        if trans is not None:
            part.extra["transposition"] = trans.directedName
        comp.parts.append(part)
        meters: list[tuple[int, Fraction, Any]] = []
        keys: list[tuple[int, Fraction, Any]] = []
        unvoiced: list[tuple[int, Event]] = []  # notes whose source gives no velocity
        for i, m in enumerate(p.getElementsByClass(stream.Measure)):
            num = i + 1
            if num > comp.measures:
                comp.measures = num
            evs: list[Event] = []
            self.times = MeasureTimes(m)
            self.snap = self.times.note
            self.snappers[(pi, num)] = self.times
            for ts in m.getElementsByClass(meter.TimeSignature):
                meters.append((num, _q(ts.offset), ts.ratioString))
            for ks in m.getElementsByClass(key.KeySignature):
                keys.append((num, _q(ks.offset), _key_value(ks, trans)))
            for c in m.recurse().getElementsByClass(clef.Clef):
                cn = clef_name(c)
                if cn:
                    evs.append(Event(self.times.direction(c.getOffsetInHierarchy(m)), "clef", value=cn))
            for mm in m.recurse().getElementsByClass(tempo.MetronomeMark):
                self.tempo_mark(num, m, mm)
            for d in m.recurse().getElementsByClass(dynamics.Dynamic):
                evs.append(Event(self.times.nearest(d.getOffsetInHierarchy(m), notes_only=True), "dyn", value=d.value))
            for vid, cont, base_off in self.containers(m):
                self.notes(pi, num, vid, cont, base_off, evs, unvoiced)
            comp.set_events(pid, num, evs)
        self.part_meters.append(meters)
        self.part_keys.append(keys)
        self.unvoiced.append(unvoiced)

    def containers(self, m) -> list[tuple[int, Any, Fraction]]:
        out: list[tuple[int, Any, Fraction]] = []
        voices = list(m.voices)
        for vi, v in enumerate(voices):
            try:
                vid = int(v.id)
            except (TypeError, ValueError):
                vid = vi + 1
            out.append((vid if vid >= 1 else vi + 1, v, _q(v.offset)))
        if len(voices) == 1 and not m.notes:
            out = [(1, voices[0], _q(voices[0].offset))]  # a lone voice is voice 1
        out.append((1, m, Fraction(0)))
        return out

    def notes(self, pi: int, num: int, vid: int, cont, base_off: Fraction, evs: list[Event],
              unvoiced: list[tuple[int, Event]]) -> None:
        from music21 import chord, harmony, note

        trans = self.trans[pi]
        for el in cont.getElementsByClass(note.Rest):
            self.where[id(el)] = (pi, num, self.snap(base_off + _exact(el.offset)), vid)
        for el in cont.getElementsByClass((note.Note, chord.Chord)):
            if isinstance(el, harmony.Harmony):
                continue  # a chord symbol is not notes (not kept)
            raw = base_off + _exact(el.offset)
            onset = self.snap(raw)
            self.where[id(el)] = (pi, num, onset, vid)
            grace: int = 0
            if el.duration.isGrace:
                self.grace_count[(pi, num, vid, onset)] += 1
                grace = self.grace_count[(pi, num, vid, onset)]
                self.graces[id(el)] = grace
            dur = Fraction(0) if grace else self.snap(raw + _exact(el.duration.quarterLength)) - onset
            lyrics = lyric_texts(el)
            art, orn = _marks_of(el)
            members = [el] if isinstance(el, note.Note) else list(el.notes)
            given = el.volume.velocity
            for j, nn in enumerate(members):
                self.where[id(nn)] = (pi, num, onset, vid)
                if grace:
                    self.graces[id(nn)] = grace
                if isinstance(el, chord.Chord):
                    a2, o2 = _marks_of(nn)
                    n_art, n_orn = tuple(dict.fromkeys(art + a2)), tuple(dict.fromkeys(orn + o2))
                else:
                    n_art, n_orn = tuple(art), tuple(orn)
                pitch = nn.pitch if trans is None else trans.transposePitch(nn.pitch)
                alter = int(pitch.accidental.alter) if pitch.accidental is not None else 0
                if alter not in (-2, -1, 0, 1, 2):
                    continue
                acc = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}[alter]
                octave = pitch.octave if pitch.octave is not None else pitch.implicitOctave
                name = f"{pitch.step}{acc}{octave}"
                if not 0 <= pitch_to_midi(name) <= 127:
                    continue
                tie = nn.tie.type if nn.tie is not None else ""  # a chord's notes carry their own ties
                if tie == "let-ring":
                    tie = ""
                ev = Event(onset, "note", pitch=name, dur=dur, vel=int(given) if given is not None else 64,
                           voice=vid, tie=tie or "", grace=True if grace == 1 else grace, lyrics=lyrics if j == 0 else (),
                           art=marks(n_art, _ART_ORDER, "articulation"), orn=marks(n_orn, _ORN_ORDER, "ornament"))
                evs.append(ev)
                if given is None:
                    unvoiced.append((num, ev))

    def tempo_mark(self, num: int, m, mm) -> None:
        try:
            qpm = mm.getQuarterBPM()
        except (ZeroDivisionError, ValueError, TypeError):
            return
        if not qpm or not 1 <= qpm <= 10_000:
            return  # no tempo, or none a piece can have
        onset = self.times.direction(mm.getOffsetInHierarchy(m))
        beat = _q(mm.referent.quarterLength) if mm.referent is not None else Fraction(1)
        text = tempo_text(m, mm, self.times)
        playback_only = mm.number is None and not text
        new = GlobalEvent(num, onset, "tempo", round(60_000_000 / qpm), beat=beat or Fraction(1), text=text,
                          implicit=bool(mm.numberImplicit) or mm.number is None)
        evs = self.comp.global_events
        for i, g in enumerate(evs):
            if (g.kind == "tempo" and g.measure == num and abs(g.onset - onset) < 1
                    and (g.value, g.beat, g.implicit) == (new.value, new.beat, new.implicit)
                    and (g.text == new.text or not g.text or not new.text)):
                if new.text and not g.text:
                    evs[i] = replace(g, text=new.text)  # the words stand in another part's copy of the mark
                return  # the same mark (perhaps placed a little apart) in another part
        for i, g in enumerate(evs):
            if g.kind == "tempo" and g.measure == num and g.onset == onset:
                # one instant, two marks: a printed one and a playback-only one make one mark that
                # plays the playback tempo and shows the printed number; otherwise the first wins
                old_playback = g.implicit and not g.text and g.shown is None
                if old_playback != playback_only:
                    printed, sounding = (g, new) if playback_only else (new, g)
                    both = replace(printed, value=sounding.value)
                    if both.number != printed.number:
                        both = replace(both, shown=Fraction(printed.number).limit_denominator(100))
                    evs[i] = both
                return
        evs.append(new)

    # ---- meter and key: score-wide from the first part, the others' differences as part events
    def global_signatures(self) -> None:
        comp = self.comp
        first_keys = self.part_keys[0] if self.part_keys else []
        cur = object()
        for m, o, v in first_keys:
            if v is not None and v != cur:
                comp.global_events.append(GlobalEvent(m, o, "key", v))
                cur = v
        gm = [(g.measure, g.onset, g.value) for g in comp.global_events if g.kind == "meter"]
        gk = [(g.measure, g.onset, g.value) for g in comp.global_events if g.kind == "key"]
        for pi, pid in enumerate(self.pids):
            keys = self.part_keys[pi]
            if gk and not any(m == 1 and o == 0 for m, o, _ in keys):
                keys = [(1, Fraction(0), None)] + keys  # a part written without a key signature
            for kind, global_points, actual in (("meter", gm, self.part_meters[pi]), ("key", gk, keys)):
                for m, o, v in _overrides(global_points, actual):
                    self.comp.add_event(pid, m, Event(o, kind, value=v))
            for m in list(comp._events.get(pid, {})):
                comp.set_events(pid, m, comp.events(pid, m))

    def velocities(self) -> None:
        """Each note the source gives no velocity gets the dynamics' (:mod:`.dynamics`)."""
        for pi, pid in enumerate(self.pids):
            chosen = {id(e) for _, e in self.unvoiced[pi]}
            if chosen:
                self.apply_velocities(pid, chosen)

    def apply_velocities(self, pid: str, chosen: set[int]) -> None:
        dm = part_map(self.comp, pid)
        starts = [s for s, _, _ in self.comp.grid()]
        for m in list(self.comp._events.get(pid, {})):
            evs = self.comp.events(pid, m)
            base = starts[m - 1] if m - 1 < len(starts) else Fraction(0)
            new = [replace(e, vel=dm.velocity(base + e.onset)) if id(e) in chosen else e for e in evs]
            self.comp.set_events(pid, m, new)

    # ---- slurs and hairpins (spanners over notes)
    def spanners(self) -> None:
        from music21 import dynamics, spanner

        for sp in self.score.spannerBundle:
            if isinstance(sp, spanner.Slur):
                kind = "slur"
            elif isinstance(sp, dynamics.Crescendo):
                kind = "cresc"
            elif isinstance(sp, dynamics.Diminuendo):
                kind = "dim"
            else:
                continue
            first, last = sp.getFirst(), sp.getLast()
            a = self.locate(first)
            b = self.locate(last) if last is not None else a
            if a is None or b is None or (kind == "slur" and a[0] != b[0]):
                continue  # a hairpin across the staves of one instrument stays with its start
            pi, m, onset, voice = a
            span = self.abs_time(b[1], b[2]) - self.abs_time(m, onset)
            if span < 0 or (kind == "slur" and first is last):
                continue
            if kind == "slur":
                flags = [f"{end}-grace={self.graces[id(el)]}" for end, el in (("from", first), ("to", last))
                         if id(el) in self.graces]
                ev = Event(onset, kind, dur=span, voice=voice, value=_slur_value(flags))
            else:
                ev = Event(onset, kind, dur=span)
            self.comp.add_event(self.pids[pi], m, ev)
        for pid in self.pids:
            for m in list(self.comp._events.get(pid, {})):
                self.comp.set_events(pid, m, self.comp.events(pid, m))

    def locate(self, el) -> tuple[int, int, Fraction, int] | None:
        from music21 import spanner, stream

        if el is None:
            return None
        if id(el) in self.where:
            return self.where[id(el)]
        if isinstance(el, spanner.SpannerAnchor):
            m = el.getContextByClass(stream.Measure)
            part = el.getContextByClass(stream.Part)
            if m is None or part is None:
                return None
            for pi, p in enumerate(self.parts):
                if p is part:
                    measures = list(p.getElementsByClass(stream.Measure))
                    for i, mm in enumerate(measures):
                        if mm is m:
                            times = self.snappers.get((pi, i + 1))
                            off = el.getOffsetInHierarchy(m)
                            return (pi, i + 1, times.direction(off) if times else _q(off), 1)
        return None


def from_music21(score, title: str = "", band=None) -> Composition:
    """A Composition from a parsed music21 score (not changed)."""
    return _Reader(score, title, band).read()


# --------------------------------------------------------------------------- export

class _Writer:
    """A Composition into a music21 score (at sounding pitch, written pitch where a part transposes)."""

    def __init__(self, comp: Composition):
        self.comp = comp
        self.grid = comp.grid()
        self.starts = [s for s, _, _ in self.grid]
        self.globals: dict[int, list[GlobalEvent]] = defaultdict(list)
        for g in comp.global_events:
            self.globals[g.measure].append(g)

    def score(self):
        from music21 import metadata, stream

        score = stream.Score()
        score.metadata = metadata.Metadata()
        score.metadata.title = self.comp.title
        for pi, p in enumerate(self.comp.parts):
            score.insert(0, self.part(pi, p))
        return score

    def part(self, pi: int, p: Part):
        from music21 import instrument, interval, stream

        comp = self.comp
        part = stream.Part(id=p.id)
        part.partName = p.name or p.id
        inst = instrument.Instrument()
        inst.partName = p.name or p.id
        inst.instrumentName = p.instrument or p.name or p.id
        if p.program is not None:
            inst.midiProgram = p.program
        inst.midiChannel = p.channel
        if p.extra.get("transposition"):
            inst.transposition = interval.Interval(p.extra["transposition"])
            part.atSoundingPitch = True
        part.insert(0, inst)
        meters = {(m, o): v for m, o, v in comp.signature_changes(p.id, "meter")}
        keys = {(m, o): v for m, o, v in comp.signature_changes(p.id, "key")}
        symbols = {(g.measure, g.onset): g.symbol for g in comp.global_events if g.kind == "meter"}
        carry: list[tuple[int, Event, Fraction]] = []  # (voice, event, remaining) crossing a barline
        spans: list[tuple[int, Event]] = []
        directions: list[list[tuple[Fraction, Any]]] = []  # per measure: put in after the rests
        self.lyric_open: dict[tuple[int, int], bool] = {}
        for num in range(1, comp.measures + 1):
            m, carry = self.measure(pi, p, num, meters, keys, symbols, carry, spans, directions)
            part.insert(self.starts[num - 1], m)  # at its place in the grid (an empty measure has no length yet)
        for m, (_, length, _), later in zip(part.getElementsByClass(stream.Measure), self.grid, directions):
            span = [0.0, float(length)]
            if m.voices:
                for v in m.voices:
                    v.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=span)
            else:
                m.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=span)
            for onset, obj in later:
                m.insert(onset, obj)
        self.add_spanners(part, spans)
        return part

    def measure(self, pi, p, num, meters, keys, symbols, carry, spans, directions):
        from music21 import dynamics, key, meter, stream, tempo

        start, length, meter_str = self.grid[num - 1]
        m = stream.Measure(number=num)
        for (mn, onset), v in sorted(meters.items()):
            if mn == num:
                ts = meter.TimeSignature(v)
                if symbols.get((mn, onset)) and symbols[(mn, onset)] and v in ("4/4", "2/2"):
                    ts.symbol = symbols[(mn, onset)]
                m.insert(float(onset), ts)
        if num == 1 and not any(mn == 1 for mn, _ in meters):
            m.insert(0, meter.TimeSignature("4/4"))
        for (mn, onset), v in sorted(keys.items(), key=lambda x: x[0]):
            if mn == num:
                if v is None:
                    if num > 1:
                        m.insert(float(onset), key.KeySignature(0))
                    continue
                ks = key.KeySignature(v[0])
                if v[1]:
                    ks = ks.asKey(v[1])
                m.insert(float(onset), ks)
        if length < meter_length(meter_str):
            if num == 1:
                m.paddingLeft = float(meter_length(meter_str) - length)
            else:
                m.paddingRight = float(meter_length(meter_str) - length)
        later: list[tuple[Fraction, Any]] = []
        directions.append(later)
        by_voice: dict[int, list[tuple[Event, bool]]] = defaultdict(list)
        for v, ev, rest in carry:
            by_voice[v].append((Event(Fraction(0), "note", pitch=ev.pitch, dur=rest, vel=ev.vel, voice=v,
                                      tie="stop" if rest <= length else "continue"), True))
        if pi == 0:
            for g in sorted(self.globals.get(num, ()), key=GlobalEvent.sort_key):
                if g.kind == "tempo":
                    for mm in self.tempo_marks(g):
                        later.append((min(g.onset, length), mm))
        carry = []
        for ev in self.comp.events(p.id, num):
            if ev.kind == "dyn":
                later.append((ev.onset, dynamics.Dynamic(ev.value)))
            elif ev.kind == "clef":
                later.append((ev.onset, clef_of(ev.value)))
            elif ev.kind in ("slur", "cresc", "dim"):
                spans.append((num, ev))
            elif ev.kind == "note":
                by_voice[ev.voice].append((ev, False))
        for v, evs in sorted(by_voice.items()):
            container = stream.Voice(id=str(v)) if len(by_voice) > 1 or v != 1 else m
            groups: dict[tuple, list[tuple[Event, str, bool]]] = defaultdict(list)
            for ev, continued in evs:
                d = ev.dur
                t = ev.tie
                if not ev.grace and ev.onset < length < ev.onset + d and num < self.comp.measures:
                    carry.append((v, ev, ev.onset + d - length))
                    d = length - ev.onset
                    t = "start" if t in ("", "start") else "continue"
                groups[(ev.onset, d, ev.grace)].append((ev, t, continued))
            for (onset, d, grace), members in sorted(groups.items(), key=lambda x: (x[0][0], not x[0][2], int(x[0][2]))):
                container.insert(onset, self.element(members, d, grace, v))
            if container is not m:
                m.insert(0, container)
        return m, carry

    def element(self, members, d: Fraction, grace: bool, voice: int):
        from music21 import chord, duration, note, tie

        notes = []
        for ev, t, _ in members:
            n = note.Note(_m21_pitch(ev.pitch))
            if t:
                n.tie = tie.Tie(t)
            n.volume.velocity = ev.vel
            notes.append(n)
        el = notes[0] if len(notes) == 1 else chord.Chord(notes)
        if grace:
            el.duration = duration.Duration(0.5)
            el = el.getGrace()
        else:
            el.duration = duration.Duration(d)
        art: dict[str, None] = {}
        orn: dict[str, None] = {}
        for ev, _, continued in members:
            if not continued:
                art.update(dict.fromkeys(ev.art))
                orn.update(dict.fromkeys(ev.orn))
        _set_marks(el, tuple(art), tuple(orn))
        lead = members[0][0]
        if not members[0][2]:
            for i, text in enumerate(lead.lyrics):
                if text:
                    self.lyric(el, voice, i, text)
        return el

    def lyric(self, el, voice: int, verse: int, text: str) -> None:
        """A syllable in the band's convention ("cos-" continues into "mic") as a MusicXML lyric
        with its syllabic type (begin, middle, end, single)."""
        opened = self.lyric_open.get((voice, verse), False)
        continues = text.endswith("-") and len(text) > 1
        el.addLyric(text[:-1] if continues else text)
        el.lyrics[-1].number = verse + 1
        el.lyrics[-1].syllabic = ("middle" if opened else "begin") if continues else ("end" if opened else "single")
        self.lyric_open[(voice, verse)] = continues

    def tempo_marks(self, g: GlobalEvent) -> list:
        """The music21 marks of a tempo event: a printed mark, a playback-only one, or both (when
        the printed number is not the tempo that plays)."""
        from music21 import duration, tempo

        bpm = round(60_000_000 / g.value, 3)
        if g.implicit and not g.text:
            return [tempo.MetronomeMark(numberSounding=bpm)]
        mm = tempo.MetronomeMark(text=g.text or None, number=g.number, referent=duration.Duration(float(g.beat)))
        if g.implicit:
            mm.numberImplicit = True
        if g.shown is not None:
            return [tempo.MetronomeMark(numberSounding=bpm), mm]
        return [mm]

    def add_spanners(self, part, spans: list[tuple[int, Event]]) -> None:
        """Slurs between the notes at their ends (in their voice; on a grace note where the slur
        says so); hairpins from the first note or rest at or after their start to the last one
        at or before their end (where MusicXML's wedge start and stop attach)."""
        from bisect import bisect_left, bisect_right

        from music21 import dynamics, note, spanner, stream

        if not spans:
            return
        at: dict[tuple[int, Fraction], list] = defaultdict(list)   # (voice, abs time) -> elements
        timeline: list[tuple[Fraction, int, Any]] = []              # every note and rest, in time order
        for i, m in enumerate(part.getElementsByClass(stream.Measure)):
            base = self.starts[i] if i < len(self.starts) else Fraction(0)
            for vid, cont, off in self._containers(m):
                for el in cont.getElementsByClass(note.GeneralNote):
                    t = base + off + _q(el.offset)
                    at[(vid, t)].append(el)
                    timeline.append((t, len(timeline), el))
        timeline.sort(key=lambda x: (x[0], x[1]))
        times = [t for t, _, _ in timeline]

        def note_at(voice: int, t: Fraction, grace: int):
            els = at.get((voice, t)) or [el for tt, _, el in timeline[bisect_left(times, t):bisect_right(times, t)]]
            els = [e for e in els if e.isNote or e.isChord] or els
            if grace:
                graces = [e for e in els if e.duration.isGrace]
                if len(graces) >= grace:
                    return graces[grace - 1]
            return ([e for e in els if not e.duration.isGrace] or els or [None])[0]

        def main_first(els):
            return ([e for e in els if (e.isNote or e.isChord) and not e.duration.isGrace] or els)[0]

        for num, ev in spans:
            t0 = self.starts[num - 1] + ev.onset
            t1 = t0 + ev.dur
            if ev.kind == "slur":
                first = note_at(ev.voice, t0, slur_grace(ev, "from"))
                last = note_at(ev.voice, t1, slur_grace(ev, "to"))
                if first is None or last is None or first is last:
                    continue
                sp = spanner.Slur(first, last)
            else:
                k0, k1 = bisect_left(times, t0), bisect_right(times, t1) - 1
                if k0 >= len(timeline) or k1 < 0:
                    continue
                ta, tb = timeline[k0][0], timeline[max(k0, k1)][0]
                first = main_first([el for _, _, el in timeline[bisect_left(times, ta):bisect_right(times, ta)]])
                last = first if tb == ta else \
                    main_first([el for _, _, el in timeline[bisect_left(times, tb):bisect_right(times, tb)]])
                cls = dynamics.Crescendo if ev.kind == "cresc" else dynamics.Diminuendo
                sp = cls(first, last) if first is not last else cls(first)
            part.insert(0, sp)

    @staticmethod
    def _containers(m):
        out = []
        for v in m.voices:
            try:
                vid = int(v.id)
            except (TypeError, ValueError):
                vid = 1
            out.append((vid, v, _q(v.offset)))
        out.append((1, m, Fraction(0)))
        return out


def to_music21(comp: Composition):
    return _Writer(comp).score()


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
