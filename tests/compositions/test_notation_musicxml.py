"""MusicXML import and export of each notation element on small scores made for the purpose:
a part in another meter and key than the score's, clef changes inside a measure, slurs across
barlines and from grace notes, hairpins, marks on chords, tempo marks, verses with gaps, a
transposing horn with no key signature."""
from __future__ import annotations

import warnings


from companion.compositions.model import Composition, GlobalEvent, Part, parse_events
from companion.compositions.musicxml import read_musicxml, to_music21, write_musicxml

import music21  # noqa: E402
from music21 import (articulations, clef, converter, duration, dynamics, expressions, instrument,  # noqa: E402
                     key, meter, note, spanner, stream, tempo)

warnings.simplefilter("ignore")


def score_xml(score) -> bytes:
    from music21.musicxml.m21ToXml import GeneralObjectExporter
    return GeneralObjectExporter(score).parse()


def polymeter() -> stream.Score:
    """Violin in 3/4 with two sharps; horn in F written in 6/8 with no key signature; bar 2 of
    the violin changes clef in the middle; slurs, a hairpin, marks on a chord, a tempo mark."""
    s = stream.Score()
    vn = stream.Part(id="vn")
    vn.partName = "Violin"
    vn.insert(0, instrument.Violin())
    m1 = stream.Measure(number=1)
    m1.append([meter.TimeSignature("3/4"), key.KeySignature(2), clef.TrebleClef()])
    m1.insert(0, tempo.MetronomeMark(text="Allegro", number=60, referent=duration.Duration(1.5)))
    n1, n2 = note.Note("D5", quarterLength=1), note.Note("E5", quarterLength=1)
    ch = note.Note("F#5", quarterLength=1)
    m1.insert(0, n1)
    m1.insert(1, n2)
    m1.insert(2, ch)
    m1.insert(0, dynamics.Dynamic("p"))
    m2 = stream.Measure(number=2)
    g = note.Note("B4").getGrace()
    c = note.Note("A4", quarterLength=1)
    chord = music21.chord.Chord(["D4", "F#4"], quarterLength=1)
    chord.articulations = [articulations.Staccato(), articulations.Accent()]
    m2.insert(0, g)
    m2.insert(0, c)
    m2.insert(1, chord)
    m2.insert(2, clef.AltoClef())
    m2.insert(2, note.Note("G3", quarterLength=1))
    m2.insert(2, dynamics.Dynamic("f"))
    vn.append([m1, m2])
    vn.insert(0, spanner.Slur(n2, c))          # across the barline
    vn.insert(0, spanner.Slur(g, c))           # from a grace note
    vn.insert(0, dynamics.Crescendo(n1, ch))
    hn = stream.Part(id="hn")
    hn.partName = "Horn in F"
    horn = instrument.Horn()
    hn.insert(0, horn)
    h1 = stream.Measure(number=1)
    h1.append([meter.TimeSignature("6/8"), clef.TrebleClef()])
    h1.insert(0, note.Note("C5", quarterLength=1.5))
    h1.insert(1.5, note.Note("G4", quarterLength=1.5))
    t = note.Note("E5", quarterLength=3)
    t.lyrics = [note.Lyric("", number=1), note.Lyric("Hoch", number=2)]
    h2 = stream.Measure(number=2)
    h2.insert(0, t)
    t.expressions.append(expressions.Trill())
    hn.append([h1, h2])
    hn.atSoundingPitch = False
    s.insert(0, vn)
    s.insert(0, hn)
    return s


