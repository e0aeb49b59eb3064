"""run_release(): every file fans and the player need, in the store, with the right shape."""
from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path

import pytest

from companion.errors import Unprocessable
from companion.media.ffmpeg import RUNS, MediaToolError
from companion.media.hls import load_media_playlist, parse_master_playlist
from companion.media.loudness import measure
from companion.media.pipeline import PipelineSettings, run_release
from companion.media.renditions import DOWNLOADS, RenditionSpec
from companion.media.tags import Tags, read_tags
from companion.storage import LocalStore

from .conftest import QUIET_LUFS, SOURCE_SECONDS, ffprobe_stream

EXPECTED = {  # name: (ffprobe codec_name, container format, nominal bit rate or None)
    "master-wav": ("pcm_s16le", "wav", None),
    "master-flac": ("flac", "flac", None),
    "mp3-320": ("mp3", "mp3", 320_000),
    "mp3-v0": ("mp3", "mp3", None),
    "flac": ("flac", "flac", None),
    "aac-256": ("aac", "mov,mp4,m4a,3gp,3g2,mj2", 256_000),
    "vorbis-q6": ("vorbis", "ogg", None),
    "alac": ("alac", "mov,mp4,m4a,3gp,3g2,mj2", None),
    "wav": ("pcm_s16le", "wav", None),
    "aiff": ("pcm_s16be", "aiff", None),
    "opus-160": ("opus", "ogg", 160_000),
    "preview": ("aac", "mov,mp4,m4a,3gp,3g2,mj2", None),
}


def local(release, key: str) -> Path:
    path = release.store.local_path(key)
    assert path is not None, f"{key} is not in the store"
    return path


def test_manifest_shape_is_json(release):
    m = release.manifest
    json.dumps(m)
    assert m["cached"] is False
    assert set(m) >= {"pipeline_version", "cache_key", "source", "loudness", "stream_gain_db", "renditions",
                      "hls", "peaks"}
    assert m["source"]["format"] == "wav" and m["source"]["bit_depth"] == 16
    assert m["loudness"]["integrated_lufs"] == pytest.approx(QUIET_LUFS, abs=0.5)
    assert {r["name"] for r in m["renditions"]} == set(EXPECTED)
    assert release.store.exists(f"manifests/{m['cache_key'][:2]}/{m['cache_key']}/manifest.json")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rendition_is_stored_with_the_right_codec_bitrate_and_duration(release, name):
    row = next(r for r in release.manifest["renditions"] if r["name"] == name)
    path = local(release, row["key"])
    codec, container, bitrate = EXPECTED[name]
    s = ffprobe_stream(path)
    assert s["codec_name"] == codec
    assert s["format"]["format_name"] == container
    assert row["size"] == path.stat().st_size
    want = 5.0 if name == "preview" else SOURCE_SECONDS
    assert float(s["format"]["duration"]) == pytest.approx(want, abs=0.1)
    assert row["duration"] == pytest.approx(float(s["format"]["duration"]), abs=0.08)
    if bitrate:
        measured = int(s.get("bit_rate") or s["format"]["bit_rate"])
        assert row["bitrate"] == bitrate
        if name == "opus-160":  # VBR around the target: simple test music needs fewer bits
            assert 0.6 * bitrate < measured < 1.15 * bitrate
        else:
            assert measured == pytest.approx(bitrate, rel=0.15)
    if name == "mp3-320":  # constant bit rate: every frame at 320 kbps
        assert int(s["bit_rate"]) == 320_000
    if name in ("master-wav", "wav", "aiff", "master-flac", "flac", "alac"):
        assert row["bit_depth"] == 16
    assert row["normalized"] is (name == "preview")


def test_flac_and_wav_downloads_are_the_master_files(release):
    rows = {r["name"]: r for r in release.manifest["renditions"]}
    assert rows["flac"]["key"] == rows["master-flac"]["key"]
    assert rows["wav"]["key"] == rows["master-wav"]["key"]
    assert rows["flac"]["kind"] == "download" and rows["master-flac"]["kind"] == "master"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tags_read_back(release, tags, name):
    row = next(r for r in release.manifest["renditions"] if r["name"] == name)
    got = read_tags(local(release, row["key"]))
    assert got["title"] == tags.title
    assert got["artist"] == "ScriptHammer"
    assert got["album"] == tags.album
    assert got["track_number"] == 2
    assert got["year"] == 2026
    assert got["track_id"] == "trk_test_42"
    assert got["cover"] == tags.cover
    extra = got["extra"]
    if name == "preview":
        assert "REPLAYGAIN_TRACK_GAIN" not in extra
    elif name == "opus-160":
        # Q7.8 to -23 LUFS: about (-23 - -30) * 256 = +1792
        assert int(extra["R128_TRACK_GAIN"]) == pytest.approx((-23 - QUIET_LUFS) * 256, abs=200)
    else:
        gain = float(extra["REPLAYGAIN_TRACK_GAIN"].split()[0])
        assert gain == pytest.approx(-18 - release.manifest["loudness"]["integrated_lufs"], abs=0.01)
        assert extra["REPLAYGAIN_TRACK_GAIN"].endswith(" dB")
        assert 0 < float(extra["REPLAYGAIN_TRACK_PEAK"]) < 1


