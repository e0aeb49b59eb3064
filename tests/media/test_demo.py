"""The demo song: four parts in MIDI (drums on channel 10), rendered by FluidSynth; the cover."""
from __future__ import annotations

import io
import shutil

import mido
import pytest
from PIL import Image

from companion.catalog.covers import default_cover_png
from companion.demo import DEFAULT_SOUNDFONT, RenderError, render_midi, write_demo_midi
from companion.media.probe import probe


@pytest.fixture(scope="module")
def midi(tmp_path_factory):
    return write_demo_midi(tmp_path_factory.mktemp("demo") / "song.mid", seconds=10, seed=3)


def test_demo_midi_has_four_parts_and_drums_on_channel_10(midi):
    mid = mido.MidiFile(str(midi))
    parts = [t for t in mid.tracks if any(m.type == "note_on" for m in t)]
    assert len(parts) >= 4
    channels = [{m.channel for m in t if m.type == "note_on"} for t in parts]
    assert {9} in channels  # General MIDI drums
    assert 8 <= mid.length <= 14


def test_demo_midi_is_deterministic(tmp_path, midi):
    again = write_demo_midi(tmp_path / "again.mid", seconds=10, seed=3)
    other = write_demo_midi(tmp_path / "other.mid", seconds=10, seed=4)
    notes = lambda p: [m.bytes() for t in mido.MidiFile(str(p)).tracks for m in t if m.type == "note_on"]  # noqa: E731
    assert notes(again) == notes(midi)
    assert notes(other) != notes(midi)


def test_render_midi_makes_a_wav(tmp_path, midi):
    assert shutil.which("fluidsynth"), "fluidsynth is not installed (scripts/setup.sh installs it)"
    wav = render_midi(midi, tmp_path / "song.wav")
    info = probe(wav)
    assert info.format_name == "wav" and info.sample_rate == 44100 and info.channels == 2
    assert info.duration >= 9


def test_render_midi_names_a_missing_soundfont(tmp_path, midi):
    with pytest.raises(RenderError, match="soundfont"):
        render_midi(midi, tmp_path / "x.wav", soundfont=tmp_path / "missing.sf2")
    assert DEFAULT_SOUNDFONT.endswith("FluidR3_GM.sf2")


def test_cover_is_a_600px_png():
    data = default_cover_png("Blue Orbit")
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.size == (600, 600)
    assert default_cover_png("Blue Orbit") == data
