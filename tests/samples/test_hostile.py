"""Hostile samples are refused with a clear error and nothing is stored: wrong formats, lying
extensions, oversized files, decompression bombs, headers that claim what the file has not got."""
from __future__ import annotations

import gzip
import struct
import subprocess
import zipfile

import numpy as np
import pytest

from companion.samples.formats import Limits, inspect_file
from tests.samples.conftest import riff, tiny_sf2, tone, write

LIC = {"licence": "CC0-1.0", "source": "made by the tests"}


def add_raw(client, auth, data: bytes, filename: str, instrument="crash-drums"):
    return client.post("/api/samples", query_string={**LIC, "instrument": instrument, "filename": filename},
                       headers=auth("crash"), data=data, content_type="application/octet-stream")


def assert_refused(app, resp, status: int, code: str):
    body = resp.get_json()
    assert resp.status_code == status, body
    assert set(body) == {"status", "code", "message", "details"}
    assert body["code"] == code, body
    svc = app.extensions["scripthammer"]
    assert list(svc.store.list("samples/")) == []
    from companion.samples.models import Sample, SampleCommit, SampleVersion
    with svc.db.session() as s:
        assert s.query(Sample).count() == s.query(SampleVersion).count() == s.query(SampleCommit).count() == 0
    return body


def wav_bytes(tmp_path, **kw) -> bytes:
    return write(tmp_path / "x.wav", tone(0.2), **kw).read_bytes()


def with_data_size(data: bytes, size: int, riff_size: int | None = None) -> bytes:
    i = data.index(b"data")
    out = data[:i + 4] + struct.pack("<I", size) + data[i + 8:]
    if riff_size is not None:
        out = out[:4] + struct.pack("<I", riff_size) + out[8:]
    return out


def test_a_wav_header_claiming_a_billion_frames(client, app, auth, tmp_path):
    data = wav_bytes(tmp_path)
    body = assert_refused(app, add_raw(client, auth, with_data_size(data, 2 * 10 ** 9), "kick.wav"), 422, "bad_header")
    assert "claims" in body["message"]
    # the RIFF size lying along with it changes nothing
    lie = with_data_size(data, 2 * 10 ** 9, riff_size=2 * 10 ** 9 + 36)
    assert_refused(app, add_raw(client, auth, lie, "kick.wav"), 422, "bad_header")


def test_a_truncated_wav(client, app, auth, tmp_path):
    data = wav_bytes(tmp_path)
    assert_refused(app, add_raw(client, auth, data[: len(data) // 2], "kick.wav"), 422, "bad_header")


def test_a_wav_whose_format_fields_disagree(client, app, auth, tmp_path):
    data = bytearray(wav_bytes(tmp_path))
    i = data.index(b"fmt ") + 8
    struct.pack_into("<H", data, i + 12, 7)  # block align
    assert_refused(app, add_raw(client, auth, bytes(data), "kick.wav"), 422, "bad_header")


def test_float_wav_holding_nan(client, app, auth, tmp_path):
    x = tone(0.2).astype(np.float32)
    x[100] = np.nan
    data = write(tmp_path / "nan.wav", x, subtype="FLOAT").read_bytes()
    body = assert_refused(app, add_raw(client, auth, data, "kick.wav"), 422, "bad_header")
    assert "NaN" in body["message"]


def test_unsupported_sample_types(client, app, auth, tmp_path):
    data = write(tmp_path / "u8.wav", tone(0.2), subtype="PCM_U8").read_bytes()
    assert_refused(app, add_raw(client, auth, data, "kick.wav"), 415, "unsupported_format")
    data = write(tmp_path / "six.wav", np.zeros((1000, 6)), subtype="PCM_16").read_bytes()
    assert_refused(app, add_raw(client, auth, data, "kick.wav"), 422, "bad_header")


def test_a_flac_declaring_a_huge_length_is_refused_before_decoding(client, app, auth, tmp_path):
    data = bytearray(write(tmp_path / "x.flac", tone(0.5), fmt="FLAC").read_bytes())
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | ((1 << 36) - 1)  # total samples: 2^36 - 1 (about 18 days)
    data[18:26] = packed.to_bytes(8, "big")
    body = assert_refused(app, add_raw(client, auth, bytes(data), "kick.flac"), 422, "too_long")
    assert body["details"]["limit_seconds"] == 900


def test_a_flac_bomb_stops_decoding_at_the_limit(tmp_path):
    """Ten minutes of silence compress to a few kilobytes; with the length unknown in STREAMINFO,
    the decoder stops at the library's limit instead of decoding it all."""
    src = tmp_path / "bomb.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "600",
                    "-c:a", "flac", "-sample_fmt", "s16", str(src)], check=True)
    data = bytearray(src.read_bytes())
    assert len(data) < 200_000
    packed = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)  # length unknown
    data[18:26] = packed.to_bytes(8, "big")
    src.write_bytes(bytes(data))
    with pytest.raises(Exception) as err:
        inspect_file(src, "bomb.flac", Limits(max_seconds=30))
    assert getattr(err.value, "code", None) == "too_long"
    assert err.value.details["seconds"] <= 30 + 65536 / 8000  # one decoding block past the limit, not 600 s


def test_an_aiff_declaring_more_frames_than_it_holds(client, app, auth, tmp_path):
    data = bytearray(write(tmp_path / "x.aiff", tone(0.2), fmt="AIFF").read_bytes())
    i = data.index(b"COMM") + 8
    struct.pack_into(">I", data, i + 2, 10 ** 9)
    assert_refused(app, add_raw(client, auth, bytes(data), "kick.aiff"), 422, "bad_header")


