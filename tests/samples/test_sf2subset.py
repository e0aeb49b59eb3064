"""A subset SoundFont holds only some presets and plays them exactly as the whole font does."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from companion.samples.formats import inspect_file
from companion.samples.formats.sf2 import fluidsynth_render
from companion.samples.sf2subset import subset

FLUID = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
BAND = {(0, 0), (0, 30), (0, 33), (0, 56), (0, 65), (128, 0)}


def phrase(drums: bool) -> list[tuple[float, int, int, float]]:
    """(start s, key, velocity, seconds held) of a run over the keyboard (or the kit)."""
    keys = range(35, 82, 3) if drums else range(28, 100, 5)
    return [(0.09 * i, k, 20 + (37 * i) % 100, 0.2 + 0.15 * (i % 4)) for i, k in enumerate(keys)]


def phrase_midi(bank: int, program: int, notes) -> bytes:
    """A Standard MIDI File (120 bpm, 480 ticks a beat) playing ``notes`` with one preset."""
    import io

    import mido

    ch = 9 if bank == 128 else 0
    events = [(0, 0, mido.Message("control_change", channel=ch, control=0, value=min(bank, 127))),
              (0, 1, mido.Message("program_change", channel=ch, program=program))]
    for start, key, vel, held in notes:
        events.append((round(start * 960), 3, mido.Message("note_on", channel=ch, note=key, velocity=vel)))
        events.append((round((start + held) * 960), 2, mido.Message("note_off", channel=ch, note=key)))
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    now = 0
    for t, _, msg in sorted(events, key=lambda e: e[:2]):
        track.append(msg.copy(time=t - now))
        now = t
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def band_font(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sub") / "band.sf2"
    return out, subset(FLUID, BAND, out)


def test_the_subset_is_a_valid_soundfont_of_just_those_presets(band_font):
    out, kept = band_font
    assert kept["size"] < FLUID.stat().st_size / 4
    info = inspect_file(out, "band.sf2")
    assert {(p["bank"], p["program"]) for p in info.details["soundfont"]["presets"]} == BAND


@pytest.mark.parametrize("bank,program", sorted(BAND))
def test_each_preset_renders_bit_identically(band_font, tmp_path, bank, program):
    out, _ = band_font
    midi = phrase_midi(bank, program, phrase(bank == 128))
    whole = fluidsynth_render(FLUID, midi, tmp_path / "whole.wav").read_bytes()
    part = fluidsynth_render(out, midi, tmp_path / "part.wav").read_bytes()
    assert len(whole) > 100_000
    assert hashlib.sha256(whole).hexdigest() == hashlib.sha256(part).hexdigest()


def test_asking_for_a_preset_the_font_has_not_got(tmp_path):
    with pytest.raises(ValueError, match="no presets"):
        subset(FLUID, {(5, 5)}, tmp_path / "x.sf2")