def test_hls_master_playlist_declares_variants(release):
    hls = release.manifest["hls"]
    text = local(release, hls["master_key"]).read_text()
    variants = parse_master_playlist(text)
    assert len(variants) >= 3
    for v, row in zip(variants, hls["variants"]):
        assert v["attributes"]["CODECS"] == "mp4a.40.2"
        assert int(v["attributes"]["BANDWIDTH"]) >= int(v["attributes"]["AVERAGE-BANDWIDTH"]) > 0
        assert "/" not in v["uri"]  # relative, same folder
        assert int(v["attributes"]["BANDWIDTH"]) == row["bandwidth"]
    assert [r["bitrate"] for r in hls["variants"]] == [48_000, 96_000, 192_000]
    assert hls["segment_seconds"] == 4 and hls["segment_type"] == "fmp4"
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")  # EXT-X-MAP in the media playlists


def test_hls_variants_are_vod_fmp4_with_relative_segments_that_decode(release, tmp_path):
    hls = release.manifest["hls"]
    folder = local(release, hls["master_key"]).parent
    for row in hls["variants"]:
        playlist = local(release, row["playlist_key"])
        text = playlist.read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text
        media = load_media_playlist(playlist)
        uris, durations = media.uris, media.durations
        assert media.vod and media.target_duration == 4
        assert len(uris) == row["segments"] and 3 <= len(uris) <= 4
        assert sum(durations) == pytest.approx(SOURCE_SECONDS, abs=0.1)
        assert all("/" not in u and u.endswith(".m4s") and (folder / u).is_file() for u in uris)
        assert max(durations) <= 4.5
        # fMP4: one init segment (#EXT-X-MAP, relative, stored) that the media segments need.
        init = media.init
        assert init and "/" not in init and init.endswith(".mp4") and (folder / init).is_file()
        assert row["init_key"].endswith("/" + init) and release.store.exists(row["init_key"])
        out = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(playlist), "-f", "null", "-"],
                             capture_output=True)
        assert out.returncode == 0, out.stderr
        first = tmp_path / f"{row['bitrate']}-first.mp4"
        first.write_bytes((folder / init).read_bytes() + (folder / uris[0]).read_bytes())
        s = ffprobe_stream(first)
        assert s["codec_name"] == "aac"
        assert float(s.get("duration") or durations[0]) == pytest.approx(durations[0], abs=0.1)


def test_ladder_is_normalised_and_downloads_keep_the_source_level(release):
    m = release.manifest
    assert m["stream_gain_db"] == pytest.approx(-14 - m["loudness"]["integrated_lufs"], abs=0.01)
    for row in m["hls"]["variants"]:
        lv = measure(local(release, row["playlist_key"]))
        assert lv.integrated_lufs == pytest.approx(-14.0, abs=1.0)
        assert lv.true_peak_dbtp <= -1.0
    rows = {r["name"]: r for r in m["renditions"]}
    preview = measure(local(release, rows["preview"]["key"]))
    assert preview.integrated_lufs == pytest.approx(-14.0, abs=1.0)
    assert rows["preview"]["gain_db"] == m["stream_gain_db"]
    for name in ("flac", "mp3-320", "opus-160"):
        assert measure(local(release, rows[name]["key"])).integrated_lufs == pytest.approx(QUIET_LUFS, abs=0.6)
        assert rows[name]["gain_db"] == 0.0


def test_peaks_in_audiowaveform_format_at_two_zooms(release):
    peaks = release.manifest["peaks"]
    assert [p["samples_per_pixel"] for p in peaks] == [256, 2048]
    frames = round(SOURCE_SECONDS * 44100)
    for p in peaks:
        doc = json.loads(local(release, p["key"]).read_text())
        assert doc["version"] == 2 and doc["channels"] == 1 and doc["bits"] == 8
        assert doc["sample_rate"] == 44100 and doc["samples_per_pixel"] == p["samples_per_pixel"]
        assert doc["length"] == p["length"] == math.ceil(frames / p["samples_per_pixel"])
        data = doc["data"]
        assert len(data) == 2 * doc["length"]
        assert all(isinstance(v, int) and -128 <= v <= 127 for v in data)
        assert all(lo <= hi for lo, hi in zip(data[0::2], data[1::2]))
        assert max(data) > 0 > min(data)


