"""Slicing keeps the recording's own samples (every sample type) and reads it a chunk at a time."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from companion.samples.slicing import FADE, onsets, slice_file
from tests.samples.conftest import hits


@pytest.mark.parametrize("subtype,fmt", [("PCM_16", "wav"), ("PCM_24", "flac"), ("PCM_32", "wav"),
                                         ("FLOAT", "wav"), ("DOUBLE", "wav"), ("PCM_24", "aiff")])
def test_slices_hold_the_recordings_own_samples(tmp_path, subtype, fmt):
    rec = tmp_path / f"take.{fmt}"
    x = hits([0.1, 0.6, 1.1], 1.5) * 0.9
    sf.write(str(rec), x, 44100, subtype=subtype, format={"wav": "WAV", "flac": "FLAC", "aiff": "AIFF"}[fmt])
    original, _ = sf.read(str(rec), dtype="float64", always_2d=True)
    raw = sf.read(str(rec), dtype="int32" if subtype.startswith("PCM") else "float64", always_2d=True)[0]
    slices = slice_file(rec, fmt, tmp_path / "out")
    assert [round(s.start / 44100, 2) for s in slices] == [0.1, 0.6, 1.1]
    for s in slices:
        assert sf.info(str(s.path)).subtype == subtype
        got_raw = sf.read(str(s.path), dtype="int32" if subtype.startswith("PCM") else "float64", always_2d=True)[0]
        last = s.end == len(original)
        keep = len(got_raw) if last else len(got_raw) - FADE
        assert np.array_equal(got_raw[:keep], raw[s.start:s.start + keep])  # the very same samples
        if not last:  # the fade-out ends in silence
            got, _ = sf.read(str(s.path), dtype="float64", always_2d=True)
            assert np.abs(got[-1]).max() == 0.0


def test_a_long_recording_is_sliced_in_little_memory(tmp_path):
    rec = tmp_path / "long.wav"
    rate, minutes = 44100, 2
    with sf.SoundFile(str(rec), "w", samplerate=rate, channels=1, subtype="FLOAT") as f:
        for second in range(60 * minutes):
            block = np.zeros(rate)
            if second % 5 == 0:
                block[:2000] = 0.5 * np.sin(np.arange(2000) / 5.0)
            f.write(block)
    whole = 60 * minutes * rate * 8  # bytes the recording takes as float64
    tracemalloc.start()
    try:
        starts, total, _ = onsets(rec)
        slices = slice_file(rec, "wav", tmp_path / "out")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(starts) == len(slices) == 60 * minutes // 5 and total == 60 * minutes * rate
    assert peak < whole / 4, f"peak {peak / 1e6:.1f} MB for a {whole / 1e6:.1f} MB recording"
