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

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Iterator
from urllib.parse import quote, unquote

FORMAT_NAME = "scripthammer-composition"
FORMAT_VERSION = 1
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


class FormatError(ValueError):
    """Text that is not valid canonical composition format."""


# --------------------------------------------------------------------------- pitches and times

def pitch_to_midi(name: str) -> int:
    m = _PITCH_RE.match(name)
    if not m:
        raise FormatError(f"not a pitch: {name!r}")
    return (int(m.group(3)) + 1) * 12 + _STEPS[m.group(1)] + _ALTERS[m.group(2)]


def midi_to_pitch(number: int, flats: bool = False) -> str:
    names = _FLAT_NAMES if flats else _SHARP_NAMES
    return f"{names[number % 12]}{number // 12 - 1}"


def is_pitch(token: str) -> bool:
    return bool(_PITCH_RE.match(token))


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


# --------------------------------------------------------------------------- events

_KIND_ORDER = {"note": 5, "program": 0, "cc": 1, "bend": 2, "pressure": 3, "poly": 4, "dyn": 6}


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a part within a measure; ``onset`` is relative to the measure start.

    kind ``note``: pitch (spelled, e.g. ``Eb4``), dur, vel, ch (None: the part's channel),
    off (note-off velocity, 0 default), voice, tie (start/stop/continue), grace, lyrics.
    Other kinds (``cc``, ``bend``, ``program``, ``pressure``, ``poly``, ``dyn``) use
    ``num`` (controller or key number) and ``value`` (int, or the dynamic mark for dyn).
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
    grace: bool = False
    lyrics: tuple[str, ...] = ()
    num: int = 0
    value: Any = 0

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
        return (self.onset, _KIND_ORDER.get(self.kind, 9), 0, self.num, str(self.value),
                self.ch if self.ch is not None else -1, 0, 0, self.to_text())

    def position(self) -> tuple:
        """Where an event sits: notes by (voice, onset); controls by their own lane."""
        if self.kind == "note":
            return ("note", self.voice, self.onset)
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
                out.append("grace")
            for i, text in enumerate(self.lyrics):
                out.append(f"lyric{'' if i == 0 else i + 1}={quote(text, safe='')}")
            return " ".join(out)
        if self.kind == "cc":
            head = f"cc{self.num}={self.value}"
        elif self.kind == "poly":
            head = f"poly{self.num}={self.value}"
        elif self.kind == "dyn":
            head = f"dyn={quote(str(self.value), safe='')}"
        else:
            head = f"{self.kind}={self.value}"
        out = [fmt_q(self.onset), head]
        if self.ch is not None:
            out.append(f"ch{self.ch}")
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
                d["grace"] = True
            if self.lyrics:
                d["lyrics"] = list(self.lyrics)
            return d
        d = {"kind": self.kind, "onset": fmt_q(self.onset), "value": self.value}
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
                         voice=int(d.get("voice", 1)), tie=str(d.get("tie", "")), grace=bool(d.get("grace", False)),
                         lyrics=tuple(str(x) for x in d.get("lyrics", ())))
            elif kind in ("cc", "poly"):
                ev = cls(onset, kind, num=int(d["number"]), value=int(d["value"]), ch=ch)
            elif kind == "dyn":
                ev = cls(onset, kind, value=str(d["value"]), ch=ch)
            elif kind in ("bend", "program", "pressure"):
                ev = cls(onset, kind, value=int(d["value"]), ch=ch)
            else:
                raise FormatError(f"unknown event kind {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"not an event: {d!r} ({exc})") from None
        validate_event(ev)
        return ev


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
                elif tok.startswith("lyric"):
                    name, _, val = tok.partition("=")
                    lyrics[int(name[5:] or 1)] = unquote(val)
                else:
                    raise FormatError(f"unknown note attribute {tok!r}")
            if lyrics:
                kw["lyrics"] = tuple(lyrics[k] for k in sorted(lyrics))
            ev = Event(onset, "note", pitch=head, dur=parse_q(tokens[2]), vel=int(tokens[3][1:]), **kw)
        else:
            name, eq, val = head.partition("=")
            if not eq:
                raise FormatError(f"not an event: {text!r}")
            ch = None
            for tok in tokens[2:]:
                if tok.startswith("ch"):
                    ch = int(tok[2:])
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
            else:
                raise FormatError(f"unknown event {name!r}")
    except ValueError as exc:
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
    length (a measure's actual length, e.g. a pickup) or marker (text) event."""

    measure: int
    onset: Fraction
    kind: str
    value: Any

    def to_text(self) -> str:
        if self.kind == "tempo":
            bpm = 60_000_000 / self.value
            return f"{fmt_q(self.onset)} tempo {self.value}us ~{bpm:.6g}bpm"
        if self.kind == "key":
            sharps, mode = self.value
            return f"{fmt_q(self.onset)} key {key_name(sharps, mode)}"
        if self.kind == "length":
            return f"{fmt_q(self.onset)} length {fmt_q(self.value)}"
        if self.kind == "marker":
            return f"{fmt_q(self.onset)} marker {quote(self.value, safe='')}"
        return f"{fmt_q(self.onset)} {self.kind} {self.value}"

    def sort_key(self) -> tuple:
        order = {"length": 0, "meter": 1, "key": 2, "tempo": 3, "marker": 4}
        return (self.measure, self.onset, order.get(self.kind, 9), self.to_text())

    def position(self) -> tuple:
        return (self.kind, self.onset)

    def identity(self) -> tuple:
        return (self.kind, self.onset)

    def to_dict(self) -> dict[str, Any]:
        value: Any = self.value
        if self.kind == "key":
            value = {"sharps": self.value[0], "mode": self.value[1], "name": key_name(*self.value)}
        elif self.kind == "length":
            value = fmt_q(self.value)
        elif self.kind == "tempo":
            value = {"us_per_quarter": self.value, "bpm": round(60_000_000 / self.value, 3)}
        return {"kind": self.kind, "measure": self.measure, "onset": fmt_q(self.onset), "value": value}


def parse_global_event(measure: int, text: str) -> GlobalEvent:
    tokens = text.split()
    if len(tokens) < 3:
        raise FormatError(f"not a global event: {text!r}")
    onset = parse_q(tokens[0])
    kind = tokens[1]
    try:
        if kind == "tempo":
            value: Any = int(tokens[2].removesuffix("us"))
            if value <= 0:
                raise FormatError("tempo must be positive")
        elif kind == "meter":
            num, den = tokens[2].split("/")
            if int(num) <= 0 or int(den) <= 0:
                raise FormatError(f"not a meter: {tokens[2]!r}")
            value = f"{int(num)}/{int(den)}"
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
    return GlobalEvent(measure, onset, kind, value)


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
            return raw.decode() if isinstance(raw, bytes) else raw

        if METADATA_FILE not in files:
            raise FormatError(f"{METADATA_FILE} is missing")
        try:
            meta = json.loads(text(METADATA_FILE))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatError(f"{METADATA_FILE} is not JSON: {exc}") from None
        validate_metadata(meta)
        known = {"format", "version", "title", "visibility", "measures", "parts"}
        comp = cls(title=meta.get("title", ""), parts=[Part.from_dict(p) for p in meta["parts"]],
                   measures=int(meta.get("measures", 0)), visibility=meta.get("visibility", "private"),
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


def parse_global_text(text: str) -> list[GlobalEvent]:
    out = []
    for m, body in measure_lines(text).items():
        if body:
            out.extend(parse_global_event(m, t) for t in body.split(" ; "))
    return out


def validate_metadata(meta: Any) -> None:
    """Check a composition.json document (the rules of docs/composition-format.schema.json)."""
    if not isinstance(meta, dict):
        raise FormatError("composition.json must be an object")
    if meta.get("format") != FORMAT_NAME:
        raise FormatError(f"composition.json: format must be {FORMAT_NAME!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise FormatError(f"composition.json: unsupported version {meta.get('version')!r}")
    if meta.get("visibility", "private") not in ("private", "public"):
        raise FormatError("composition.json: visibility is private or public")
    if not isinstance(meta.get("measures", 0), int) or meta.get("measures", 0) < 0:
        raise FormatError("composition.json: measures must be a non-negative integer")
    parts = meta.get("parts")
    if not isinstance(parts, list):
        raise FormatError("composition.json: parts must be a list")
    seen = set()
    for p in parts:
        if not isinstance(p, dict) or not isinstance(p.get("id"), str) or not PART_ID_RE.match(p["id"]):
            raise FormatError(f"composition.json: bad part entry {p!r}")
        if p["id"] in seen:
            raise FormatError(f"composition.json: part {p['id']} is listed twice")
        seen.add(p["id"])
        prog = p.get("program")
        if prog is not None and (not isinstance(prog, int) or not 0 <= prog <= 127):
            raise FormatError(f"part {p['id']}: program must be 0..127 or null")
        ch = p.get("channel", 0)
        if not isinstance(ch, int) or not 0 <= ch <= 15:
            raise FormatError(f"part {p['id']}: channel must be 0..15")
        if not isinstance(p.get("kind", "melody"), str):
            raise FormatError(f"part {p['id']}: kind must be a string")


def slugify(text: str, fallback: str = "part") -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]
    return s or fallback