def test_progress_is_reported_up_to_100(release):
    percents = [p for p, _ in release.progress]
    assert percents == sorted(percents) and percents[-1] == 100
    stages = {s for _, s in release.progress}
    assert {"probe", "decode", "loudness", "hls", "peaks", "publish", "manifest"} <= stages


def test_second_run_is_served_from_the_cache(release, quiet_wav, tags, settings):
    before = RUNS.copy()
    t = time.perf_counter()
    again = run_release(quiet_wav, release.store, release.work_dir, tags, settings)
    took = time.perf_counter() - t
    assert again["cached"] is True
    assert RUNS - before == {}  # neither ffmpeg nor ffprobe ran
    assert took < 0.05 * release.seconds
    assert {k: v for k, v in again.items() if k != "cached"} == \
        {k: v for k, v in release.manifest.items() if k != "cached"}


def test_new_tags_retag_without_encoding(release, quiet_wav, tags, settings):
    new = Tags(title="Test Orbit (Remastered)", album=tags.album, track_number=3, year=2027,
               track_id=tags.track_id, cover=tags.cover)
    before = RUNS.copy()
    m = run_release(quiet_wav, release.store, release.work_dir, new, settings)
    assert (RUNS - before).get("ffmpeg", 0) == 0
    assert m["cached"] is False and m["cache_key"] != release.manifest["cache_key"]
    assert m["hls"] == release.manifest["hls"] and m["peaks"] == release.manifest["peaks"]
    for row in m["renditions"]:
        got = read_tags(local(release, row["key"]))
        assert got["title"] == "Test Orbit (Remastered)" and got["track_number"] == 3 and got["year"] == 2027
    old = {r["name"]: r["key"] for r in release.manifest["renditions"]}
    assert all(row["key"] != old[row["name"]] for row in m["renditions"])  # content changed, key changed


@pytest.mark.parametrize("cost", [100.0, 0.0], ids=["first", "last"])
def test_an_encoder_failing_midway_stores_nothing(tmp_path, quiet_wav, tags, cost):
    # cost=0 schedules the broken encoder last, after other files were tagged and stored.
    broken = RenditionSpec("broken", "download", "mp4", "m4a", "ipod", "aac", "audio/mp4",
                           ("-c:a", "no_such_encoder", "-f", "ipod"), cost=cost)
    store = LocalStore(tmp_path / "store")
    settings = PipelineSettings(workers=2, preview_seconds=5, extra_renditions=(broken,))
    with pytest.raises(MediaToolError):
        run_release(quiet_wav, store, tmp_path / "work", tags, settings)
    assert list(store.list("")) == []
    assert [p for p in (tmp_path / "work").iterdir() if p.name.startswith("release-")] == []


def test_lossy_source_gets_a_24_bit_master(tmp_path, sources, tags):
    store = LocalStore(tmp_path / "store")
    m = run_release(sources["mp3"], store, tmp_path / "work", tags, PipelineSettings(workers=2, preview_seconds=5))
    rows = {r["name"]: r for r in m["renditions"]}
    assert m["source"]["codec"] == "mp3" and m["source"]["bit_depth"] is None
    assert rows["master-wav"]["bit_depth"] == 24
    assert ffprobe_stream(store.local_path(rows["master-wav"]["key"]))["codec_name"] == "pcm_s24le"
    assert ffprobe_stream(store.local_path(rows["alac"]["key"]))["bits_per_raw_sample"] == "24"
    assert ffprobe_stream(store.local_path(rows["aiff"]["key"]))["codec_name"] == "pcm_s24be"


def test_truncated_compressed_source_is_refused_by_the_pipeline(tmp_path, sources, tags):
    data = sources["flac24"].read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    store = LocalStore(tmp_path / "store")
    with pytest.raises(Unprocessable) as info:
        run_release(cut, store, tmp_path / "work", tags, PipelineSettings(workers=2))
    assert info.value.code == "truncated"
    assert list(store.list("")) == []


def test_downloads_cover_every_bandcamp_format():
    names = {s.name for s in DOWNLOADS}
    assert names >= {"mp3-320", "mp3-v0", "flac", "aac-256", "vorbis-q6", "alac", "wav", "aiff", "opus-160"}