def test_each_element_comes_in_and_goes_back_out():
    comp = read_musicxml(score_xml(polymeter()))
    vn, hn = (p.id for p in comp.parts)
    assert comp.parts[1].extra["transposition"] == "P-5"
    # the score's meter and key come from the first part; the horn's differ, so it has its own
    assert [g.to_text() for g in comp.global_events if g.kind in ("meter", "key")] == ["0 meter 3/4", "0 key D"]
    horn1 = comp.line_body(hn, 1)
    assert "0 meter=6/8" in horn1 and "0 key=none" in horn1
    assert "0 F4 3/2 v64" in horn1 and "3/2 C4 3/2 v64" in horn1  # sounding pitch: a fifth below written
    assert comp.line_body(hn, 2) == "0 A4 3 v64 orn=trill lyric2=Hoch"
    v1, v2 = comp.line_body(vn, 1), comp.line_body(vn, 2)
    assert "0 dyn=p" in v1 and "0 cresc=2" in v1 and "1 slur=2" in v1 and "0 clef=G2" in v1
    assert "0 slur=0 from-grace" in v2 and "2 clef=C3" in v2
    # velocities: p, then the hairpin climbs to the f that comes after it, and holds it
    assert "1 D4 1 v96 art=staccato,accent ; 1 F#4 1 v96 art=staccato,accent" in v2
    assert [e.vel for e in comp.events(vn, 1) if e.kind == "note"] == [49, 73, 96]
    assert "0 B4 0 v96 grace" in v2
    (t,) = [g for g in comp.global_events if g.kind == "tempo"]
    assert (t.value, t.beat, t.text, t.number) == (666667, 3 / 2, "Allegro", 60.0)
    # back out: the same text again, and the horn reads 6/8 with no key at written pitch
    xml = write_musicxml(Composition.from_files(comp.to_files()))
    again = read_musicxml(xml)
    for p in (vn, hn):
        assert again.part_text(p) == comp.part_text(p)
    assert again.global_events == comp.global_events
    out = converter.parse(xml, format="musicxml", forceSource=True)
    h = out.parts[1].getElementsByClass(stream.Measure)[0]
    assert [ts.ratioString for ts in h.getElementsByClass(meter.TimeSignature)] == ["6/8"]
    assert list(h.getElementsByClass(key.KeySignature)) == []
    assert [n.nameWithOctave for n in h.notes] == ["C5", "G4"]
    assert out.parts[1].getInstrument().transposition.directedName == "P-5"
    v = out.parts[0].getElementsByClass(stream.Measure)
    assert [(c.sign, c.line) for c in v[1].getElementsByClass(clef.Clef)] == [("C", 3)]
    assert [k.sharps for k in v[0].getElementsByClass(key.KeySignature)] == [2]


def test_a_part_key_change_while_the_score_keeps_its_key():
    comp = Composition(title="Keys", measures=3)
    comp.parts = [Part(id="a", kind="melody"), Part(id="b", kind="melody")]
    comp.global_events = [GlobalEvent(1, 0, "meter", "4/4"), GlobalEvent(1, 0, "key", (0, "major"))]
    for p in ("a", "b"):
        for m in (1, 2, 3):
            comp.set_events(p, m, parse_events("0 C5 4 v64"))
    comp.set_events("b", 2, parse_events("0 key=Eb:major ; 0 meter=2/2 ; 0 Eb5 4 v64"))
    comp.set_events("b", 3, parse_events("0 key=C:major ; 0 C5 4 v64"))
    out = to_music21(comp)
    sig = [[(i + 1, k.sharps) for i, m in enumerate(p.getElementsByClass(stream.Measure))
            for k in m.getElementsByClass(key.KeySignature)] for p in out.parts]
    assert sig == [[(1, 0)], [(1, 0), (2, -3), (3, 0)]]
    back = read_musicxml(write_musicxml(comp))
    assert back.signature_changes("b", "key") == comp.signature_changes("b", "key")
    assert back.signature_changes("b", "meter") == comp.signature_changes("b", "meter")
    assert back.signature_changes("a", "key") == [(1, 0, (0, "major"))]


def test_syllables_follow_the_hyphen_convention():
    comp = Composition(title="Song", measures=1)
    comp.parts = [Part(id="voice", kind="vocals")]
    comp.set_events("voice", 1, parse_events("0 C5 1 v64 lyric=cos- ; 1 D5 1 v64 lyric=mic- ; 2 E5 1 v64 lyric=ray "
                                             "; 3 F5 1 v64 lyric=sun"))
    out = converter.parse(write_musicxml(comp), format="musicxml", forceSource=True)
    assert [(n.lyrics[0].text, n.lyrics[0].syllabic) for n in out.parts[0].flatten().notes] == [
        ("cos", "begin"), ("mic", "middle"), ("ray", "end"), ("sun", "single")]
    assert read_musicxml(write_musicxml(comp)).part_text("voice") == comp.part_text("voice")
