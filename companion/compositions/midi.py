"""MIDI import and export (mido), lossless for note events.

Every note keeps its exact onset and duration (ticks / ticks_per_beat as a fraction of a
quarter), pitch, velocity, note-off velocity and channel; tempo, meter and key changes,
program changes, controllers, pitch bend and aftertouch are kept as events. Not kept:
SysEx, sequencer-specific meta events, text other than track names and markers, and the
exact pairing of overlapping notes of the same pitch and channel (paired first-in, first-out).
"""
from __future__ import annotations

import io
import math
from bisect import bisect_right
from collections import Counter, defaultdict, deque
from fractions import Fraction
from typing import Any

import mido

from ..errors import ScriptHammerError
from .model import (Composition, Event, GlobalEvent, Part, meter_length, midi_to_pitch, slugify, sounding_notes,
                    MAJOR_TONICS, MINOR_TONICS)

DEFAULT_TPB = 960
MAX_TPB = 32767


class MidiError(ScriptHammerError, ValueError):
    """The bytes are not a MIDI file this importer can read."""

    status = 422
    code = "bad_midi"


_MIDO_KEY = {}
for _s, _t in MAJOR_TONICS.items():
    _MIDO_KEY[_t] = (_s, "major")
for _s, _t in MINOR_TONICS.items():
    _MIDO_KEY[_t + "m"] = (_s, "minor")


def _mido_key_name(sharps: int, mode: str | None) -> str:
    return MINOR_TONICS[sharps] + "m" if mode == "minor" else MAJOR_TONICS[sharps]


def guess_kind(program: int | None, channel: int, name: str) -> tuple[str, str | None]:
    """A part kind (and lead instrument) from GM program, channel and name."""
    low = name.lower()
    if channel == 9 or any(w in low for w in ("drum", "perc", "kit")):
        return "rhythm", None
    if any(w in low for w in ("vocal", "voice", "soprano", "alto", "tenor", "bass voice", "choir", "lyric")):
        return "vocals", None
    if "bass" in low:
        return "rhythm", None
    if "sax" in low:
        return "lead", "saxophone"
    if "trumpet" in low:
        return "lead", "trumpet"
    if "guitar" in low or "chord" in low or "comp" in low:
        return "harmony", None
    if program is not None:
        if 32 <= program <= 39:
            return "rhythm", None
        if 24 <= program <= 31:
            return "harmony", None
        if 64 <= program <= 67:
            return "lead", "saxophone"
        if program == 56:
            return "lead", "trumpet"
        if 52 <= program <= 54:
            return "vocals", None
    return "melody", None


#: What an import accepts (a hostile file must not make the measure grid endless): the API's limit on
#: measures, and time signatures music is written in.
MAX_MEASURES = 100_000
MAX_METER_NUMERATOR = 64
METER_DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)


def read_midi(data: bytes, title: str = "", band=None) -> Composition:
    """Parse MIDI bytes into a Composition. Raises MidiError on malformed input."""
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError, IndexError...
        raise MidiError(f"not a readable MIDI file: {exc}") from None
    return from_mido(mid, title=title, band=band)


