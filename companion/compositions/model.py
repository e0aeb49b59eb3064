"""The canonical composition model: text files that git can diff as music.

A composition is a folder of plain-text files (see docs/composition-format.md):

- ``composition.json``: metadata (title, visibility, measure count, parts).
- ``global.txt``: tempo, meter, key, measure-length and marker events, one line per
  measure that has any (``12| 0 tempo 500000us ; 0 meter 3/4``).
- ``parts/<part id>.txt``: one line per measure, every measure present
  (``12| 0 C4 1/2 v80 ; 1/2 Eb4 1/2 v80``).

Times are exact rationals in quarter notes (``fractions.Fraction``), offsets within a
measure; a note belongs to the measure of its onset. Lines are parsed lazily: the
diff and merge only parse measures whose text differs.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Iterator
from urllib.parse import quote, unquote

from ..errors import ScriptHammerError

FORMAT_NAME = "scripthammer-composition"
FORMAT_VERSION = 2
#: Versions this code reads; older ones are upgraded in memory and written as FORMAT_VERSION.
READABLE_VERSIONS = (1, 2)
METADATA_FILE = "composition.json"
GLOBAL_FILE = "global.txt"
PARTS_DIR = "parts"

PART_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PITCH_RE = re.compile(r"^([A-G])(##|#|bb|b|)(-?\d+)$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ALTERS = {"": 0, "#": 1, "##": 2, "b": -1, "bb": -2}
_SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
MAJOR_TONICS = {-7: "Cb", -6: "Gb", -5: "Db", -4: "Ab", -3: "Eb", -2: "Bb", -1: "F", 0: "C",
                1: "G", 2: "D", 3: "A", 4: "E", 5: "B", 6: "F#", 7: "C#"}
MINOR_TONICS = {-7: "Ab", -6: "Eb", -5: "Bb", -4: "F", -3: "C", -2: "G", -1: "D", 0: "A",
                1: "E", 2: "B", 3: "F#", 4: "C#", 5: "G#", 6: "D#", 7: "A#"}
_SHARPS_OF = {("major", v): k for k, v in MAJOR_TONICS.items()} | {("minor", v): k for k, v in MINOR_TONICS.items()}


class FormatError(ScriptHammerError, ValueError):
    """Text that is not valid canonical composition format."""

    status = 400
    code = "bad_composition"


# --------------------------------------------------------------------------- pitches and times

@functools.lru_cache(maxsize=1024)  # a piece names few pitches many times (every note's ``midi``)
def pitch_to_midi(name: str) -> int:
    m = _PITCH_RE.match(name)
    if not m:
        raise FormatError(f"not a pitch: {name!r}")
    return (int(m.group(3)) + 1) * 12 + _STEPS[m.group(1)] + _ALTERS[m.group(2)]


def midi_to_pitch(number: int, flats: bool = False) -> str:
    names = _FLAT_NAMES if flats else _SHARP_NAMES
    return f"{names[number % 12]}{number // 12 - 1}"


def fmt_q(value: Fraction) -> str:
    """A time in quarter notes as text: ``3``, ``1/2``, ``7/3``."""
    return str(value)


def parse_q(text: str) -> Fraction:
    try:
        if "/" in text:
            a, b = text.split("/", 1)
            return Fraction(int(a), int(b))
        return Fraction(int(text))
    except (ValueError, ZeroDivisionError):
        raise FormatError(f"not a time: {text!r}") from None


def key_name(sharps: int, mode: str | None) -> str:
    if mode == "minor":
        return f"{MINOR_TONICS[sharps]} minor"
    if mode == "major":
        return f"{MAJOR_TONICS[sharps]} major"
    return f"{MAJOR_TONICS[sharps]}"


def parse_key(args: list[str]) -> tuple[int, str | None]:
    tonic = args[0]
    mode = args[1] if len(args) > 1 else None
    sharps = _SHARPS_OF.get((mode or "major", tonic))
    if sharps is None:
        raise FormatError(f"not a key: {' '.join(args)!r}")
    return sharps, mode


# --------------------------------------------------------------------------- notation vocabularies

#: Articulations and other marks a note may carry (``art=staccato,accent``), in canonical order.
ARTICULATIONS = ("staccato", "staccatissimo", "spiccato", "accent", "strong-accent", "tenuto", "detached-legato",
                 "stress", "unstress", "breath-mark", "caesura", "doit", "falloff", "plop", "scoop", "up-bow",
                 "down-bow", "open-string", "harmonic", "stopped", "pizzicato", "snap-pizzicato", "fermata",
                 "arpeggio")
#: Ornaments a note may carry (``orn=trill``); ``tremoloN`` is a single-note tremolo of N strokes.
ORNAMENTS = ("trill", "mordent", "inverted-mordent", "turn", "inverted-turn", "shake", "schleifer",
             "tremolo1", "tremolo2", "tremolo3", "tremolo4")
_ART_ORDER = {n: i for i, n in enumerate(ARTICULATIONS)}
_ORN_ORDER = {n: i for i, n in enumerate(ORNAMENTS)}
#: Clefs: sign and staff line, optionally an octave shift (``G2-8`` treble 8vb), or a special clef.
CLEF_RE = re.compile(r"^(?:(?:G[12]|F[345]|C[1-5])(?:[+-](?:8|15))?|percussion|tab|none)$")
_METER_RE = re.compile(r"^([1-9]\d{0,2})/([1-9]\d{0,2})$")
#: Part events that span time (``dur`` is their span in quarter notes, to the onset of their last note).
SPAN_KINDS = ("slur", "cresc", "dim")
#: Part events that change the part's notation (clef) or override the score-wide meter and key.
SIGNATURE_KINDS = ("clef", "meter", "key")
#: A slur may start or end on a grace note at its onset rather than the main note:
#: ``from-grace`` (the first grace note there), ``from-grace=2`` (the second), ``to-grace``...
SLUR_FLAGS = ("from-grace", "to-grace")
_SLUR_FLAG_RE = re.compile(r"^(from|to)-grace(?:=([1-9]\d?))?$")


def slur_flags(ev: "Event") -> tuple[str, ...]:
    return ev.value if isinstance(ev.value, tuple) else ()


def slur_grace(ev: "Event", end: str) -> int:
    """Which grace note a slur's ``end`` ("from" or "to") is on: 0 for the main note."""
    for flag in slur_flags(ev):
        m = _SLUR_FLAG_RE.match(flag)
        if m and m.group(1) == end:
            return int(m.group(2) or 1)
    return 0


