"""MusicXML -> canonical -> MusicXML keeps pitches, rhythms, voices and ties (music21's corpus)."""
from __future__ import annotations

from fractions import Fraction

import pytest

from companion.compositions.model import Composition, meter_length
from companion.compositions.musicxml import MusicXMLError, from_music21, read_musicxml, write_musicxml

import music21  # noqa: E402
from music21 import corpus  # noqa: E402

N_CHORALES = 24  # chorales, beside OTHERS (test_corpus_notation.py covers the notation of a broader set)
OTHERS = ["schoenberg/opus19/movement2", "mozart/k80/movement1", "joplin/maple_leaf_rag", "corelli/opus3no1/1grave"]


def notes_of(comp: Composition) -> list[tuple]:
    """Every note as (part, measure, onset, voice, spelled pitch, duration, tie)."""
    out = []
    for p in comp.parts:
        for m, ev in comp.all_events(p.id):
            if ev.kind == "note":
                out.append((p.id, m, ev.onset, ev.voice, ev.pitch, ev.dur, ev.tie))
    return sorted(out)


def music21_notes(score) -> list[tuple]:
    """The same notes as music21 itself sees them (absolute offset, MIDI pitch, length)."""
    out = []
    for pi, part in enumerate(score.parts):
        for n in part.flatten().notes:
            for p in (n.pitches if n.isChord else [n.pitch]):
                if not n.duration.isGrace:
                    out.append((pi, Fraction(n.offset).limit_denominator(10000), p.midi,
                                Fraction(n.duration.quarterLength).limit_denominator(10000)))
    return sorted(out)


def canonical_abs(comp: Composition) -> list[tuple]:
    starts = [s for s, _, _ in comp.grid()]
    out = []
    for pi, p in enumerate(comp.parts):
        for m, ev in comp.all_events(p.id):
            if ev.kind == "note" and not ev.grace:
                out.append((pi, starts[m - 1] + ev.onset, ev.midi, ev.dur))
    return sorted(out)


def overfull(comp: Composition) -> bool:
    """Measures longer than their meter: music21's writer splits them (a known limit)."""
    return any(length > meter_length(meter) for _, length, meter in comp.grid())


def test_corpus_round_trips():
    names = [str(p) for p in corpus.getComposer("bach")[:N_CHORALES]] + OTHERS
    checked, skipped = 0, []
    for name in names:
        score = corpus.parse(name)  # parsed once
        if hasattr(score, "scores"):
            score = score.scores[0]
        comp = from_music21(score)
        # the importer is faithful to what music21 read
        assert canonical_abs(comp) == music21_notes(score), name
        if overfull(comp):
            skipped.append(name)
            continue
        again = read_musicxml(write_musicxml(Composition.from_files(comp.to_files())))
        assert notes_of(again) == notes_of(comp), name
        assert [g for g in again.global_events if g.kind in ("meter", "length")] == \
            [g for g in comp.global_events if g.kind in ("meter", "length")], name
        checked += 1
    assert checked >= 24, (checked, skipped)
    assert len(skipped) <= 2, skipped


def test_voices_ties_and_lyrics_survive():
    score = corpus.parse("bach/bwv104.6")
    comp = from_music21(score)
    text = comp.part_text("soprano")
    assert "lyric=" in text
    again = read_musicxml(write_musicxml(comp))
    assert again.part_text("soprano") == text
    # two voices and a tie written by hand
    c = Composition(title="Voices", measures=2)
    from companion.compositions.model import Part, parse_events
    c.parts = [Part(id="piano", kind="melody")]
    c.set_events("piano", 1, parse_events("0 C5 2 v64 ; 2 D5 2 v64 tie=start ; 0 C4 4 v64 V2"))
    c.set_events("piano", 2, parse_events("0 D5 1 v64 tie=stop ; 1 E5 3 v64 ; 0 A3 4 v64 V2"))
    back = read_musicxml(write_musicxml(c))
    assert notes_of(back) == notes_of(c)


@pytest.mark.parametrize("data", [b"", b"<html><body>hello</body></html>",
                                  b"<?xml version='1.0'?><score-partwise><part-list>",
                                  b"PK\x03\x04broken zip"])
def test_malformed_musicxml_is_refused(data):
    with pytest.raises(MusicXMLError):
        read_musicxml(data)