def from_mido(mid: mido.MidiFile, title: str = "", band=None) -> Composition:
    tpb = mid.ticks_per_beat
    if not tpb or tpb <= 0:
        raise MidiError("SMPTE time division is not supported")
    comp = Composition(title=title)
    comp.meta_extra["source"] = {"kind": "midi", "ticks_per_beat": tpb, "midi_type": mid.type}

    # 1. absolute-time events per track (type 0: split later by channel)
    tracks: list[tuple[str, list[tuple[int, Any]]]] = []
    globals_: list[tuple[int, int, Any]] = []  # (tick, seq, msg)
    seq = 0
    for ti, track in enumerate(mid.tracks):
        tick = 0
        name = ""
        events = []
        for msg in track:
            tick += msg.time
            seq += 1
            if msg.is_meta:
                if msg.type == "track_name" and not name:
                    name = msg.name
                elif msg.type in ("set_tempo", "time_signature", "key_signature", "marker"):
                    globals_.append((tick, seq, msg))
                continue
            if msg.type in ("sysex",):
                continue
            events.append((tick, msg))
        tracks.append((name, events))
    if mid.type == 0 and tracks:
        name, events = tracks[0]
        by_ch: dict[int, list] = defaultdict(list)
        for tick, msg in events:
            by_ch[getattr(msg, "channel", 0)].append((tick, msg))
        tracks = [(f"{name or 'channel'} {ch + 1}".strip(), evs) for ch, evs in sorted(by_ch.items())]

    # 2. global track and the measure grid
    globals_.sort(key=lambda x: (x[0], x[1]))
    last_tick = max([t for _, evs in tracks for t, _ in evs] + [t for t, _, _ in globals_] + [0])
    meter_changes = [(t, f"{m.numerator}/{m.denominator}") for t, _, m in globals_ if m.type == "time_signature"]
    for t, _, m in globals_:
        if m.type == "time_signature" and not (0 < m.numerator <= MAX_METER_NUMERATOR
                                               and m.denominator in METER_DENOMINATORS):
            raise MidiError(f"unsupported time signature {m.numerator}/{m.denominator} at tick {t} (numerator 1-"
                            f"{MAX_METER_NUMERATOR}, denominator one of {', '.join(map(str, METER_DENOMINATORS))})")
    starts: list[Fraction] = []
    last_q = Fraction(last_tick, tpb)
    start = Fraction(0)
    meter = "4/4"
    mi = 0
    measure = 0
    while True:
        # meter events at or before this start apply
        while mi < len(meter_changes) and Fraction(meter_changes[mi][0], tpb) <= start:
            new = meter_changes[mi][1]
            if new != meter or measure == 0:
                comp.global_events.append(GlobalEvent(measure + 1, Fraction(0), "meter", new))
            meter = new
            mi += 1
        measure += 1
        starts.append(start)
        length = meter_length(meter)
        if mi < len(meter_changes):
            nxt = Fraction(meter_changes[mi][0], tpb)
            if start < nxt < start + length:
                length = nxt - start
                comp.global_events.append(GlobalEvent(measure, Fraction(0), "length", length))
        start += length
        if start > last_q and mi >= len(meter_changes):
            break
        if measure >= MAX_MEASURES:
            raise MidiError(f"the file is longer than {MAX_MEASURES} measures")
    comp.measures = measure
    # drop a redundant "meter 4/4" at measure 1 only if the file had no time signature at all
    key_flats = []
    for t, _, msg in globals_:
        q = Fraction(t, tpb)
        m, off = comp.locate(starts, q)
        if msg.type == "set_tempo":
            comp.global_events.append(GlobalEvent(m, off, "tempo", msg.tempo))
        elif msg.type == "key_signature":
            sharps, mode = _MIDO_KEY.get(msg.key, (0, "major"))
            comp.global_events.append(GlobalEvent(m, off, "key", (sharps, mode)))
            key_flats.append((q, sharps < 0))
        elif msg.type == "marker":
            comp.global_events.append(GlobalEvent(m, off, "marker", msg.text))
    # several events of one kind at one time: only the last one counts in MIDI
    last: dict[tuple, GlobalEvent] = {}
    for g in comp.global_events:
        last.pop((g.measure, g.onset, g.kind), None)
        last[(g.measure, g.onset, g.kind)] = g
    comp.global_events = list(last.values())
    key_times = [q for q, _ in key_flats]

    def flats_at(q: Fraction) -> bool:
        i = bisect_right(key_times, q) - 1
        return key_flats[i][1] if i >= 0 else False

    # 3. parts
    used_ids: set[str] = set()
    for ti, (name, events) in enumerate(tracks):
        if not any(msg.type in ("note_on", "note_off", "control_change", "program_change", "pitchwheel",
                                "aftertouch", "polytouch") for _, msg in events):
            continue
        notes_ch = Counter(msg.channel for _, msg in events if msg.type == "note_on")
        channel = notes_ch.most_common(1)[0][0] if notes_ch else getattr(events[0][1], "channel", 0)
        first_prog = None
        for t, msg in events:
            if msg.type == "program_change" and msg.channel == channel:
                if t == 0:
                    first_prog = msg
                break
        program = first_prog.program if first_prog is not None else None
        kind, lead = guess_kind(program, channel, name)
        owner = None
        if band is not None:
            owners = band.owner_of(kind, lead)
            owner = owners[0] if len(owners) == 1 else None
        pid = slugify(name, f"track-{ti + 1}")
        base = pid
        n = 2
        while pid in used_ids:
            pid = f"{base}-{n}"
            n += 1
        used_ids.add(pid)
        part = Part(id=pid, name=name or pid, instrument="", program=program, channel=channel, kind=kind, owner=owner)
        if lead:
            part.extra["lead_instrument"] = lead
        comp.parts.append(part)

        def put(q: Fraction, ev_builder):
            m, off = comp.locate(starts, q)
            comp.add_event(pid, m, ev_builder(off))

        open_notes: dict[tuple[int, int], deque] = defaultdict(deque)
        for t, msg in events:
            typ = msg.type
            ch = None if getattr(msg, "channel", channel) == channel else msg.channel
            if typ == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)].append((t, msg.velocity))
            elif typ == "note_off" or (typ == "note_on" and msg.velocity == 0):
                q_ = open_notes.get((msg.channel, msg.note))
                if not q_:
                    continue
                t0, vel = q_.popleft()
                offv = msg.velocity if typ == "note_off" else 0
                q0 = Fraction(t0, tpb)
                dur = Fraction(t - t0, tpb)
                pitch = midi_to_pitch(msg.note, flats_at(q0))
                put(q0, lambda off, p=pitch, d=dur, v=vel, c=ch, o=offv: Event(off, "note", pitch=p, dur=d, vel=v, ch=c, off=o))
            elif typ == "control_change":
                put(Fraction(t, tpb), lambda off, m=msg, c=ch: Event(off, "cc", num=m.control, value=m.value, ch=c))
            elif typ == "program_change":
                if msg is first_prog:
                    continue
                put(Fraction(t, tpb), lambda off, m=msg, c=ch: Event(off, "program", value=m.program, ch=c))
            elif typ == "pitchwheel":
                put(Fraction(t, tpb), lambda off, m=msg, c=ch: Event(off, "bend", value=m.pitch, ch=c))
            elif typ == "aftertouch":
                put(Fraction(t, tpb), lambda off, m=msg, c=ch: Event(off, "pressure", value=m.value, ch=c))
            elif typ == "polytouch":
                put(Fraction(t, tpb), lambda off, m=msg, c=ch: Event(off, "poly", num=m.note, value=m.value, ch=c))
        # notes never released end at the track's last tick
        end_tick = events[-1][0] if events else 0
        for (c_, note), q_ in sorted(open_notes.items()):
            for t0, vel in q_:
                q0 = Fraction(t0, tpb)
                pitch = midi_to_pitch(note, flats_at(q0))
                put(q0, lambda off, p=pitch, d=Fraction(end_tick - t0, tpb), v=vel,
                    c=(None if c_ == channel else c_): Event(off, "note", pitch=p, dur=d, vel=v, ch=c))
        if comp.measures < len(starts):
            comp.measures = len(starts)
    # sort each measure's events canonically
    for p in comp.parts:
        for m, evs in comp._events.get(p.id, {}).items():
            evs.sort(key=Event.sort_key)
    return comp


