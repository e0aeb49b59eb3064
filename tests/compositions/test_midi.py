"""MIDI -> canonical -> MIDI keeps every note event exactly."""
from __future__ import annotations

import io
import random

import mido
import pytest

from companion.compositions.midi import MidiError, note_events, read_midi, write_midi
from companion.compositions.model import Composition


def generated(seed: int) -> mido.MidiFile:
    r = random.Random(seed)
    mid = mido.MidiFile(type=r.choice([0, 1, 1]), ticks_per_beat=r.choice([96, 120, 384, 480, 1000]))
    cond = mido.MidiTrack()
    cond.append(mido.MetaMessage("time_signature", numerator=r.choice([2, 3, 4, 5, 7]), denominator=r.choice([4, 8])))
    cond.append(mido.MetaMessage("set_tempo", tempo=r.randint(300000, 900000)))
    cond.append(mido.MetaMessage("key_signature", key=r.choice(["C", "Bb", "F#m", "Eb", "A"])))
    cond.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=r.randint(50, 5000)))
    cond.append(mido.MetaMessage("set_tempo", tempo=r.randint(300000, 900000), time=r.randint(0, 3000)))
    tracks = [cond] if mid.type == 1 else []
    events = [] if mid.type == 1 else [(0, 0, m) for m in cond]
    for tr in range(r.randint(1, 4)):
        ch = tr if tr != 3 else 9
        evs = [(0, 0, mido.MetaMessage("track_name", name=f"Track {tr}")),
               (0, 0, mido.Message("program_change", channel=ch, program=r.randint(0, 127)))]
        now = 0
        for _ in range(r.randint(10, 150)):
            now += r.randint(0, 300)
            note, d = r.randint(0, 127), r.randint(0, 700)
            c = ch if r.random() < .9 else r.randint(0, 15)
            evs.append((now, 2, mido.Message("note_on", channel=c, note=note, velocity=r.randint(1, 127))))
            evs.append((now + d, 1 if d else 3, mido.Message("note_off", channel=c, note=note,
                                                             velocity=r.choice([0, 64, r.randint(0, 127)]))))
            if r.random() < .1:
                evs.append((now, 0, mido.Message("control_change", channel=ch, control=r.randint(0, 127), value=r.randint(0, 127))))
            if r.random() < .05:
                evs.append((now, 0, mido.Message("pitchwheel", channel=ch, pitch=r.randint(-8192, 8191))))
            if r.random() < .03:
                evs.append((now, 0, mido.Message("program_change", channel=ch, program=r.randint(0, 127))))
        if mid.type == 1:
            tracks.append(_track(evs))
        else:
            events += evs
    if mid.type == 0:
        tracks = [_track(events)]
    mid.tracks.extend(tracks)
    return mid


def _track(evs):
    t = mido.MidiTrack()
    last = 0
    for tick, _, m in sorted(evs, key=lambda e: (e[0], e[1])):
        t.append(m.copy(time=tick - last))
        last = tick
    return t


def roundtrip(data: bytes) -> bytes:
    comp = read_midi(data)
    files = comp.to_files()
    return write_midi(Composition.from_files(files))


@pytest.mark.parametrize("seed", range(60))
def test_generated_midi_round_trip_keeps_every_note(seed):
    buf = io.BytesIO()
    generated(seed).save(file=buf)
    data = buf.getvalue()
    out = roundtrip(data)
    before = note_events(mido.MidiFile(file=io.BytesIO(data)))
    after = note_events(mido.MidiFile(file=io.BytesIO(out)))
    assert before == after
    assert before, "the generator made notes"


def test_round_trip_keeps_tempo_meter_key_controllers_and_programs():
    buf = io.BytesIO()
    generated(7).save(file=buf)
    src = mido.MidiFile(file=io.BytesIO(buf.getvalue()))
    out = mido.MidiFile(file=io.BytesIO(roundtrip(buf.getvalue())))

    def abs_msgs(mid, types):
        res = []
        for tr in mid.tracks:
            t = 0
            for m in tr:
                t += m.time
                if m.type in types:
                    d = m.dict()
                    d.pop("time")
                    res.append((t * 960 // mid.ticks_per_beat, tuple(sorted(d.items()))))
        return sorted(res)

    for types in (("set_tempo",), ("key_signature",), ("control_change", "pitchwheel", "program_change")):
        assert abs_msgs(src, types) == abs_msgs(out, types)


def test_corpus_midi_round_trip():
    from music21 import corpus
    for name in ("bach/bwv66.6", "bach/bwv1.6", "bach/bwv10.7"):
        score = corpus.parse(name)
        mf = __import__("music21").midi.translate.streamToMidiFile(score)
        data = mf.writestr()
        out = roundtrip(data)
        assert note_events(mido.MidiFile(file=io.BytesIO(data))) == note_events(mido.MidiFile(file=io.BytesIO(out)))


def test_canonical_text_reads_as_music():
    buf = io.BytesIO()
    mid = mido.MidiFile(ticks_per_beat=480)
    t = mido.MidiTrack()
    mid.tracks.append(t)
    t.append(mido.MetaMessage("track_name", name="Bass"))
    t.append(mido.Message("note_on", note=36, velocity=90))
    t.append(mido.Message("note_off", note=36, velocity=0, time=240))
    t.append(mido.Message("note_on", note=43, velocity=80, time=240))
    t.append(mido.Message("note_off", note=43, velocity=0, time=960))
    mid.save(file=buf)
    files = read_midi(buf.getvalue()).to_files()
    assert "1| 0 C2 1/2 v90 ; 1 G2 2 v80" in files["parts/bass.txt"].decode()


@pytest.mark.parametrize("data", [b"", b"MThd", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x90",
                                  b"not midi at all" * 10])
def test_malformed_midi_is_refused(data):
    with pytest.raises(MidiError):
        read_midi(data)
