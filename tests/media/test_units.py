"""Loudness maths, peaks, tags and the task graph, each on its own."""
from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from companion.media.loudness import Loudness, measure, normalization_gain, parse_ebur128, r128_track_gain, replaygain_tags
from companion.media.peaks import compute_peaks, peaks_from_samples
from companion.media.scheduler import Task, run_graph
from companion.media.tags import TagError, Tags, read_tags, tag_file

from .conftest import QUIET_LUFS, ff


def test_measure_quiet_source(quiet_wav):
    lv = measure(quiet_wav)
    assert lv.integrated_lufs == pytest.approx(QUIET_LUFS, abs=0.3)
    assert lv.range_lu >= 0
    assert -40 < lv.true_peak_dbtp < 0


def test_parse_summary_of_silence():
    log = """[Parsed_ebur128_0 @ 0x1] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold:   0.0 LUFS

  True peak:
    Peak:       -inf dBFS"""
    lv = parse_ebur128(log)
    assert lv.silent and lv.true_peak_dbtp == -math.inf
    assert normalization_gain(lv) == 0.0
    assert lv.to_dict()["true_peak_dbtp"] is None


def test_gain_is_clamped_by_the_true_peak_ceiling():
    assert normalization_gain(Loudness(-30.0, 5.0, -20.0)) == 16.0
    # -20 LUFS with peaks at -3 dBTP: +6 dB would overshoot; only +2 dB fits under -1 dBTP
    assert normalization_gain(Loudness(-20.0, 5.0, -3.0)) == 2.0
    assert normalization_gain(Loudness(-8.0, 3.0, 0.5)) == -6.0
    assert normalization_gain(Loudness(-20.0, 5.0, -10.0), target_lufs=-16.0, true_peak_ceiling=-2.0) == 4.0


def test_replaygain_and_r128_values():
    lv = Loudness(-12.5, 6.0, -0.4)
    tags = replaygain_tags(lv)
    assert tags["REPLAYGAIN_TRACK_GAIN"] == "-5.50 dB"
    assert float(tags["REPLAYGAIN_TRACK_PEAK"]) == pytest.approx(10 ** (-0.4 / 20), abs=1e-6)
    assert r128_track_gain(lv) == str(round((-23 + 12.5) * 256))


def _write_wav(path: Path, samples: np.ndarray, rate: int = 8000, width: int = 2) -> None:
    """Integer samples (full scale 2^(8*width-1)) to a 16- or 24-bit WAV, written exactly by libsndfile."""
    if width == 2:
        soundfile.write(str(path), samples.astype(np.int16), rate, subtype="PCM_16")
    else:  # libsndfile keeps the top 24 bits of int32 samples
        soundfile.write(str(path), samples.astype(np.int32) << 8, rate, subtype="PCM_24")


def test_peaks_match_a_direct_computation(tmp_path):
    rng = np.random.default_rng(1)
    n = 8000 * 3 + 123
    stereo = (rng.uniform(-1, 1, size=(n, 2)) * 20000).astype(np.int16)
    path = tmp_path / "noise.wav"
    _write_wav(path, stereo)
    docs = compute_peaks(path, (64, 512))
    mono = stereo.astype(np.float64).mean(axis=1) / 32768
    for doc in docs:
        spp = doc["samples_per_pixel"]
        assert doc["length"] == math.ceil(n / spp)
        mins = [math.floor(mono[i:i + spp].min() * 128) for i in range(0, n, spp)]
        maxs = [math.floor(mono[i:i + spp].max() * 128) for i in range(0, n, spp)]
        assert doc["data"][0::2] == [max(-128, v) for v in mins]
        assert doc["data"][1::2] == [min(127, v) for v in maxs]
        json.dumps(doc)


def test_peaks_of_24_bit_and_16_bit_agree(tmp_path):
    t = np.arange(8000 * 2) / 8000
    x = np.sin(2 * np.pi * 3 * t) * 0.8
    _write_wav(tmp_path / "a16.wav", np.stack([x, x], 1) * 32767, width=2)
    _write_wav(tmp_path / "a24.wav", np.stack([x, x], 1) * 8388607, width=3)
    a, b = compute_peaks(tmp_path / "a16.wav"), compute_peaks(tmp_path / "a24.wav")
    for da, db in zip(a, b):
        assert da["length"] == db["length"]
        assert max(abs(p - q) for p, q in zip(da["data"], db["data"])) <= 1