# --------------------------------------------------------------------------- export

def _choose_tpb(comp: Composition) -> int:
    src = comp.meta_extra.get("source") or {}
    tpb = int(src.get("ticks_per_beat") or DEFAULT_TPB)
    dens = set()
    for start, length, _ in comp.grid():
        dens.add(start.denominator)
    for g in comp.global_events:
        dens.add(g.onset.denominator)
    for p in comp.parts:
        for _, ev in comp.all_events(p.id):
            dens.add(ev.onset.denominator)
            dens.add(ev.dur.denominator)
    for d in dens:
        if tpb % d:
            new = tpb * d // math.gcd(tpb, d)
            if new > MAX_TPB:
                return tpb  # times get rounded to the nearest tick
            tpb = new
    return tpb


def to_mido(comp: Composition, ticks_per_beat: int | None = None) -> mido.MidiFile:
    tpb = ticks_per_beat or _choose_tpb(comp)
    grid = comp.grid(max(comp.measures, max((g.measure for g in comp.global_events), default=0)))
    starts = [s for s, _, _ in grid]

    def tick(measure: int, off: Fraction) -> int:
        base = starts[measure - 1] if measure - 1 < len(starts) else (starts[-1] if starts else Fraction(0))
        return round((base + off) * tpb)

    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor: list[tuple[int, int, Any]] = []
    if comp.title:
        conductor.append((0, 0, mido.MetaMessage("track_name", name=comp.title)))
    prev_meter = None
    for g in sorted(comp.global_events, key=GlobalEvent.sort_key):
        t = tick(g.measure, g.onset)
        if g.kind == "tempo":
            conductor.append((t, 3, mido.MetaMessage("set_tempo", tempo=g.value)))
        elif g.kind == "meter":
            num, den = (int(x) for x in g.value.split("/"))
            if den & (den - 1):
                continue  # MIDI can only hold power-of-two denominators
            conductor.append((t, 1, mido.MetaMessage("time_signature", numerator=num, denominator=den)))
            prev_meter = g.value
        elif g.kind == "key":
            conductor.append((t, 2, mido.MetaMessage("key_signature", key=_mido_key_name(*g.value))))
        elif g.kind == "marker":
            conductor.append((t, 4, mido.MetaMessage("marker", text=g.value)))
    mid.tracks.append(_track(conductor))
    for p in comp.parts:
        evs: list[tuple[int, int, Any]] = []
        if p.name:
            evs.append((0, -2, mido.MetaMessage("track_name", name=p.name)))
        if p.program is not None:
            evs.append((0, -1, mido.Message("program_change", channel=p.channel, program=p.program)))
        for n in sounding_notes(comp, p.id, starts):  # a tied chain is one note, not re-attacked
            ev = n.event
            ch = p.channel if ev.ch is None else ev.ch
            t, t1 = round(n.start * tpb), round(n.end * tpb)
            evs.append((t, 2, mido.Message("note_on", channel=ch, note=ev.midi, velocity=ev.vel)))
            # releases of earlier notes sort before onsets at the same tick; zero-length after
            evs.append((t1, 3 if t1 == t else 0, mido.Message("note_off", channel=ch, note=ev.midi, velocity=n.off)))
        for m, ev in comp.all_events(p.id):
            ch = p.channel if ev.ch is None else ev.ch
            t = tick(m, ev.onset)
            if ev.kind == "note":
                continue
            elif ev.kind == "cc":
                evs.append((t, 1, mido.Message("control_change", channel=ch, control=ev.num, value=ev.value)))
            elif ev.kind == "program":
                evs.append((t, 1, mido.Message("program_change", channel=ch, program=ev.value)))
            elif ev.kind == "bend":
                evs.append((t, 1, mido.Message("pitchwheel", channel=ch, pitch=ev.value)))
            elif ev.kind == "pressure":
                evs.append((t, 1, mido.Message("aftertouch", channel=ch, value=ev.value)))
            elif ev.kind == "poly":
                evs.append((t, 1, mido.Message("polytouch", channel=ch, note=ev.num, value=ev.value)))
        mid.tracks.append(_track(evs))
    return mid


