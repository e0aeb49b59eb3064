"""probe(): what a file is, and clear typed errors for what cannot be released."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from companion.errors import Unprocessable, UnsupportedMedia
from companion.media.probe import probe

from .conftest import SOURCE_SECONDS, ff


@pytest.mark.parametrize("name, fmt, codec, bit_depth", [
    ("wav", "wav", "pcm_s16le", 16),
    ("flac24", "flac", "flac", 24),
    ("aiff", "aiff", "pcm_s16be", 16),
    ("mp3", "mp3", "mp3", None),
    ("vorbis", "ogg", "vorbis", None),
    ("opus", "ogg", "opus", None),
    ("aac", "mp4", "aac", None),
    ("alac", "mp4", "alac", 16),
    ("float", "wav", "pcm_f32le", 32),
])
def test_probe_accepts_every_release_format(sources, name, fmt, codec, bit_depth):
    info = probe(sources[name])
    assert (info.format_name, info.codec, info.bit_depth) == (fmt, codec, bit_depth)
    assert info.channels == 2
    assert info.sample_rate in (44100, 48000)
    assert info.duration == pytest.approx(SOURCE_SECONDS, abs=0.1)
    assert info.size == sources[name].stat().st_size


@pytest.fixture(scope="module")
def bad(media_dir, sources) -> dict[str, Path]:
    d = media_dir / "bad"
    d.mkdir(exist_ok=True)
    files = {}
    (d / "notes.wav").write_text("These are the lyrics, not the recording.\n" * 20)
    files["text"] = d / "notes.wav"
    (d / "notes.mp3").write_text("Not an MP3 at all, just words.\n" * 20)
    files["text_as_mp3"] = d / "notes.mp3"
    (d / "empty.wav").write_bytes(b"")
    files["empty"] = d / "empty.wav"
    for key, src in (("wav", "wav"), ("flac", "flac24"), ("mp3", "mp3"), ("ogg", "vorbis"), ("m4a", "aac")):
        data = sources[src].read_bytes()
        path = d / f"cut.{'ogg' if key == 'ogg' else key}"
        path.write_bytes(data[: len(data) // 2])
        files[f"truncated_{key}"] = path
    shutil.copy(sources["wav"], d / "actually-wave.mp3")
    files["wav_as_mp3"] = d / "actually-wave.mp3"
    shutil.copy(sources["flac24"], d / "really-flac.wav")
    files["flac_as_wav"] = d / "really-flac.wav"
    ff("-f", "lavfi", "-i", "color=c=orange:s=64x64:d=1", "-frames:v", "1", str(d / "cover.png"))
    files["image"] = d / "cover.png"
    ff("-f", "lavfi", "-i", "testsrc=s=64x64:d=1", "-c:v", "mpeg4", str(d / "clip.mp4"))
    files["video"] = d / "clip.mp4"
    ff("-f", "lavfi", "-i", "anullsrc=d=0.5", "-t", "0", "-c:a", "pcm_s16le", str(d / "nothing.wav"))
    files["zero_duration"] = d / "nothing.wav"
    return files


@pytest.mark.parametrize("case, error, code", [
    ("text", UnsupportedMedia, "not_audio"),
    ("text_as_mp3", UnsupportedMedia, "not_audio"),
    ("image", UnsupportedMedia, "not_audio"),
    ("video", UnsupportedMedia, "not_audio"),
    ("empty", Unprocessable, "empty"),
    ("zero_duration", Unprocessable, "empty"),
    ("truncated_wav", Unprocessable, "truncated"),
    ("truncated_flac", Unprocessable, "truncated"),
    ("truncated_mp3", Unprocessable, "truncated"),
    ("truncated_ogg", Unprocessable, "truncated"),
    ("truncated_m4a", Unprocessable, "truncated"),
    ("wav_as_mp3", UnsupportedMedia, "extension_mismatch"),
    ("flac_as_wav", UnsupportedMedia, "extension_mismatch"),
])
def test_bad_inputs_raise_typed_errors(bad, case, error, code):
    with pytest.raises(error) as info:
        probe(bad[case])
    err = info.value
    assert err.code == code
    assert err.status == error.status
    assert isinstance(err.details, dict) and err.details["filename"] == bad[case].name
    assert err.to_dict()["message"]


def test_extension_mismatch_message_names_both_formats(bad):
    with pytest.raises(UnsupportedMedia) as info:
        probe(bad["wav_as_mp3"])
    assert "named .mp3 but contains WAVE audio" in info.value.message
    assert info.value.details["extension_format"] == "mp3"
    assert info.value.details["content_format"] == "wav"


def test_the_uploaded_name_is_what_is_checked(bad, sources):
    # The file on disk can have any name: the editor's filename is the one that counts.
    assert probe(bad["wav_as_mp3"], filename="take-3.wav").format_name == "wav"
    with pytest.raises(UnsupportedMedia) as info:
        probe(sources["mp3"], filename="take-3.flac")
    assert "named .flac but contains MP3 audio" in info.value.message


def test_truncated_wav_says_how_much_is_missing(bad):
    with pytest.raises(Unprocessable) as info:
        probe(bad["truncated_wav"])
    assert info.value.details["declared_bytes"] > info.value.details["available_bytes"]