def _slur_value(flags: Iterable[str]) -> Any:
    out = {}
    for f in flags:
        m = _SLUR_FLAG_RE.match(f)
        if not m:
            raise FormatError(f"unknown slur attribute {f!r}")
        n = int(m.group(2) or 1)
        out[m.group(1)] = f"{m.group(1)}-grace" + (f"={n}" if n > 1 else "")
    return tuple(out[k] for k in ("from", "to") if k in out) or 0


def marks(names: Iterable[str], vocabulary: dict[str, int], what: str) -> tuple[str, ...]:
    """Articulation or ornament names, checked and in canonical order (each once)."""
    out = set()
    for n in names:
        if n not in vocabulary:
            raise FormatError(f"unknown {what} {n!r} (known: {', '.join(vocabulary)})")
        out.add(n)
    return tuple(sorted(out, key=vocabulary.__getitem__))


def parse_meter(text: str) -> str:
    m = _METER_RE.match(text)
    if not m:
        raise FormatError(f"not a meter: {text!r}")
    return f"{int(m.group(1))}/{int(m.group(2))}"


def key_token(value: tuple[int, str | None] | None) -> str:
    """A part key event's value as one token: ``F``, ``D:minor``, ``Bb:major`` or ``none``."""
    if value is None:
        return "none"
    sharps, mode = value
    tonic = (MINOR_TONICS if mode == "minor" else MAJOR_TONICS)[sharps]
    return f"{tonic}:{mode}" if mode else tonic


def parse_key_token(text: str) -> tuple[int, str | None] | None:
    if text == "none":
        return None
    tonic, _, mode = text.partition(":")
    if mode and mode not in ("major", "minor"):
        raise FormatError(f"a key's mode is major or minor, not {mode!r}")
    return parse_key([tonic] + ([mode] if mode else []))


def key_dict(value: tuple[int, str | None] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"sharps": value[0], "mode": value[1], "name": key_name(*value)}


def key_from_dict(value: Any) -> tuple[int, str | None] | None:
    if value is None or value == "none":
        return None
    if isinstance(value, str):
        return parse_key_token(value)
    sharps, mode = int(value["sharps"]), value.get("mode")
    if not -7 <= sharps <= 7 or mode not in (None, "major", "minor"):
        raise FormatError(f"not a key: {value!r}")
    return sharps, mode


# --------------------------------------------------------------------------- events