@pytest.mark.parametrize("kw,why", [
    ({"phdr_size_lie": 38}, "chunk sizes lie"),
    ({"sample_end": 5000}, "a sample points past the data"),
    ({"pgen_instrument": 7}, "a preset names a missing instrument"),
])
def test_soundfonts_whose_structure_lies(client, app, auth, kw, why):
    assert_refused(app, add_raw(client, auth, tiny_sf2(**kw), "kit.sf2"), 422, "bad_header")


def test_a_soundfont_whose_riff_size_lies(client, app, auth):
    data = tiny_sf2()
    lie = data[:4] + struct.pack("<I", 10 ** 9) + data[8:]
    assert_refused(app, add_raw(client, auth, lie, "kit.sf2"), 422, "bad_header")
    cut = data[:-30]
    assert_refused(app, add_raw(client, auth, cut, "kit.sf2"), 422, "bad_header")


def test_an_sf3_soundfont_is_refused(client, app, auth):
    data = bytearray(tiny_sf2())
    i = data.index(b"TestSmp")
    struct.pack_into("<H", data, i + 44, 1 | 0x10)  # sample type: compressed (SF3)
    assert_refused(app, add_raw(client, auth, bytes(data), "kit.sf2"), 415, "unsupported_format")


def test_a_riff_that_is_neither_wave_nor_a_soundfont(client, app, auth):
    data = riff(b"AVI ", (b"LIST", b"hdrl" + b"\0" * 20))
    assert_refused(app, add_raw(client, auth, data, "kick.wav"), 415, "not_audio")


def test_lying_extensions(client, app, auth, tmp_path):
    flac = write(tmp_path / "x.flac", tone(0.2), fmt="FLAC").read_bytes()
    body = assert_refused(app, add_raw(client, auth, flac, "kick.wav"), 415, "extension_mismatch")
    assert body["details"]["content_format"] == "flac"
    assert_refused(app, add_raw(client, auth, wav_bytes(tmp_path), "kick.sf2"), 415, "extension_mismatch")
    assert_refused(app, add_raw(client, auth, tiny_sf2(), "kit.wav"), 415, "extension_mismatch")
    assert_refused(app, add_raw(client, auth, wav_bytes(tmp_path), "kick.txt"), 415, "extension_mismatch")


def test_not_audio_and_other_formats(client, app, auth, tmp_path):
    assert_refused(app, add_raw(client, auth, b"hello, this is text\n" * 50, "kick.wav"), 415, "not_audio")
    assert_refused(app, add_raw(client, auth, b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "kick.wav"), 415, "not_audio")
    mp3 = tmp_path / "x.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=d=0.5", str(mp3)], check=True)
    assert_refused(app, add_raw(client, auth, mp3.read_bytes(), "kick.mp3"), 415, "unsupported_format")
    assert_refused(app, add_raw(client, auth, b"", "kick.wav"), 422, "empty")


def test_zip_and_gzip_bombs_are_not_opened(client, app, auth, tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("kick.wav", b"\0" * (50 << 20))
    assert z.stat().st_size < 200_000
    assert_refused(app, add_raw(client, auth, z.read_bytes(), "kick.sf2"), 415, "unsupported_format")
    gz = gzip.compress(b"\0" * (20 << 20))
    assert_refused(app, add_raw(client, auth, gz, "kick.wav"), 415, "unsupported_format")


@pytest.fixture
def small_limits(tmp_path, redis_url):
    from tests.conftest import build_config
    return build_config(tmp_path, f"sqlite:///{tmp_path / 'small.db'}", redis_url, sample_max_mb=1)


def test_oversized_samples_get_413(small_limits, tmp_path):
    from companion import create_app
    from jobs import context
    from tests.conftest import prepare

    tokens = prepare(small_limits)
    app = create_app(small_limits)
    try:
        client = app.test_client()
        big = write(tmp_path / "big.wav", tone(15.0), subtype="PCM_16").read_bytes()  # 1.3 MB
        assert len(big) > 1 << 20
        resp = add_raw(client, lambda who: {"Authorization": f"Bearer {tokens[who]}"}, big, "big.wav")
        assert_refused(app, resp, 413, "payload_too_large")
    finally:
        context.configure(None)
        app.extensions["scripthammer"].close()


def test_the_band_soundfont_passes_every_check():
    info = inspect_file("/usr/share/sounds/sf2/FluidR3_GM.sf2", "FluidR3_GM.sf2")
    presets = {(p["bank"], p["program"]) for p in info.details["soundfont"]["presets"]}
    assert {(0, 0), (0, 30), (0, 33), (0, 56), (0, 65), (128, 0)} <= presets


def test_a_soundfont_with_more_records_than_16_bit_indices_reach(client, app, auth):
    """A 3 MB pgen chunk would be 750,000 generator records: refused before it is read."""
    data = bytearray(tiny_sf2())
    i = data.index(b"pgen")
    old = struct.unpack_from("<I", data, i + 4)[0]
    extra = 4 * (1 << 16) + 4 - old  # one record over the limit
    pgen = data[i + 8:i + 8 + old] + b"\0" * extra
    data[i:i + 8 + old] = b"pgen" + struct.pack("<I", len(pgen)) + pgen
    j = data.index(b"LIST", data.index(b"sdta"))  # the pdta LIST and the RIFF grow by the same amount
    struct.pack_into("<I", data, j + 4, struct.unpack_from("<I", data, j + 4)[0] + extra)
    struct.pack_into("<I", data, 4, len(data) - 8)
    body = assert_refused(app, add_raw(client, auth, bytes(data), "kit.sf2"), 422, "bad_header")
    assert "records" in body["message"]
