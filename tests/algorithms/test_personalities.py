"""Each personality is recognisably itself by a measurable trait, and seeds change the music."""
from __future__ import annotations

from fractions import Fraction

import pytest

from companion.algorithms.analysis import motif_recurrence, traits, voice_leading
from companion.algorithms.base import Params, sections_of
from companion.algorithms.generate import compose
from companion.algorithms.members.crash import COWBELL, RIM


def solo_measures(comp, member):
    return [m for s in sections_of(comp) if s.feature == member for m in s.range]


@pytest.fixture(scope="module", params=[11, 23, 42])
def comp(request):
    return compose(None, request.param, Params(), measures=32)


def test_crash_is_the_busiest_most_syncopated_and_humanised(comp):
    drums = traits(comp, "drums")
    others = {p.id: traits(comp, p.id) for p in comp.parts if p.id not in ("drums", "form")}
    assert all(drums["density"] > t["density"] for t in others.values())
    assert drums["syncopation"] > 0.6 and drums["syncopation"] > traits(comp, "bass")["syncopation"]
    assert drums["off_grid"] > 0.2  # humanised timing: onsets nudged off the sixteenth grid
    assert drums["velocity_spread"] > 12


def test_crash_plays_a_cycle_across_the_barlines(comp):
    sixteenths = []
    start = 0
    for m in range(1, comp.measures + 1):
        for e in comp.events("drums", m):
            if e.kind == "note" and e.midi in (COWBELL, RIM):
                sixteenths.append(start + round(e.onset * 4))
        start += 16
    gaps = {b - a for a, b in zip(sixteenths, sixteenths[1:])}
    cycle = min(gaps)
    assert cycle in (3, 5, 7)
    assert sum(1 for a, b in zip(sixteenths, sixteenths[1:]) if b - a == cycle) / (len(sixteenths) - 1) > 0.8


def test_chops_voices_thick_chords_smoothly(comp):
    t = traits(comp, "guitar")
    assert t["polyphony"] >= 3.5
    assert voice_leading(comp, "guitar") <= 3.5
    assert t["polyphony"] > max(traits(comp, p)["polyphony"] for p in ("keys", "sax", "trumpet", "vocals", "bass"))


def test_ivory_develops_a_motif(comp):
    keys = motif_recurrence(comp, "keys")
    assert keys >= 0.4
    assert keys > motif_recurrence(comp, "sax", measures=solo_measures(comp, "reed"))


def test_reed_lyrical_and_sparse_brass_loud_and_showy(comp):
    reed = traits(comp, "sax", solo_measures(comp, "reed"))
    brass = traits(comp, "trumpet", solo_measures(comp, "brass"))
    assert reed["notes"] and brass["notes"]
    assert brass["density"] > 1.8 * reed["density"]
    assert brass["mean_interval"] > reed["mean_interval"]
    assert brass["velocity"] > reed["velocity"] + 25
    assert brass["register"] > reed["register"]
    assert reed["rest_ratio"] > brass["rest_ratio"]
    assert reed["mean_interval"] <= 3.5  # mostly stepwise


def test_brass_plays_horn_hits_outside_his_solos(comp):
    hits = [e for s in sections_of(comp) if s.kind == "head" and "brass" not in s.double
            for m in s.range for e in comp.events("trumpet", m) if e.kind == "note"]
    assert hits and all(e.dur <= Fraction(1, 4) and e.vel >= 110 for e in hits)


def test_form_lays_out_sections_dynamics_and_mix(comp):
    secs = sections_of(comp)
    assert [s.kind for s in secs][0] == "intro" and secs[-1].kind == "outro"
    assert max(secs, key=lambda s: s.energy).kind == "head" and max(secs, key=lambda s: s.energy).start > 1
    for s in secs:
        evs = comp.events("form", s.start)
        assert any(e.kind == "dyn" for e in evs)
        chans = {e.ch for e in evs if e.kind == "cc" and e.num == 7}
        assert chans == {p.channel for p in comp.parts if p.kind != "form"}
    assert not [e for _, e in comp.all_events("form") if e.kind == "note"]


def test_verse_sings_in_the_verses_only(comp):
    for s in sections_of(comp):
        n = sum(1 for m in s.range for e in comp.events("vocals", m) if e.kind == "note")
        if s.kind == "verse":
            assert n >= 4
        elif "verse" in s.tacet:
            assert n == 0


def test_same_seed_same_music_other_seed_other_music():
    a = compose(None, 99, Params(), measures=24).to_files()
    b = compose(None, 99, Params(), measures=24).to_files()
    c = compose(None, 100, Params(), measures=24).to_files()
    assert a == b
    for part in ("guitar", "drums", "bass", "keys", "sax", "trumpet", "vocals"):
        path = f"parts/{part}.txt"
        assert a[path] != c[path], part


def test_params_shape_the_music():
    swing = compose(None, 3, Params(tempo_feel="swing", density=0.9), measures=16)
    straight = compose(None, 3, Params(tempo_feel="straight", density=0.1), measures=16)
    # a swung ride lands on triplet eighths
    trip = [e for _, e in swing.all_events("drums") if e.kind == "note" and (e.onset * 3).denominator == 1
            and e.onset.denominator == 3]
    assert trip
    assert traits(swing, "guitar")["density"] > traits(straight, "guitar")["density"]
    bright = compose(None, 3, Params(key="E major", tempo=140), measures=8)
    assert any(g.kind == "key" and g.value == (4, "major") for g in bright.global_events)
    assert any(g.kind == "tempo" and round(60_000_000 / g.value) == 140 for g in bright.global_events)


def test_given_lyrics_are_sung():
    comp = compose(None, 1, Params(lyrics="Blue dot matrix / hums in the night"), measures=24)
    from companion.algorithms.members.verse import lyrics_text
    text = lyrics_text([e for _, e in comp.all_events("vocals") if e.kind == "note"])
    assert "matrix" in text and "night" in text
