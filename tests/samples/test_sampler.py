"""How the sampler voice chooses a sample for a note, and at what rate it plays it."""
from __future__ import annotations

from pathlib import Path

import pytest

from companion.samples.sampler import Zone, note_settings, pick

SOFT = Zone(Path("soft.wav"), 60, 55, 66, 0, 63, 1.0)
LOUD = Zone(Path("loud.wav"), 60, 55, 66, 64, 127, 1.0)
HIGH = Zone(Path("high.wav"), 72, 67, 78, 0, 127, 2.0)


def test_velocity_layers_and_key_ranges():
    assert pick([SOFT, LOUD, HIGH], 60, 30) == (0, 1.0)
    assert pick([SOFT, LOUD, HIGH], 60, 100) == (1, 1.0)
    i, rate = pick([SOFT, LOUD, HIGH], 74, 100)
    assert i == 2 and rate == pytest.approx(2 ** (2 / 12))


def test_outside_every_range_the_nearest_root_plays_transposed():
    i, rate = pick([SOFT, HIGH], 48, 90)  # an octave under the soft sample's root
    assert i == 0 and rate == pytest.approx(0.5)
    i, rate = pick([SOFT, HIGH], 90, 90)
    assert i == 1 and rate == pytest.approx(2 ** (18 / 12))


def test_ties_go_to_the_first_listed():
    a, b = Zone(Path("a.wav"), 60, 60, 60), Zone(Path("b.wav"), 62, 62, 62)
    assert pick([a, b], 61)[0] == 0 and pick([b, a], 61)[0] == 0


def test_one_shots_play_to_their_end_at_their_rate():
    assert note_settings(HIGH, 2.0, 127, 0.1, one_shot=True)["sustain"] == pytest.approx(1.0)
    held = note_settings(HIGH, 2.0, 127, 0.1, one_shot=False)
    assert held["sustain"] == pytest.approx(0.1) and held["rate"] == 2.0
    assert note_settings(HIGH, 1.0, 64, 1.0, False)["amplitude"] < held["amplitude"]


def test_no_samples_no_notes():
    with pytest.raises(ValueError):
        pick([], 60)
