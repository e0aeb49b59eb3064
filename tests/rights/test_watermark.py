"""The watermark: error correction, embedding within the SNR budget, detection after attacks, no false marks."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from companion.rights import ecc, streams
from companion.rights import watermark as wm

KEY = b"test-watermark-key"
PAYLOAD = 0x5EED_CAFE_1234_ABCD


def test_code_corrects_errors_and_crc_refuses_garbage():
    rng = np.random.default_rng(1)
    bits = ecc.with_crc(PAYLOAD, 64)
    code = ecc.encode(bits).astype(float) * 2 - 1
    assert len(code) == wm.CODED_BITS
    noisy = code + rng.normal(0, 0.9, size=len(code))  # about 13 % raw bit errors
    assert np.mean((noisy > 0) != (code > 0)) > 0.05
    assert ecc.check_crc(ecc.decode(noisy), 64) == PAYLOAD
    for seed in range(50):  # pure noise never passes the CRC-32
        junk = np.random.default_rng(seed).normal(size=len(code))
        assert ecc.check_crc(ecc.decode(junk), 64) is None


@pytest.fixture(scope="module")
def marked(song):
    x, sr = song
    y = wm.embed(x, sr, wm.payload_field(KEY, PAYLOAD))
    return x, sr, y


def test_embedding_keeps_the_snr_budget_and_is_found(marked):
    x, sr, y = marked
    assert sr == wm.RATE and y.shape == x.shape
    assert wm.snr_db(x, y) >= 35.0
    found = wm.detect(y, wm.RATE, KEY)
    assert found.payload == PAYLOAD and found.confidence > 0.5


def test_unmarked_audio_other_keys_and_noise_say_no_mark(song, marked):
    x, sr, y = marked
    assert not wm.detect(x, sr, KEY).found
    assert not wm.detect(y, wm.RATE, b"another band's key").found
    rng = np.random.default_rng(2)
    assert not wm.detect(rng.normal(0, 0.1, size=(20 * sr, 2)), sr, KEY).found
    assert not wm.detect(np.zeros((20 * sr, 2)), sr, KEY).found


def test_too_short_and_bad_payloads_are_refused(song):
    x, sr = song
    with pytest.raises(wm.WatermarkError):
        wm.detect(x[: sr // 2], sr, KEY)
    with pytest.raises(wm.WatermarkError):
        wm.payload_field(KEY, 1 << 64)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", *args], check=True)


def _roundtrip(src: Path, tmp: Path, codec: list[str], ext: str) -> tuple[np.ndarray, int]:
    enc, dec = tmp / f"attacked.{ext}", tmp / "decoded.wav"
    _ffmpeg("-i", str(src), *codec, str(enc))
    _ffmpeg("-i", str(enc), str(dec))
    return sf.read(dec)


ATTACKS = {
    "mp3_64": (["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    "aac_128": (["-c:a", "aac", "-b:a", "128k"], "m4a"),
    "ogg_128": (["-c:a", "libvorbis", "-b:a", "128k"], "ogg"),
    "opus_96": (["-c:a", "libopus", "-b:a", "96k"], "opus"),
    "resample_48k": (["-ar", "48000"], "wav"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_found_after_codec_and_resampling(marked, tmp_path, attack):
    _, _, y = marked
    src = tmp_path / "marked.wav"
    sf.write(src, y, wm.RATE, subtype="PCM_16")
    codec, ext = ATTACKS[attack]
    clip, csr = _roundtrip(src, tmp_path, codec, ext)
    assert wm.detect(clip, csr, KEY).payload == PAYLOAD


def test_found_in_a_crop_after_gain_and_noise(marked):
    _, _, y = marked
    rng = np.random.default_rng(5)
    off = 7 * wm.RATE + 333  # not on a column boundary
    clip = y[off: off + 30 * wm.RATE] * 10 ** (-2 / 20)
    clip = clip + rng.normal(0, np.sqrt(np.mean(clip ** 2)) * 10 ** (-25 / 20), size=clip.shape)
    assert wm.detect(clip, wm.RATE, KEY).payload == PAYLOAD


def test_stream_capture_names_its_listener(song, tmp_path):
    x, sr = song
    x = np.concatenate([x, x[::-1], x])  # 135 s: a capture of 34 segments of 4 s
    a, b = streams.variants(x, sr, KEY)
    seg = 4.0
    n = int(np.ceil(len(a) / wm.RATE / seg))
    starts = streams.boundaries([seg] * n)
    starts[-1] = len(a) / wm.RATE
    candidates = [f"l.{i}" for i in range(200)]
    bits = streams.listener_bits(KEY, 7, "l.42", n)
    mix = a.copy()
    for i, bit in enumerate(bits):
        if bit:
            lo, hi = int(i * seg * wm.RATE), int(min(len(a), (i + 1) * seg * wm.RATE))
            mix[lo:hi] = b[lo:hi]
    src = tmp_path / "stream.wav"
    sf.write(src, mix, wm.RATE, subtype="PCM_16")
    cap, csr = _roundtrip(src, tmp_path, ["-c:a", "aac", "-b:a", "128k"], "m4a")
    got = streams.trace(cap, csr, KEY, 7, starts, candidates)
    assert got.listener == "l.42", got
    assert got.bits == {i: bits[i] for i in got.bits}
    # The same capture is not taken for another track's sequences, and a few seconds name no one.
    assert streams.trace(cap, csr, KEY, 8, starts, candidates).listener is None
    assert streams.trace(cap[: 12 * csr], csr, KEY, 7, starts, candidates).listener is None


def test_a_listeners_playlist_mixes_the_variants():
    a = [f"a_{i}.m4s" for i in range(5)]
    b = [f"b_{i}.m4s" for i in range(5)]
    assert streams.pick_segments(a, b, [0, 1, 1, 0, 1]) == ["a_0.m4s", "b_1.m4s", "b_2.m4s", "a_3.m4s", "b_4.m4s"]
    with pytest.raises(wm.WatermarkError):
        streams.pick_segments(a, b[:4], [0] * 5)


def test_ab_hls_ladder_serves_each_listener_their_sequence(song, tmp_path):
    """Real HLS: both variants encoded (AAC 48 kbit/s, the lowest rung) and segmented by ffmpeg once;
    a listener's playlist picks per segment; the stream they receive, captured, names them."""
    from companion.media import hls

    x, sr = song
    x = np.concatenate([x, x[::-1], x])
    ladders = streams.ab_ladders(x, sr, KEY, tmp_path / "ab", bitrates=(48,))
    va, vb = ladders[48]
    assert len(va.segments) == len(vb.segments) >= 30
    n = len(va.segments)
    candidates = [f"l.{i}" for i in range(100)]
    bits = streams.listener_bits(KEY, 3, "l.7", n)
    text = streams.listener_media_playlist(va.playlist.read_text(), vb.playlist.read_text(), bits,
                                           prefix_a="a/", prefix_b="b/")
    pl = hls.read_media_playlist(text)
    assert [u.split("/")[0] for u in pl.uris] == ["b" if bit else "a" for bit in bits[:n]]
    # What the player fetches: the init segment, then each segment the playlist names.
    captured = tmp_path / "captured.mp4"
    with open(captured, "wb") as out:
        out.write((tmp_path / "ab" / pl.init).read_bytes())
        for uri in pl.uris:
            out.write((tmp_path / "ab" / uri).read_bytes())
    dec = tmp_path / "captured.wav"
    _ffmpeg("-i", str(captured), str(dec))
    cap, csr = sf.read(dec)
    starts = streams.boundaries(pl.durations)
    got = streams.trace(cap, csr, KEY, 3, starts, candidates)
    assert got.listener == "l.7", got
