"""Generated music is valid music: ranges, harmony, complete measures, parts in time."""
from __future__ import annotations

from fractions import Fraction

import pytest

from companion.algorithms.base import harmony_of, sections_of, Params
from companion.algorithms.instruments import by_part, load_instruments

PARTS = by_part(load_instruments())


def each_note(comp, part):
    for m, e in comp.all_events(part):
        if e.kind == "note":
            yield m, e


@pytest.mark.parametrize("fixture", ["piece", "swing_piece"])
def test_notes_in_range_and_polyphony(fixture, request):
    comp = request.getfixturevalue(fixture)
    for p in comp.parts:
        inst = PARTS[p.id]
        for m, e in each_note(comp, p.id):
            assert inst.low <= e.midi <= inst.high, (p.id, m, e.pitch)
        if inst.polyphony:
            for m in range(1, comp.measures + 1):
                by = {}
                for e in comp.events(p.id, m):
                    if e.kind == "note":
                        by[e.onset] = by.get(e.onset, 0) + 1
                assert max(by.values(), default=0) <= inst.polyphony, (p.id, m)


@pytest.mark.parametrize("fixture", ["piece", "swing_piece"])
def test_measures_complete_and_in_time(fixture, request):
    comp = request.getfixturevalue(fixture)
    grid = comp.grid()
    assert len(grid) == comp.measures
    for p in comp.parts:
        text = comp.part_text(p.id).splitlines()[1:]
        assert [int(l.split("|")[0]) for l in text] == list(range(1, comp.measures + 1)), p.id
        for m, e in comp.all_events(p.id):
            length = grid[m - 1][1]
            assert 0 <= e.onset < length, (p.id, m, e)
            if e.kind == "note":
                assert e.dur > 0 and e.onset + e.dur <= length, (p.id, m, e)
    # sections tile the piece
    secs = sections_of(comp)
    assert secs[0].start == 1 and secs[-1].end == comp.measures
    assert all(a.end + 1 == b.start for a, b in zip(secs, secs[1:]))


@pytest.mark.parametrize("fixture", ["piece", "swing_piece"])
def test_bass_plays_the_root_where_the_chords_change(fixture, request):
    comp = request.getfixturevalue(fixture)
    h = harmony_of(comp, Params(), 0)
    checked = 0
    for m, onset, chord in h.slots:
        if onset != 0:
            continue
        bass = [e for e in comp.events("bass", m) if e.kind == "note" and e.onset == 0]
        if bass:
            assert bass[0].midi % 12 == chord.root, (m, chord)
            checked += 1
    assert checked >= comp.measures // 2


def _passing(seq, i):
    """A chromatic passing or approach tone: a semitone from the next note (or between neighbours)."""
    cur = seq[i][1].midi
    nxt = seq[i + 1][1].midi if i + 1 < len(seq) else None
    prv = seq[i - 1][1].midi if i > 0 else None
    return (nxt is not None and abs(nxt - cur) == 1) or (prv is not None and nxt is not None and
                                                          min(prv, nxt) < cur < max(prv, nxt))


@pytest.mark.parametrize("fixture", ["piece", "swing_piece"])
@pytest.mark.parametrize("part", ["keys", "synth", "sax", "trumpet", "vocals", "bass"])
def test_lines_follow_the_changes(fixture, part, request):
    comp = request.getfixturevalue(fixture)
    h = harmony_of(comp, Params(), 0)
    seq = list(each_note(comp, part))
    outside = []
    for i, (m, e) in enumerate(seq):
        chord = h.at(m, e.onset)
        if e.midi % 12 not in chord.scale_pcs:
            outside.append(i)
    for i in outside:  # every note outside the chord scale is chromatic by design
        assert _passing(seq, i), (part, seq[i][0], seq[i][1].pitch, h.at(seq[i][0], seq[i][1].onset).symbol())
    if seq:
        assert len(outside) / len(seq) < 0.2


def test_chords_are_extended_and_match_the_model(piece):
    h = harmony_of(piece, Params(), 0)
    assert len(h.slots) >= 8
    sizes = [len(c.pcs) for _, _, c in h.slots]
    assert sum(1 for s in sizes if s >= 5) / len(sizes) >= 0.5  # 9ths, 11ths, 13ths


def test_vocals_carry_lyrics_one_syllable_per_note(piece):
    notes = [e for _, e in each_note(piece, "vocals")]
    assert notes and all(len(e.lyrics) == 1 and e.lyrics[0] for e in notes)
    from companion.algorithms.members.verse import lyrics_text
    words = lyrics_text(notes).split()
    assert len(words) >= 6 and all(w.isalpha() or w == "I" for w in words)
