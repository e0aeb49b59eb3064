"""probe(): what a file is, and clear typed errors for what cannot be released."""
from __future__ import annotations

import json
import shutil
import subprocess
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


# --- files that point elsewhere, and formats refused by their first bytes ----------------------

REFERENCE_FILES = {
    "hls.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
    "hls-named.wav": "#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/seg.ts\n#EXT-X-ENDLIST\n",
    "bom.mp3": "\ufeff#EXTM3U\n#EXTINF:10,\n/etc/passwd\n",
    "list.ffconcat": "ffconcat version 1.0\nfile /etc/passwd\n",
    "concat.wav": "# parts\nfile '/etc/passwd'\nfile 'http://127.0.0.1:9/x.wav'\n",
    "session.sdp": "v=0\no=- 0 0 IN IP4 127.0.0.1\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 0\n",
    "session.flac": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n",
    "radio.pls": "[playlist]\nFile1=http://127.0.0.1:9/stream\n",
    "subfile.wav": "subfile:,,start,0,end,0,,:/etc/passwd\n",
    "data.ogg": "data:audio/wav;base64,UklGRiQAAABXQVZF\n",
    "rtsp.m4a": "rtsp://127.0.0.1:9/live\n",
    "paths.aiff": "/etc/passwd\n/var/lib/secret.wav\n",
    "smil.mp3": "<?xml version='1.0'?><smil><body><audio src='file:///etc/passwd'/></body></smil>",
}


@pytest.mark.parametrize("name", sorted(REFERENCE_FILES))
def test_files_that_point_elsewhere_are_refused_before_any_tool_reads_them(tmp_path, name):
    from companion.media.ffmpeg import RUNS

    path = tmp_path / "upload-tmp"
    path.write_bytes(REFERENCE_FILES[name].encode("utf-8"))
    before = RUNS.copy()
    with pytest.raises(UnsupportedMedia) as info:
        probe(path, filename=name)
    assert info.value.code == "reference_file" and info.value.status == 415
    assert name in info.value.message and "not a recording" in info.value.message
    assert RUNS - before == {}  # neither ffprobe nor ffmpeg was started


@pytest.mark.parametrize("args, ext, what", [
    (("-c:a", "libvorbis", "-f", "matroska"), ".mka", "Matroska"),
    (("-c:a", "wmav2", "-f", "asf"), ".wma", "Windows Media"),
    (("-c:a", "aac", "-f", "adts"), ".aac", "ADTS"),
    (("-c:a", "pcm_s16be", "-f", "au"), ".au", "AU"),
    (("-c:a", "pcm_s16le", "-f", "w64"), ".w64", "Wave64"),
])
def test_audio_we_do_not_take_is_named_without_probing(tmp_path, sources, args, ext, what):
    from companion.media.ffmpeg import RUNS

    path = tmp_path / f"take{ext}"
    ff("-i", str(sources["wav"]), "-t", "1", *args, str(path))
    before = RUNS.copy()
    with pytest.raises(UnsupportedMedia) as info:
        probe(path)
    assert info.value.code == "unsupported_format" and what in info.value.message
    assert RUNS - before == {}


def test_streaming_wav_with_unknown_sizes_is_accepted(tmp_path):
    # ffmpeg writing to a pipe cannot seek back: the RIFF and data sizes stay 0xFFFFFFFF.
    data = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "pcm_s16le", "-f", "wav",
                           "-"], capture_output=True, check=True).stdout
    at = data.index(b"data")
    assert data[4:8] == data[at + 4:at + 8] == b"\xff\xff\xff\xff"
    path = tmp_path / "streamed.wav"
    path.write_bytes(data)
    assert probe(path).duration == pytest.approx(2.0, abs=0.05)


def test_truncated_aiff_is_found_by_its_header(bad, sources, tmp_path):
    data = sources["aiff"].read_bytes()
    cut = tmp_path / "cut.aiff"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(Unprocessable) as info:
        probe(cut)
    assert info.value.code == "truncated"
    assert info.value.details["declared_bytes"] > info.value.details["available_bytes"] > 0


def test_errors_name_the_upload_never_a_path_on_this_machine(tmp_path, sources):
    # A FLAC that stops after its header: ffprobe fails, and its message is passed on.
    path = tmp_path / "deep" / "scratch" / "up-3f9a1c"
    path.parent.mkdir(parents=True)
    path.write_bytes(sources["flac24"].read_bytes()[:60])
    with pytest.raises(Unprocessable) as info:
        probe(path, filename="take 7.flac")
    text = json.dumps(info.value.to_dict())
    assert info.value.code == "truncated" and info.value.details["tool_message"]
    assert str(tmp_path) not in text and "up-3f9a1c" not in text and "/scratch" not in text
    assert "take 7.flac" in text


@pytest.mark.parametrize("src, fmt", [("flac24", "flac"), ("mp3", "mp3")])
def test_a_big_id3_tag_in_front_is_looked_past(tmp_path, sources, src, fmt):
    # An ID3v2 tag with a 200 kB cover ahead of the audio: longer than the bytes first read.
    from mutagen.id3 import APIC, ID3, TIT2

    path = tmp_path / f"tagged.{fmt}"
    path.write_bytes(sources[src].read_bytes())
    tag = ID3()
    tag.add(TIT2(encoding=3, text="Big cover"))
    tag.add(APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=b"\x89PNG\r\n\x1a\n" + bytes(200_000)))
    tag.save(str(path))
    assert path.read_bytes()[:3] == b"ID3" and len(path.read_bytes()) > sources[src].stat().st_size + 200_000
    info = probe(path)
    assert info.format_name == fmt and info.duration == pytest.approx(SOURCE_SECONDS, abs=0.1)


def test_big_endian_wave_is_refused(tmp_path):
    # RIFX (written here by libsndfile): ffmpeg 5.1 would decode it as little-endian noise.
    import numpy as np
    import soundfile

    path = tmp_path / "rifx.wav"
    soundfile.write(str(path), np.zeros((4410, 2)), 44100, format="WAV", subtype="PCM_16", endian="BIG")
    assert path.read_bytes()[:4] == b"RIFX"
    with pytest.raises(UnsupportedMedia) as info:
        probe(path)
    assert info.value.code == "unsupported_format" and "RIFX" in info.value.message
