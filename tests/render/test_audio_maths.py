"""The mix maths: WAV files through soundfile (our rounding), loudness normalisation checked with
ffmpeg's EBU R128 meter on the written file, the limiter's ceiling, the reverb bus."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from companion.media.loudness import measure
from companion.render import audio as A
from companion.render.loudness import LoudnessMeter, loudness
from companion.render.mix import BusSettings, StemMix, StreamMixer, mixdown


def signal(seconds=8.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * A.SR)) / A.SR
    return np.stack([0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(3 * t)),
                     0.1 * rng.standard_normal(len(t))], 1).astype(np.float32)


@pytest.mark.parametrize("bits", [16, 24])
def test_wav_round_trip_is_a_plain_pcm_wav(tmp_path, bits):
    x = signal(1.0)
    A.write_wav(tmp_path / "a.wav", x, bits=bits)
    info = soundfile.info(str(tmp_path / "a.wav"))
    assert (info.format, info.subtype, info.samplerate, info.frames) == ("WAV", f"PCM_{bits}", A.SR, len(x))
    sr, y = A.read_wav(tmp_path / "a.wav")
    assert sr == A.SR and y.shape == x.shape
    # rounded to the nearest step (scaled by full scale - 1, read back over full scale)
    assert np.max(np.abs(y - x)) <= 1.5 / (1 << (bits - 1))


def test_wav_samples_round_half_away_from_zero_and_clip(tmp_path):
    step = 1 / 8388607.0
    x = np.array([[0.5 * step], [-0.5 * step], [1.5 * step], [2.0], [-2.0]], dtype=np.float32)
    A.write_wav(tmp_path / "r.wav", x, bits=24)
    ints, _ = soundfile.read(str(tmp_path / "r.wav"), dtype="int32")
    assert list(ints >> 8) == [1, -1, 2, 8388607, -8388607]


def test_wav_writer_takes_chunks_in_any_order_and_leaves_nothing_on_abort(tmp_path):
    x = signal(2.0)
    with A.WavWriter(tmp_path / "w.wav", len(x), 2, A.SR, 24) as w:
        half = len(x) // 2
        w.write(half, x[half:])
        w.write(0, x[:half])
    _, y = A.read_wav(tmp_path / "w.wav")
    _, z = A.read_wav(A.write_wav(tmp_path / "z.wav", x))
    assert np.array_equal(y, z)
    w = A.WavWriter(tmp_path / "gone.wav", len(x))
    w.write(0, x)
    w.abort()
    assert list(tmp_path.glob("gone.wav*")) == []


def test_not_a_wav_is_refused_with_its_name(tmp_path):
    (tmp_path / "fake.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnope")
    with pytest.raises(ValueError, match="fake.wav"):
        A.read_wav(tmp_path / "fake.wav")


def test_streamed_loudness_is_ffmpegs_measure_of_the_file(tmp_path):
    x = signal(8.0)
    A.write_wav(tmp_path / "a.wav", x)
    meter = LoudnessMeter()
    for a in range(0, len(x), 30000):  # fed in pieces, as the mixer does
        meter.feed(x[a:a + 30000])
    streamed = meter.result()
    assert abs(streamed - measure(tmp_path / "a.wav").integrated_lufs) <= 0.1
    assert loudness(np.zeros((A.SR * 2, 2), np.float32)) == float("-inf")


@pytest.mark.parametrize("target", [-14.0, -18.0])
def test_mixdown_file_meets_the_loudness_target_by_ffmpegs_meter(tmp_path, target):
    stems = [StemMix("a", signal(6.0, 1), -3, -0.5, 0.3), StemMix("b", signal(6.0, 2) * 0.2, 0, 0.5, 0.0,
                                                                  volume=[(3.0, 0)])]
    m = StreamMixer(stems, BusSettings(loudness_target_lufs=target, limiter_ceiling_db=-1.0), 6 * A.SR)
    m.feed(0, [np.ascontiguousarray(s.audio.T) for s in stems])
    _, info = m.finish(tmp_path / "mix.wav")
    measured = measure(tmp_path / "mix.wav")
    assert abs(measured.integrated_lufs - target) <= 0.2, measured
    assert abs(info["loudness_lufs"] - measured.integrated_lufs) <= 0.15
    _, y = A.read_wav(tmp_path / "mix.wav")
    assert np.max(np.abs(y)) <= A.undb(-1.0) + 1e-6


def test_limiter_holds_the_ceiling_when_the_target_asks_for_more():
    loud = [StemMix("a", signal(4.0) * 4, 0, 0, 0)]
    out, info = mixdown(loud, BusSettings(loudness_target_lufs=-6.0, limiter_ceiling_db=-1.0))
    assert np.max(np.abs(out)) <= A.undb(-1.0) + 1e-6
    assert info["limiter_db"] < -1  # it had to work
    quiet, qinfo = mixdown([StemMix("a", signal(4.0) * 0.1, 0, 0, 0)],
                           BusSettings(loudness_target_lufs=-30.0, limiter_ceiling_db=-1.0))
    assert qinfo["limiter_db"] == 0.0 and abs(qinfo["loudness_lufs"] + 30) <= 0.1


def test_reverb_is_deterministic_and_decays():
    ir1, ir2 = A.impulse_response(1.5, 20), A.impulse_response(1.5, 20)
    assert np.array_equal(ir1, ir2)
    head = np.abs(ir1[A.SR // 50: A.SR // 10]).mean()
    tail = np.abs(ir1[-A.SR // 10:]).mean()
    assert tail < head / 100
    # a click through the reverb bus: a tail after it that dies away, the same bits every time
    click = np.zeros((3 * A.SR, 2), np.float32)
    click[A.SR // 10] = 0.8
    bus = BusSettings(reverb_seconds=1.5, loudness_target_lufs=-20.0)
    a, _ = mixdown([StemMix("c", click, 0, 0, 1.0)], bus)
    b, _ = mixdown([StemMix("c", click, 0, 0, 1.0)], bus)
    assert np.array_equal(a, b)
    early = np.abs(a[A.SR // 5: A.SR // 2]).mean()
    late = np.abs(a[int(1.7 * A.SR): int(1.9 * A.SR)]).mean()
    assert early > 0 and late < early / 30
