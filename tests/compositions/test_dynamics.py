"""Dynamics to velocities (the documented rule) and their way into MIDI: a MusicXML score with
p, f, sfz and hairpins imports with the velocities the rule gives, and its MIDI plays them."""
from __future__ import annotations

import io
from fractions import Fraction

import mido
import pytest

from companion.compositions.dynamics import DEFAULT, VELOCITIES, DynamicsMap, apply_dynamics, step
from companion.compositions.midi import write_midi
from companion.compositions.model import Composition, Part, parse_events
from companion.compositions.musicxml import read_musicxml

F = Fraction


def test_marks_set_fixed_velocities_and_default_is_64():
    assert VELOCITIES == {"pppp": 8, "ppp": 16, "pp": 33, "p": 49, "mp": 64, "mf": 80, "f": 96, "ff": 112,
                          "fff": 120, "ffff": 127}
    dm = DynamicsMap([(F(4), "p"), (F(8), "ff"), (F(12), "dolce")], [])
    assert [dm.velocity(F(t)) for t in (0, 4, 7, 8, 13)] == [DEFAULT, 49, 49, 112, 112]


def test_accents_touch_only_their_notes_and_fp_then_goes_soft():
    dm = DynamicsMap([(F(0), "mf"), (F(2), "sfz"), (F(4), "fp")], [])
    assert [dm.velocity(F(t)) for t in (0, 2, 3, 4, 5)] == [80, 112, 80, 96, 49]


def test_hairpin_interpolates_to_the_next_mark():
    dm = DynamicsMap([(F(0), "p"), (F(4), "f")], [(F(0), F(4), "cresc")])
    assert [dm.velocity(F(t)) for t in (0, 1, 2, 3, 4, 6)] == [49, 61, 73, 84, 96, 96]


def test_hairpin_without_a_mark_after_moves_one_step_and_holds():
    dm = DynamicsMap([(F(0), "mf")], [(F(0), F(2), "dim")])
    assert step(80, up=False) == 64
    assert [dm.velocity(F(t)) for t in (0, 1, 2, 10)] == [80, 72, 64, 64]
    # a mark in the wrong direction or too far after the end is not the target
    far = DynamicsMap([(F(0), "p"), (F(20), "f")], [(F(0), F(2), "cresc")])
    assert far.velocity(F(2)) == 64 and far.velocity(F(20)) == 96


def test_apply_dynamics_to_a_part():
    comp = Composition(measures=2)
    comp.parts = [Part(id="p")]
    comp.set_events("p", 1, parse_events("0 dyn=pp ; 0 C4 1 v64 ; 2 cresc=4 ; 2 D4 1 v64"))
    comp.set_events("p", 2, parse_events("0 E4 1 v64 ; 2 dyn=ff ; 2 F4 1 v64"))
    assert apply_dynamics(comp, "p") == 4
    assert [e.vel for m in (1, 2) for e in comp.events("p", m) if e.kind == "note"] == [33, 33, 73, 112]


XML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Flute</part-name></score-part></part-list>
<part id="P1">
<measure number="1"><attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>
<direction><direction-type><dynamics><p/></dynamics></direction-type></direction>
<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><tie type="start"/><type>half</type><notations><tied type="start"/></notations></note>
<direction><direction-type><wedge type="crescendo"/></direction-type></direction>
<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><tie type="stop"/><type>half</type><notations><tied type="stop"/></notations></note>
</measure>
<measure number="2">
<note><pitch><step>D</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>
<note><pitch><step>E</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>
<direction><direction-type><wedge type="stop"/></direction-type></direction>
<direction><direction-type><dynamics><f/></dynamics></direction-type></direction>
<note><pitch><step>F</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>
<direction><direction-type><dynamics><sfz/></dynamics></direction-type></direction>
<note><pitch><step>G</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>
</measure></part></score-partwise>"""


def test_musicxml_dynamics_reach_the_velocities_and_the_midi():
    comp = read_musicxml(XML.encode())
    notes = [(m, e.onset, e.pitch, e.vel) for m, e in comp.all_events("flute") if e.kind == "note"]
    # p = 49 up to the crescendo (from the second half note of bar 1 to E5), which climbs to the f
    assert notes == [(1, 0, "C5", 49), (1, 2, "C5", 49), (2, 0, "D5", 80), (2, 1, "E5", 96),
                     (2, 2, "F5", 96), (2, 3, "G5", 112)]
    hair = [e for _, e in comp.all_events("flute") if e.kind == "cresc"]
    assert [(e.onset, e.dur) for e in hair] == [(2, 3)]
    mid = mido.MidiFile(file=io.BytesIO(write_midi(comp)))
    ons = [(m.note, m.velocity) for tr in mid.tracks for m in tr if m.type == "note_on" and m.velocity]
    # the tied C5 is one note, and the velocities are the dynamics', not all 64
    assert ons == [(72, 49), (74, 80), (76, 96), (77, 96), (79, 112)]


def test_a_note_velocity_the_source_gives_is_kept():
    xml = XML.replace('<note><pitch><step>D</step>', '<note dynamics="50"><pitch><step>D</step>')
    comp = read_musicxml(xml.encode())
    vels = {e.pitch: e.vel for _, e in comp.all_events("flute") if e.kind == "note"}
    assert vels["D5"] == round(50 / 100 * 90) != 73 and vels["E5"] == 96


@pytest.mark.parametrize("mark,velocity", [("ppp", 16), ("mp", 64), ("ff", 112)])
def test_each_mark_in_musicxml(mark, velocity):
    xml = XML.replace("<p/>", f"<{mark}/>").replace('<wedge type="crescendo"/>', "<words>x</words>") \
             .replace('<wedge type="stop"/>', "<words>y</words>")
    comp = read_musicxml(xml.encode())
    assert [e.vel for m, e in comp.all_events("flute") if e.kind == "note" and m == 1] == [velocity, velocity]