def test_peaks_of_empty_signal():
    docs = peaks_from_samples(np.zeros(0, np.float32), 44100)
    assert [d["length"] for d in docs] == [0, 0]


@pytest.mark.parametrize("ext, family, args", [
    ("mp3", "id3", ("-c:a", "libmp3lame", "-b:a", "128k")),
    ("wav", "wav", ("-c:a", "pcm_s16le")),
    ("aiff", "aiff", ("-c:a", "pcm_s16be")),
    ("flac", "flac", ("-c:a", "flac")),
    ("ogg", "ogg", ("-c:a", "libvorbis")),
    ("opus", "ogg", ("-c:a", "libopus")),
    ("m4a", "mp4", ("-c:a", "aac")),
])
def test_tags_round_trip_per_family(tmp_path, cover, ext, family, args):
    path = tmp_path / f"x.{ext}"
    ff("-f", "lavfi", "-i", "sine=d=1", *args, str(path))
    tags = Tags(title="Ünïcode Title", album="A", track_number=1, track_total=2, year=2026, track_id="t-1",
                cover=cover)
    read = tag_file(path, family, tags, {"REPLAYGAIN_TRACK_GAIN": "-1.00 dB"})
    assert read["title"] == "Ünïcode Title" and read["track_total"] == 2 and read["cover"] == cover
    # retagging replaces rather than appends
    tag_file(path, family, Tags(title="Second"), {})
    again = read_tags(path)
    assert again["title"] == "Second" and again.get("track_id") is None and not again.get("cover")
    assert "REPLAYGAIN_TRACK_GAIN" not in again["extra"]
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True)
    assert out.returncode == 0  # still plays


def test_cover_must_be_an_image(tmp_path):
    path = tmp_path / "x.flac"
    ff("-f", "lavfi", "-i", "sine=d=1", str(path))
    with pytest.raises(TagError):
        tag_file(path, "flac", Tags(title="x", cover=b"not an image"))


def test_graph_runs_costliest_ready_task_first_and_respects_dependencies():
    order: list[str] = []
    lock = threading.Lock()

    def job(name, seconds=0.01):
        def run(*inputs):
            with lock:
                order.append(name)
            time.sleep(seconds)
            return name + "(" + ",".join(inputs) + ")"
        return run

    tasks = [Task("a", job("a"), cost=1), Task("b", job("b"), cost=5), Task("c", job("c"), cost=3, deps=("a",)),
             Task("d", job("d"), cost=9, deps=("b", "c"))]
    results = run_graph(tasks, workers=1)
    assert order == ["b", "a", "c", "d"]
    # each task is called with its dependencies' results, in the order it lists them
    assert results == {"a": "a()", "b": "b()", "c": "c(a())", "d": "d(b(),c(a()))"}


def test_graph_stops_at_the_first_failure():
    ran = []

    def boom():
        raise ValueError("encoder fell over")

    tasks = [Task("bad", boom, cost=10), Task("after", lambda _: ran.append(1), deps=("bad",))]
    with pytest.raises(ValueError, match="fell over"):
        run_graph(tasks, workers=2)
    assert ran == []


@pytest.mark.parametrize("codec", ["pcm_u8", "pcm_s24le", "pcm_s32le", "pcm_f32le"])
def test_peaks_of_every_wav_sample_format_agree_with_16_bit(tmp_path, quiet_wav, codec):
    # ffmpeg writes the other sample formats; libsndfile reads them all for the peaks.
    other = tmp_path / f"{codec}.wav"
    ff("-i", str(quiet_wav), "-c:a", codec, str(other))
    want, got = compute_peaks(quiet_wav), compute_peaks(other)
    for a, b in zip(want, got):
        assert (a["length"], a["sample_rate"]) == (b["length"], b["sample_rate"])
        assert max(abs(p - q) for p, q in zip(a["data"], b["data"])) <= 1