def _track(events: list[tuple[int, int, Any]]) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    for t, _, msg in sorted(events, key=lambda x: (x[0], x[1])):
        # the message was checked when it was made: only its time is new (a delta of sorted ticks)
        track.append(msg.copy(skip_checks=True, time=t - now) if isinstance(msg, mido.Message)
                     else msg.copy(time=t - now))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_midi(comp: Composition, ticks_per_beat: int | None = None) -> bytes:
    buf = io.BytesIO()
    to_mido(comp, ticks_per_beat).save(file=buf)
    return buf.getvalue()


def note_events(mid: mido.MidiFile) -> list[tuple[int, int, int, int, int, int]]:
    """Every note of a MIDI file as (on tick, off tick, channel, pitch, velocity, off velocity), sorted;
    notes paired first-in first-out per channel and pitch (the round-trip test's yardstick)."""
    out = []
    for track in mid.tracks:
        t = 0
        open_: dict = defaultdict(deque)
        for msg in track:
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_[(msg.channel, msg.note)].append((t, msg.velocity))
            elif msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
                q = open_.get((msg.channel, msg.note))
                if q:
                    t0, v = q.popleft()
                    out.append((t0, t, msg.channel, msg.note, v, msg.velocity if msg.type == "note_off" else 0))
        for (ch, note), q in open_.items():
            for t0, v in q:
                out.append((t0, t, ch, note, v, 0))
    return sorted(out)
