"""The mix maths: WAV round trips, loudness against ffmpeg's EBU R128 meter, the limiter, the reverb."""
from __future__ import annotations

import numpy as np
import pytest

from companion.media.loudness import measure
from companion.render import audio as A
from companion.render.mix import BusSettings, StemMix, mixdown


def signal(seconds=8.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * A.SR)) / A.SR
    return np.stack([0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(3 * t)),
                     0.1 * rng.standard_normal(len(t))], 1).astype(np.float32)


@pytest.mark.parametrize("bits", [16, 24])
def test_wav_round_trip(tmp_path, bits):
    x = signal(1.0)
    A.write_wav(tmp_path / "a.wav", x, bits=bits)
    sr, y = A.read_wav(tmp_path / "a.wav")
    assert sr == A.SR and y.shape == x.shape
    assert np.max(np.abs(y - x)) < (2.0 / (1 << (bits - 1)))


def test_loudness_matches_ffmpeg(tmp_path):
    x = signal(8.0)
    A.write_wav(tmp_path / "a.wav", x)
    ours = A.loudness(x)
    theirs = measure(tmp_path / "a.wav").integrated_lufs
    assert abs(ours - theirs) < 0.3


def test_limiter_keeps_the_ceiling_and_leaves_quiet_audio_alone():
    x = signal(4.0) * 6
    y, gr = A.limit(x, -1.0)
    assert np.max(np.abs(y)) <= A.undb(-1.0) + 1e-6 and gr < -6
    quiet = signal(4.0) * 0.2
    z, gr2 = A.limit(quiet, -1.0)
    assert np.allclose(z, quiet) and gr2 == 0.0


def test_reverb_is_deterministic_and_decays():
    ir1, ir2 = A.impulse_response(1.5, 20), A.impulse_response(1.5, 20)
    assert np.array_equal(ir1, ir2)
    head = np.abs(ir1[A.SR // 50: A.SR // 10]).mean()
    tail = np.abs(ir1[-A.SR // 10:]).mean()
    assert tail < head / 100
    impulse = np.zeros(A.SR)
    impulse[0] = 1.0
    out = A.convolve(impulse, ir1[: A.SR // 2])
    assert np.allclose(out[: A.SR // 2], ir1[: A.SR // 2], atol=1e-9)


def test_mixdown_reaches_the_loudness_target_under_the_ceiling():
    stems = [StemMix("a", signal(6.0, 1), -3, -0.5, 0.3), StemMix("b", signal(6.0, 2) * 0.2, 0, 0.5, 0.0,
                                                                  volume=[(3.0, 0)])]
    out, info = mixdown(stems, BusSettings(loudness_target_lufs=-16.0, limiter_ceiling_db=-1.0))
    assert abs(info["loudness_lufs"] + 16.0) < 0.5
    assert np.max(np.abs(out)) <= A.undb(-1.0) + 1e-6
    # automation: stem b muted after 3 s, so the right channel quietens relative to the left
    assert out.shape == (6 * A.SR, 2)
