"""Format version 2's notation in the canonical text: clefs, slurs, hairpins, articulations,
ornaments, per-part meter and key, tempo marks, grace order, verses, transposition; its JSON
form; what is refused; and the rule for a part's meter and key."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from companion.compositions.model import (FORMAT_VERSION, Composition, Event, FormatError, GlobalEvent, Part,
                                          parse_event, parse_events, parse_global_event, sounding_notes,
                                          validate_metadata)

PART_EVENTS = [
    "0 clef=F4", "3/2 clef=G2-8", "0 clef=C3", "0 clef=percussion",
    "0 meter=6/8", "0 key=F", "0 key=D:minor", "0 key=Bb:major", "0 key=none",
    "1/2 slur=7/2", "1/2 slur=3 V2", "0 slur=1/2 from-grace", "0 slur=1 V3 from-grace=2 to-grace",
    "0 cresc=3/2", "5/2 dim=4",
    "0 C4 1 v80 art=staccato,accent", "0 C4 1 v80 orn=trill", "0 C4 1 v80 art=fermata orn=tremolo3",
    "0 D5 0 v64 grace=2", "0 D5 0 v64 grace art=accent",
    "0 E4 1 v64 lyric2=men", "0 E4 1 v64 lyric=cos- lyric3=la",
]


@pytest.mark.parametrize("text", PART_EVENTS)
def test_each_notation_event_reads_and_writes_back_the_same(text):
    ev = parse_event(text)
    assert ev.to_text() == text
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev


def test_what_the_events_mean():
    assert parse_event("0 key=F").value == (-1, None)
    assert parse_event("0 key=D:minor").value == (-1, "minor")
    assert parse_event("0 key=none").value is None
    slur = parse_event("1/2 slur=7/2 V2")
    assert (slur.kind, slur.dur, slur.voice) == ("slur", Fraction(7, 2), 2)
    assert parse_event("0 C4 1 v80 art=accent,staccato").art == ("staccato", "accent")  # canonical order
    assert parse_event("0 E4 1 v64 lyric2=men").lyrics == ("", "men")
    assert parse_event("0 D5 0 v64 grace=2").grace == 2
    assert parse_event("0 slur=1 from-grace=2 to-grace").to_dict() == {
        "kind": "slur", "onset": "0", "span": "1", "voice": 1, "from_grace": 2, "to_grace": True}
    assert parse_event("0 key=D:minor").to_dict()["value"] == {"sharps": -1, "mode": "minor", "name": "D minor"}


@pytest.mark.parametrize("bad", [
    "0 clef=H2", "0 clef=G7", "0 meter=6/0", "0 meter=x", "0 key=H", "0 key=F:dorian",
    "0 slur=-1", "0 cresc=-1/2", "0 C4 1 v80 art=wobble", "0 C4 1 v80 orn=staccato",
    "0 slur=1 from-grace=0", "0 slur=1 sideways", "0 cresc=1 V2", "0 clef=G2 V2",
    "0 C4 0 v80 grace=0", "0 C4 1 v80 lyric0=x",
])
def test_bad_notation_is_refused_with_a_format_error(bad):
    with pytest.raises(FormatError):
        parse_events(bad)


@pytest.mark.parametrize("d", [
    {"kind": "clef", "onset": "0", "value": "X9"},
    {"kind": "key", "onset": "0", "value": {"sharps": 9, "mode": "major"}},
    {"kind": "slur", "onset": "0"},
    {"kind": "note", "onset": "0", "pitch": "C4", "articulations": ["loud"]},
    {"kind": "meter", "onset": "0", "value": "three"},
])
def test_bad_json_events_are_refused(d):
    with pytest.raises(FormatError):
        Event.from_dict(d)


def test_tempo_marks_keep_beat_text_and_what_is_printed():
    g = parse_global_event(3, "1/2 tempo 666667us ~90bpm beat=3/2 text=Allegro%20molto")
    assert g.value == 666667 and g.beat == Fraction(3, 2) and g.text == "Allegro molto"
    assert g.number == 60.0 and g.to_dict()["number"] == 60.0
    assert parse_global_event(3, g.to_text()) == g
    both = parse_global_event(1, "0 tempo 500000us ~120bpm shown=100")  # plays 120, shows 100
    assert both.number == 100.0 and parse_global_event(1, both.to_text()) == both
    assert parse_global_event(1, "0 tempo 600000us implicit").implicit
    assert parse_global_event(1, "0 meter 2/2 symbol=cut").symbol == "cut"
    # a version 1 tempo line reads as before
    assert parse_global_event(1, "0 tempo 500000us ~120bpm") == GlobalEvent(1, Fraction(0), "tempo", 500000)
    for bad in ("0 tempo 500000us beat=0", "0 tempo 500000us loud", "0 meter 3/4 symbol=star"):
        with pytest.raises(FormatError):
            parse_global_event(1, bad)


def piece() -> Composition:
    comp = Composition(title="Signatures", measures=6)
    comp.parts = [Part(id="violin", kind="melody"), Part(id="horn", kind="melody", extra={"transposition": "P-5"})]
    comp.global_events = [GlobalEvent(1, Fraction(0), "meter", "3/4"), GlobalEvent(1, Fraction(0), "key", (-2, "major")),
                          GlobalEvent(4, Fraction(0), "key", (0, "major"))]
    comp.set_events("horn", 1, parse_events("0 meter=6/8 ; 0 key=F:major ; 0 C4 3 v64"))
    comp.set_events("horn", 5, parse_events("0 key=Bb:major"))
    return comp


def test_a_parts_meter_and_key_are_the_latest_of_the_scores_and_its_own():
    comp = piece()
    assert comp.signature_changes("violin", "meter") == [(1, 0, "3/4")]
    assert comp.signature_changes("violin", "key") == [(1, 0, (-2, "major")), (4, 0, (0, "major"))]
    assert comp.signature_changes("horn", "meter") == [(1, 0, "6/8")]  # its own wins at one instant
    # the score's key change at measure 4 reaches the horn too, then its own at 5
    assert comp.signature_changes("horn", "key") == [(1, 0, (-1, "major")), (4, 0, (0, "major")),
                                                      (5, 0, (-2, "major"))]


def test_files_are_version_2_and_a_version_1_set_reads():
    comp = piece()
    files = comp.to_files()
    meta = json.loads(files["composition.json"])
    assert meta["version"] == FORMAT_VERSION == 2
    assert meta["parts"][1]["transposition"] == "P-5"
    assert files["parts/horn.txt"].decode().startswith("# scripthammer-composition v2")
    again = Composition.from_files(files)
    assert again.part_text("horn") == comp.part_text("horn") and again.format_version == 2
    old = {"composition.json": json.dumps({**meta, "version": 1, "parts": [meta["parts"][0]]}).encode(),
           "global.txt": b"# scripthammer-composition v1: global\n1| 0 meter 3/4 ; 0 tempo 500000us ~120bpm\n",
           "parts/violin.txt": b"# scripthammer-composition v1: part violin\n1| 0 C4 1 v80 tie=start\n2| 0 C4 1 v80 tie=stop\n"}
    v1 = Composition.from_files(old).parse_all()
    assert v1.format_version == 1
    assert [e.to_text() for e in v1.events("violin", 1)] == ["0 C4 1 v80 tie=start"]
    assert json.loads(v1.to_files()["composition.json"])["version"] == 2


@pytest.mark.parametrize("value", ["M-2", "P-5", "m3", "M-9", "P-8"])
def test_schema_accepts_transpositions(value):
    comp = piece()
    meta = json.loads(comp.to_files()["composition.json"])
    meta["parts"][0]["transposition"] = value
    validate_metadata(meta)


@pytest.mark.parametrize("value", ["up a bit", "X-2", "M", 2])
def test_schema_refuses_bad_transpositions(value):
    meta = json.loads(piece().to_files()["composition.json"])
    meta["parts"][0]["transposition"] = value
    with pytest.raises(FormatError) as info:
        validate_metadata(meta)
    assert info.value.details["field"] == "parts[0].transposition"


def test_a_tied_chain_sounds_as_one_note():
    comp = Composition(measures=3)
    comp.parts = [Part(id="p")]
    comp.set_events("p", 1, parse_events("2 C4 2 v90 tie=start ; 2 E4 2 v70 ; 0 G4 2 v50 tie=start"))
    comp.set_events("p", 2, parse_events("0 C4 4 v40 tie=continue ; 0 E4 1 v70 ; 0 G4 1 v50 V2"))
    comp.set_events("p", 3, parse_events("0 C4 1 v40 tie=stop ; 1 C4 1 v60 ; 0 D5 0 v60 grace"))
    got = [(n.start, n.end, n.event.pitch, n.event.vel) for n in sounding_notes(comp, "p")]
    assert got == [(0, 2, "G4", 50),       # tied on into nothing that starts at 2: ends
                   (2, 9, "C4", 90),        # start + continue + stop: one note at the first velocity
                   (2, 4, "E4", 70), (4, 5, "E4", 70),  # not tied: re-attacked
                   (4, 5, "G4", 50),
                   (9, 10, "C4", 60)]       # the grace note takes no time and sounds nothing