_KIND_ORDER = {"clef": -3, "meter": -2, "key": -1, "program": 0, "cc": 1, "bend": 2, "pressure": 3, "poly": 4,
               "note": 5, "dyn": 6, "cresc": 7, "dim": 7, "slur": 8}


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a part within a measure; ``onset`` is relative to the measure start.

    kind ``note``: pitch (spelled, e.g. ``Eb4``), dur, vel, ch (None: the part's channel),
    off (note-off velocity, 0 default), voice, tie (start/stop/continue), grace, lyrics (one
    syllable per verse, "" for a verse without one; a syllable ending in "-" runs on into the next),
    art (articulations and marks such as fermata), orn (ornaments).
    Other kinds (``cc``, ``bend``, ``program``, ``pressure``, ``poly``, ``dyn``) use
    ``num`` (controller or key number) and ``value`` (int, or the dynamic mark for dyn).
    Notation (format version 2): ``clef`` (value ``G2``, ``F4``...), ``meter`` (value ``6/8``)
    and ``key`` (value ``(sharps, mode)`` or None for no key signature) override the score's
    for this part; ``slur`` (in ``voice``), ``cresc`` and ``dim`` span ``dur`` quarter notes.
    """

    onset: Fraction
    kind: str = "note"
    pitch: str = ""
    dur: Fraction = Fraction(0)
    vel: int = 64
    ch: int | None = None
    off: int = 0
    voice: int = 1
    tie: str = ""
    grace: int = False  # 0/False: not a grace note; N: the Nth grace note before the main note at its onset
    lyrics: tuple[str, ...] = ()
    num: int = 0
    value: Any = 0
    art: tuple[str, ...] = ()
    orn: tuple[str, ...] = ()

    @property
    def midi(self) -> int:
        return pitch_to_midi(self.pitch)

    @property
    def end(self) -> Fraction:
        return self.onset + self.dur

    def sort_key(self) -> tuple:
        if self.kind == "note":
            return (self.onset, 5, self.voice, self.midi, self.pitch, self.ch if self.ch is not None else -1,
                    self.dur, self.vel, self.to_text())
        return (self.onset, _KIND_ORDER.get(self.kind, 9), self.voice, self.num, str(self.value),
                self.ch if self.ch is not None else -1, self.dur, 0, self.to_text())

    def position(self) -> tuple:
        """Where an event sits: notes by (voice, onset); slurs by their voice's lane; other events
        by their own lane (kind, controller, channel)."""
        if self.kind == "note":
            return ("note", self.voice, self.onset)
        if self.kind == "slur":
            return ("slur", self.voice, None, self.onset)
        return (self.kind, self.num, self.ch, self.onset)

    def identity(self) -> tuple:
        """What makes an event "the same note": position plus pitch and channel."""
        if self.kind == "note":
            return ("note", self.voice, self.onset, self.midi, self.ch)
        return self.position()

    def to_text(self) -> str:
        if self.kind == "note":
            out = [fmt_q(self.onset), self.pitch, fmt_q(self.dur), f"v{self.vel}"]
            if self.ch is not None:
                out.append(f"ch{self.ch}")
            if self.off:
                out.append(f"off{self.off}")
            if self.voice != 1:
                out.append(f"V{self.voice}")
            if self.tie:
                out.append(f"tie={self.tie}")
            if self.grace:
                out.append("grace" if self.grace == 1 else f"grace={int(self.grace)}")
            if self.art:
                out.append("art=" + ",".join(self.art))
            if self.orn:
                out.append("orn=" + ",".join(self.orn))
            for i, text in enumerate(self.lyrics):
                if text:  # an empty verse is a gap: the note has verse 2 but no verse 1
                    out.append(f"lyric{'' if i == 0 else i + 1}={quote(text, safe='')}")
            return " ".join(out)
        if self.kind == "cc":
            head = f"cc{self.num}={self.value}"
        elif self.kind == "poly":
            head = f"poly{self.num}={self.value}"
        elif self.kind == "dyn":
            head = f"dyn={quote(str(self.value), safe='')}"
        elif self.kind in SPAN_KINDS:
            head = f"{self.kind}={fmt_q(self.dur)}"
        elif self.kind == "key":
            head = f"key={key_token(self.value)}"
        else:
            head = f"{self.kind}={self.value}"
        out = [fmt_q(self.onset), head]
        if self.ch is not None:
            out.append(f"ch{self.ch}")
        if self.kind == "slur":
            if self.voice != 1:
                out.append(f"V{self.voice}")
            out.extend(slur_flags(self))
        return " ".join(out)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "note":
            d: dict[str, Any] = {"kind": "note", "onset": fmt_q(self.onset), "pitch": self.pitch,
                                 "midi": self.midi, "duration": fmt_q(self.dur), "velocity": self.vel}
            if self.ch is not None:
                d["channel"] = self.ch
            if self.voice != 1:
                d["voice"] = self.voice
            if self.tie:
                d["tie"] = self.tie
            if self.off:
                d["off_velocity"] = self.off
            if self.grace:
                d["grace"] = True if self.grace == 1 else int(self.grace)
            if self.art:
                d["articulations"] = list(self.art)
            if self.orn:
                d["ornaments"] = list(self.orn)
            if self.lyrics:
                d["lyrics"] = list(self.lyrics)
            return d
        if self.kind in SPAN_KINDS:
            d = {"kind": self.kind, "onset": fmt_q(self.onset), "span": fmt_q(self.dur)}
            if self.kind == "slur":
                d["voice"] = self.voice
                for flag in slur_flags(self):
                    name, _, n = flag.partition("=")
                    d[name.replace("-", "_")] = int(n) if n else True
            return d
        value = key_dict(self.value) if self.kind == "key" else self.value
        d = {"kind": self.kind, "onset": fmt_q(self.onset), "value": value}
        if self.kind in ("cc", "poly"):
            d["number"] = self.num
        if self.ch is not None:
            d["channel"] = self.ch
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Event":
        """An event from its JSON form (as in merge resolutions); raises FormatError."""
        try:
            kind = d.get("kind", "note")
            onset = parse_q(str(d["onset"]))
            ch = d.get("channel")
            ch = int(ch) if ch is not None else None
            if kind == "note":
                pitch = d.get("pitch") or midi_to_pitch(int(d["midi"]))
                pitch_to_midi(pitch)
                ev = cls(onset, "note", pitch=pitch, dur=parse_q(str(d.get("duration", "1"))),
                         vel=int(d.get("velocity", 64)), ch=ch, off=int(d.get("off_velocity", 0)),
                         voice=int(d.get("voice", 1)), tie=str(d.get("tie", "")), grace=_grace(d.get("grace", False)),
                         lyrics=_verses(d.get("lyrics", ())),
                         art=marks(_names(d.get("articulations", ())), _ART_ORDER, "articulation"),
                         orn=marks(_names(d.get("ornaments", ())), _ORN_ORDER, "ornament"))
            elif kind in ("cc", "poly"):
                ev = cls(onset, kind, num=int(d["number"]), value=int(d["value"]), ch=ch)
            elif kind == "dyn":
                ev = cls(onset, kind, value=str(d["value"]), ch=ch)
            elif kind in ("bend", "program", "pressure"):
                ev = cls(onset, kind, value=int(d["value"]), ch=ch)
            elif kind in SPAN_KINDS:
                ev = cls(onset, kind, dur=parse_q(str(d["span"])),
                         voice=int(d.get("voice", 1)) if kind == "slur" else 1,
                         value=_slur_value(_flag(f, d[f.replace("-", "_")]) for f in SLUR_FLAGS
                                           if d.get(f.replace("-", "_"))) if kind == "slur" else 0)
            elif kind == "clef":
                ev = cls(onset, kind, value=str(d["value"]))
            elif kind == "meter":
                ev = cls(onset, kind, value=parse_meter(str(d["value"])))
            elif kind == "key":
                ev = cls(onset, kind, value=key_from_dict(d["value"]))
            else:
                raise FormatError(f"unknown event kind {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"not an event: {d!r} ({exc})") from None
        validate_event(ev)
        return ev


def _verses(value: Any) -> tuple[str, ...]:
    """Lyrics by verse ("" where a verse has no syllable on the note), without trailing gaps."""
    out = [str(x) if x is not None else "" for x in value]
    while out and not out[-1]:
        out.pop()
    return tuple(out)


def _grace(value: Any) -> int:
    if isinstance(value, bool):
        return value
    n = int(value)
    if not 0 <= n <= 99:
        raise FormatError(f"a grace note's order is 1..99, not {n}")
    return True if n == 1 else n


def _flag(name: str, value: Any) -> str:
    return name if value is True or value == 1 else f"{name}={int(value)}"


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [x for x in value.split(",") if x]
    if not isinstance(value, (list, tuple)):
        raise FormatError(f"a list of names, not {value!r}")
    return [str(x) for x in value]


def validate_event(ev: Event) -> None:
    if ev.onset < 0:
        raise FormatError("an event's onset must not be negative")
    if ev.kind == "note":
        if not 0 <= ev.midi <= 127:
            raise FormatError(f"pitch {ev.pitch} is outside MIDI's range")
        if ev.dur < 0 or not 0 <= ev.vel <= 127 or not 0 <= ev.off <= 127:
            raise FormatError("duration must be >= 0 and velocities 0..127")
        if ev.tie not in ("", "start", "stop", "continue"):
            raise FormatError(f"tie must be start, stop or continue, not {ev.tie!r}")
        if ev.voice < 1:
            raise FormatError("voice numbers start at 1")
    elif ev.kind in SPAN_KINDS:
        if ev.dur < 0:
            raise FormatError(f"a {ev.kind}'s span must not be negative")
        if ev.voice < 1:
            raise FormatError("voice numbers start at 1")
    elif ev.kind == "clef" and not (isinstance(ev.value, str) and CLEF_RE.match(ev.value)):
        raise FormatError(f"not a clef: {ev.value!r} (G2, F4, C3, G2-8, percussion, tab, none...)")
    elif ev.kind == "key" and ev.value is not None and not -7 <= ev.value[0] <= 7:
        raise FormatError(f"not a key: {ev.value!r}")
    if ev.ch is not None and not 0 <= ev.ch <= 15:
        raise FormatError("channels are 0..15")


def parse_event(text: str) -> Event:
    tokens = text.split()
    if len(tokens) < 2:
        raise FormatError(f"not an event: {text!r}")
    onset = parse_q(tokens[0])
    head = tokens[1]
    try:
        if _PITCH_RE.match(head):
            if len(tokens) < 4 or tokens[3][0] != "v":
                raise FormatError(f"a note needs onset, pitch, duration and velocity: {text!r}")
            kw: dict[str, Any] = {}
            lyrics: dict[int, str] = {}
            for tok in tokens[4:]:
                if tok.startswith("ch"):
                    kw["ch"] = int(tok[2:])
                elif tok.startswith("off"):
                    kw["off"] = int(tok[3:])
                elif tok.startswith("V"):
                    kw["voice"] = int(tok[1:])
                elif tok.startswith("tie="):
                    kw["tie"] = tok[4:]
                elif tok == "grace":
                    kw["grace"] = True
                elif tok.startswith("grace="):
                    if int(tok[6:]) < 1:
                        raise FormatError(f"grace notes are numbered from 1: {tok!r}")
                    kw["grace"] = _grace(int(tok[6:]))
                elif tok.startswith("art="):
                    kw["art"] = marks(_names(tok[4:]), _ART_ORDER, "articulation")
                elif tok.startswith("orn="):
                    kw["orn"] = marks(_names(tok[4:]), _ORN_ORDER, "ornament")
                elif tok.startswith("lyric"):
                    name, _, val = tok.partition("=")
                    lyrics[int(name[5:] or 1)] = unquote(val)
                else:
                    raise FormatError(f"unknown note attribute {tok!r}")
            if lyrics:
                if max(lyrics) > 99 or min(lyrics) < 1:
                    raise FormatError("verses are numbered 1..99")
                kw["lyrics"] = tuple(lyrics.get(k, "") for k in range(1, max(lyrics) + 1))
            ev = Event(onset, "note", pitch=head, dur=parse_q(tokens[2]), vel=int(tokens[3][1:]), **kw)
        else:
            name, eq, val = head.partition("=")
            if not eq:
                raise FormatError(f"not an event: {text!r}")
            ch = None
            voice = 1
            flags = []
            for tok in tokens[2:]:
                if tok.startswith("ch"):
                    ch = int(tok[2:])
                elif tok.startswith("V") and name == "slur":
                    voice = int(tok[1:])
                elif _SLUR_FLAG_RE.match(tok) and name == "slur":
                    flags.append(tok)
                else:
                    raise FormatError(f"unknown attribute {tok!r}")
            if name.startswith("cc"):
                ev = Event(onset, "cc", num=int(name[2:]), value=int(val), ch=ch)
            elif name.startswith("poly"):
                ev = Event(onset, "poly", num=int(name[4:]), value=int(val), ch=ch)
            elif name == "dyn":
                ev = Event(onset, "dyn", value=unquote(val), ch=ch)
            elif name in ("bend", "program", "pressure"):
                ev = Event(onset, name, value=int(val), ch=ch)
            elif name in SPAN_KINDS:
                ev = Event(onset, name, dur=parse_q(val), voice=voice, value=_slur_value(flags) if name == "slur" else 0)
            elif name == "clef":
                ev = Event(onset, "clef", value=val)
            elif name == "meter":
                ev = Event(onset, "meter", value=parse_meter(val))
            elif name == "key":
                ev = Event(onset, "key", value=parse_key_token(val))
            else:
                raise FormatError(f"unknown event {name!r}")
    except (ValueError, KeyError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"not an event: {text!r}") from None
    validate_event(ev)
    return ev


def format_events(events: Iterable[Event]) -> str:
    return " ; ".join(e.to_text() for e in sorted(events, key=Event.sort_key))


def parse_events(body: str) -> list[Event]:
    body = body.strip()
    if not body:
        return []
    return [parse_event(t) for t in body.split(" ; ")]


# --------------------------------------------------------------------------- global events

@dataclass(frozen=True, slots=True)
class GlobalEvent:
    """A tempo (``value``: microseconds per quarter), meter (``"3/4"``), key (``(sharps, mode)``),
    length (a measure's actual length, e.g. a pickup) or marker (text) event.

    A tempo mark may also carry (format version 2) the ``beat`` its number counts (in quarter
    notes: 3/2 is a dotted quarter), its ``text`` ("Allegro") and ``implicit`` (the number is not
    printed: a text-only or playback-only mark) or ``shown``, the printed number when it differs
    from the tempo that plays (a printed and a playback-only mark at one instant); a meter its
    ``symbol`` (``common`` or ``cut``)."""

    measure: int
    onset: Fraction
    kind: str
    value: Any
    beat: Fraction = Fraction(1)
    text: str = ""
    implicit: bool = False
    symbol: str = ""
    shown: Fraction | None = None

    def to_text(self) -> str:
        if self.kind == "tempo":
            bpm = 60_000_000 / self.value
            out = f"{fmt_q(self.onset)} tempo {self.value}us ~{bpm:.6g}bpm"
            if self.beat != 1:
                out += f" beat={fmt_q(self.beat)}"
            if self.text:
                out += f" text={quote(self.text, safe='')}"
            if self.implicit:
                out += " implicit"
            if self.shown is not None:
                out += f" shown={fmt_q(self.shown)}"
            return out
        if self.kind == "key":
            sharps, mode = self.value
            return f"{fmt_q(self.onset)} key {key_name(sharps, mode)}"
        if self.kind == "length":
            return f"{fmt_q(self.onset)} length {fmt_q(self.value)}"
        if self.kind == "marker":
            return f"{fmt_q(self.onset)} marker {quote(self.value, safe='')}"
        if self.kind == "meter" and self.symbol:
            return f"{fmt_q(self.onset)} meter {self.value} symbol={self.symbol}"
        return f"{fmt_q(self.onset)} {self.kind} {self.value}"

    @property
    def number(self) -> float:
        """A tempo mark's printed number: beats (of ``beat`` quarters) per minute."""
        if self.shown is not None:
            return float(self.shown)
        n = round(60_000_000 / self.value / float(self.beat), 2)
        return float(round(n)) if abs(n - round(n)) < 0.02 else n

    def sort_key(self) -> tuple:
        order = {"length": 0, "meter": 1, "key": 2, "tempo": 3, "marker": 4}
        return (self.measure, self.onset, order.get(self.kind, 9), self.to_text())

    def position(self) -> tuple:
        return (self.kind, self.onset)

    def identity(self) -> tuple:
        return (self.kind, self.onset)

    def to_dict(self) -> dict[str, Any]:
        value: Any = self.value
        d: dict[str, Any] = {"kind": self.kind, "measure": self.measure, "onset": fmt_q(self.onset)}
        if self.kind == "key":
            value = {"sharps": self.value[0], "mode": self.value[1], "name": key_name(*self.value)}
        elif self.kind == "length":
            value = fmt_q(self.value)
        elif self.kind == "tempo":
            value = {"us_per_quarter": self.value, "bpm": round(60_000_000 / self.value, 3)}
            d.update(beat=fmt_q(self.beat), number=self.number)
            if self.text:
                d["text"] = self.text
            if self.implicit:
                d["implicit"] = True
        elif self.kind == "meter" and self.symbol:
            d["symbol"] = self.symbol
        d["value"] = value
        return d


METER_SYMBOLS = ("common", "cut")


def parse_global_event(measure: int, text: str) -> GlobalEvent:
    tokens = text.split()
    if len(tokens) < 3:
        raise FormatError(f"not a global event: {text!r}")
    onset = parse_q(tokens[0])
    kind = tokens[1]
    extra: dict[str, Any] = {}
    try:
        if kind == "tempo":
            value: Any = int(tokens[2].removesuffix("us"))
            if value <= 0:
                raise FormatError("tempo must be positive")
            for tok in tokens[3:]:
                if tok.startswith("~"):
                    continue  # the bpm comment
                if tok.startswith("beat="):
                    extra["beat"] = parse_q(tok[5:])
                    if extra["beat"] <= 0:
                        raise FormatError("a tempo mark's beat must be positive")
                elif tok.startswith("text="):
                    extra["text"] = unquote(tok[5:])
                elif tok == "implicit":
                    extra["implicit"] = True
                elif tok.startswith("shown="):
                    extra["shown"] = parse_q(tok[6:])
                    if extra["shown"] <= 0:
                        raise FormatError("a tempo mark's number must be positive")
                else:
                    raise FormatError(f"unknown tempo attribute {tok!r}")
        elif kind == "meter":
            value = parse_meter(tokens[2])
            for tok in tokens[3:]:
                if tok.startswith("symbol=") and tok[7:] in METER_SYMBOLS:
                    extra["symbol"] = tok[7:]
                else:
                    raise FormatError(f"unknown meter attribute {tok!r}")
        elif kind == "key":
            value = parse_key(tokens[2:4])
        elif kind == "length":
            value = parse_q(tokens[2])
            if value <= 0:
                raise FormatError("a measure length must be positive")
        elif kind == "marker":
            value = unquote(tokens[2])
        else:
            raise FormatError(f"unknown global event {kind!r}")
    except ValueError as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"not a global event: {text!r}") from None
    return GlobalEvent(measure, onset, kind, value, **extra)


def meter_length(meter: str) -> Fraction:
    num, den = meter.split("/")
    return Fraction(4 * int(num), int(den))


# --------------------------------------------------------------------------- measure lines

def split_line(line: str) -> tuple[int, str]:
    num, sep, body = line.partition("|")
    if not sep:
        raise FormatError(f"a measure line starts with '<number>|': {line[:40]!r}")
    try:
        return int(num), body
    except ValueError:
        raise FormatError(f"bad measure number in {line[:40]!r}") from None


def measure_lines(text: str) -> dict[int, str]:
    """Map measure number -> the line's body (unparsed) for a part or global file."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        num, body = split_line(line)
        out[num] = body.strip()
    return out


def format_line(measure: int, body: str) -> str:
    return f"{measure}| {body}" if body else f"{measure}|"


# --------------------------------------------------------------------------- the composition

@dataclass
class Part:
    id: str
    name: str = ""
    instrument: str = ""
    program: int | None = None
    channel: int = 0
    kind: str = "melody"
    owner: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "name": self.name or self.id, "instrument": self.instrument,
             "program": self.program, "channel": self.channel, "kind": self.kind, "owner": self.owner,
             "file": f"{PARTS_DIR}/{self.id}.txt"}
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Part":
        known = {"id", "name", "instrument", "program", "channel", "kind", "owner", "file"}
        return cls(id=d["id"], name=d.get("name", ""), instrument=d.get("instrument", ""),
                   program=d.get("program"), channel=int(d.get("channel", 0)), kind=d.get("kind", "melody"),
                   owner=d.get("owner"), extra={k: v for k, v in d.items() if k not in known})


@dataclass
class Composition:
    """A composition in memory: metadata, global events and each part's measures.

    ``parts_measures[part_id][measure]`` holds the measure's event list once parsed;
    ``Composition.from_files`` keeps lines unparsed until :meth:`events` asks.
    """

    title: str = ""
    parts: list[Part] = field(default_factory=list)
    measures: int = 0
    global_events: list[GlobalEvent] = field(default_factory=list)
    visibility: str = "private"
    meta_extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION  # of the files it was read from; always written as FORMAT_VERSION
    _events: dict[str, dict[int, list[Event]]] = field(default_factory=dict)
    _lines: dict[str, dict[int, str]] = field(default_factory=dict)

    # ---- access
    def part(self, part_id: str) -> Part:
        for p in self.parts:
            if p.id == part_id:
                return p
        raise KeyError(part_id)

    def events(self, part_id: str, measure: int) -> list[Event]:
        cache = self._events.setdefault(part_id, {})
        if measure not in cache:
            body = self._lines.get(part_id, {}).get(measure, "")
            cache[measure] = parse_events(body)
        return cache[measure]

    def set_events(self, part_id: str, measure: int, events: list[Event]) -> None:
        self._events.setdefault(part_id, {})[measure] = sorted(events, key=Event.sort_key)
        self._lines.get(part_id, {}).pop(measure, None)
        if measure > self.measures:
            self.measures = measure

    def add_event(self, part_id: str, measure: int, event: Event) -> None:
        self.events(part_id, measure).append(event)
        if measure > self.measures:
            self.measures = measure

    def line_body(self, part_id: str, measure: int) -> str:
        cache = self._events.get(part_id, {})
        if measure in cache:
            return format_events(cache[measure])
        return self._lines.get(part_id, {}).get(measure, "")

    # ---- the measure grid
    def grid(self, upto: int | None = None) -> list[tuple[Fraction, Fraction, str]]:
        """(start, length, meter) of measures 1..upto (default: all), in quarter notes."""
        upto = self.measures if upto is None else upto
        by_measure: dict[int, list[GlobalEvent]] = {}
        for g in self.global_events:
            if g.kind in ("meter", "length"):
                by_measure.setdefault(g.measure, []).append(g)
        meter = "4/4"
        out = []
        start = Fraction(0)
        for m in range(1, upto + 1):
            length = None
            for g in by_measure.get(m, ()):
                if g.kind == "meter":
                    meter = g.value
                elif g.kind == "length":
                    length = g.value
            if length is None:
                length = meter_length(meter)
            out.append((start, length, meter))
            start += length
        return out

    def signature_changes(self, part_id: str, kind: str) -> list[tuple[int, Fraction, Any]]:
        """Where the part's meter (or key) changes: (measure, onset, value), in order.

        The rule: a ``meter``/``key`` event in global.txt applies to every part; one in a part
        file applies to that part; whichever came last applies (at one instant, the part's own).
        Values as in the events: meters ``"6/8"``, keys ``(sharps, mode)`` or None (no key
        signature)."""
        at: dict[tuple[int, Fraction], Any] = {}
        points = [(g.measure, g.onset, 0, g.value) for g in self.global_events if g.kind == kind]
        points += [(m, e.onset, 1, e.value) for m, e in self.all_events(part_id) if e.kind == kind]
        for m, onset, _, value in sorted(points, key=lambda x: (x[0], x[1], x[2])):
            at[(m, onset)] = value  # the part's own event wins at one instant
        out: list[tuple[int, Fraction, Any]] = []
        for (m, onset), value in sorted(at.items(), key=lambda x: x[0]):
            if not out or out[-1][2] != value:
                out.append((m, onset, value))
        return out

    def locate(self, starts: list[Fraction], t: Fraction) -> tuple[int, Fraction]:
        i = bisect_right(starts, t) - 1
        i = max(i, 0)
        return i + 1, t - starts[i]

    # ---- files
    def to_files(self) -> dict[str, bytes]:
        meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "title": self.title,
                "visibility": self.visibility, "measures": self.measures,
                "parts": [p.to_dict() for p in self.parts]}
        meta.update(self.meta_extra)
        files = {METADATA_FILE: (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()}
        files[GLOBAL_FILE] = self.global_text().encode()
        for p in self.parts:
            files[f"{PARTS_DIR}/{p.id}.txt"] = self.part_text(p.id).encode()
        return files

    def global_text(self) -> str:
        by: dict[int, list[GlobalEvent]] = {}
        for g in sorted(self.global_events, key=GlobalEvent.sort_key):
            by.setdefault(g.measure, []).append(g)
        lines = [f"# {FORMAT_NAME} v{FORMAT_VERSION}: global tracks (tempo, meter, key), one line per measure"]
        for m in sorted(by):
            lines.append(format_line(m, " ; ".join(g.to_text() for g in by[m])))
        return "\n".join(lines) + "\n"

    def part_text(self, part_id: str) -> str:
        lines = [f"# {FORMAT_NAME} v{FORMAT_VERSION}: part {part_id}, one line per measure"]
        for m in range(1, self.measures + 1):
            lines.append(format_line(m, self.line_body(part_id, m)))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_files(cls, files: dict[str, bytes | str]) -> "Composition":
        def text(name: str) -> str:
            raw = files[name]
            if not isinstance(raw, bytes):
                return raw
            try:
                return raw.decode()
            except UnicodeDecodeError as exc:
                raise FormatError(f"{name} is not UTF-8 text: {exc}") from None

        if METADATA_FILE not in files:
            raise FormatError(f"{METADATA_FILE} is missing")
        try:
            raw = text(METADATA_FILE)
            meta = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatError(f"{METADATA_FILE} is not JSON: {exc}") from None
        _validate_metadata_text(raw)
        known = {"format", "version", "title", "visibility", "measures", "parts"}
        comp = cls(title=meta.get("title", ""), parts=[Part.from_dict(p) for p in meta["parts"]],
                   format_version=int(meta["version"]), measures=int(meta.get("measures", 0)), visibility=meta.get("visibility", "private"),
                   meta_extra={k: v for k, v in meta.items() if k not in known})
        if GLOBAL_FILE in files:
            comp.global_events = parse_global_text(text(GLOBAL_FILE))
        for p in comp.parts:
            name = f"{PARTS_DIR}/{p.id}.txt"
            comp._lines[p.id] = measure_lines(text(name)) if name in files else {}
        return comp

    def parse_all(self) -> "Composition":
        """Parse every measure (validates the whole text)."""
        for p in self.parts:
            for m in list(self._lines.get(p.id, {})):
                self.events(p.id, m)
        return self

    def all_events(self, part_id: str) -> Iterator[tuple[int, Event]]:
        measures = set(self._lines.get(part_id, {})) | set(self._events.get(part_id, {}))
        for m in sorted(measures):
            for ev in self.events(part_id, m):
                yield m, ev


@dataclass(frozen=True, slots=True)
class SoundingNote:
    """A note as it sounds: ``start`` and ``end`` in absolute quarter notes; ``event`` is the
    first written note of its tie chain (pitch, velocity, channel), ``off`` the note-off
    velocity of the last."""

    start: Fraction
    end: Fraction
    event: Event
    off: int
    measure: int


def sounding_notes(comp: "Composition", part_id: str, starts: list[Fraction] | None = None) -> list[SoundingNote]:
    """The part's notes as they sound, in time order: a chain of tied notes is ONE note, not
    re-attacked. A note marked ``tie=start`` (or ``continue``) runs on into the note of the same
    pitch and channel that begins where it ends (in any voice, whatever that note's own tie
    mark); the chain goes on while the notes joined are marked ``continue`` (or ``start``).
    Grace notes are left out (they take no time)."""
    if starts is None:
        starts = [s for s, _, _ in comp.grid()]

    def at(m: int, onset: Fraction) -> Fraction:
        return (starts[m - 1] if m - 1 < len(starts) else (starts[-1] if starts else Fraction(0))) + onset

    raw = [(at(m, e.onset), m, e) for m, e in comp.all_events(part_id) if e.kind == "note" and not e.grace]
    raw.sort(key=lambda x: (x[0], x[2].sort_key()))
    out: list[SoundingNote] = []
    open_: dict[tuple, list[int]] = {}  # (channel, key, end) -> indexes of chains waiting for their next note
    for t, m, e in raw:
        key = (e.ch, e.midi, t)
        if open_.get(key):
            i = open_[key].pop(0)
            if not open_[key]:
                del open_[key]
            head = out[i]
            out[i] = SoundingNote(head.start, t + e.dur, head.event, e.off, head.measure)
            if e.tie in ("start", "continue"):
                open_.setdefault((e.ch, e.midi, t + e.dur), []).append(i)
            continue
        out.append(SoundingNote(t, t + e.dur, e, e.off, m))
        if e.tie in ("start", "continue"):
            open_.setdefault((e.ch, e.midi, t + e.dur), []).append(len(out) - 1)
    return out


def parse_global_text(text: str) -> list[GlobalEvent]:
    out = []
    for m, body in measure_lines(text).items():
        if body:
            out.extend(parse_global_event(m, t) for t in body.split(" ; "))
    return out


SCHEMA_FILE = "composition-format.schema.json"  # beside this module; docs/ links to it


@functools.lru_cache(maxsize=1)
def metadata_validator():
    """The JSON Schema validator of composition.json (jsonschema, Draft 2020-12), made once."""
    import jsonschema  # not needed (nor present) where the model only writes, e.g. in the SHF sandbox

    schema = json.loads(importlib.resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _field(path) -> str:
    """``["parts", 0, "program"]`` -> ``parts[0].program``."""
    out = ""
    for item in path:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else str(item))
    return out


def validate_metadata(meta: Any) -> None:
    """Check a composition.json document against docs/composition-format.schema.json (with the
    jsonschema library); FormatError names the field at fault. Part ids must also be unique
    (a rule JSON Schema cannot state for one key of objects)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(metadata_validator().iter_errors(meta))
    if error is not None:
        where = _field(error.absolute_path)
        raise FormatError(f"composition.json: {where + ': ' if where else ''}{error.message}",
                          details={"field": where or None})
    seen = set()
    for p in meta["parts"]:
        if p["id"] in seen:
            raise FormatError(f"composition.json: part {p['id']} is listed twice", details={"field": "parts"})
        seen.add(p["id"])


@functools.lru_cache(maxsize=512)
def _validate_metadata_text(raw: str) -> None:
    """:func:`validate_metadata` once per distinct composition.json text (a piece's metadata is read
    again and again, unchanged; only valid texts are remembered)."""
    validate_metadata(json.loads(raw))


def slugify(text: str, fallback: str = "part") -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]
    return s or fallback
