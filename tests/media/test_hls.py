"""The HLS playlist helpers (m3u8 underneath), checked against ffmpeg reading what they write."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from companion.media.hls import (
    MediaSegment, Stream, load_media_playlist, parse_master_playlist, read_master_playlist, read_media_playlist,
    write_master_playlist, write_media_playlist,
)


def ladder_folder(release) -> Path:
    return release.store.local_path(release.manifest["hls"]["master_key"]).parent


def decoded_md5(playlist: Path) -> str:
    """What ffmpeg decodes from a playlist (its own HLS demuxer, local files only), as an MD5 of the PCM."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-i", str(playlist),
                          "-map", "0:a:0", "-f", "md5", "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_reading_ffmpegs_media_playlist(release):
    folder = ladder_folder(release)
    for row in release.manifest["hls"]["variants"]:
        media = load_media_playlist(release.store.local_path(row["playlist_key"]))
        assert len(media.segments) == row["segments"]
        assert all((folder / u).is_file() for u in media.uris)
        assert media.init and (folder / media.init).is_file()
        assert media.vod and media.version == 7
        assert media.target_duration >= max(round(d) for d in media.durations)


def test_a_playlist_written_from_the_segments_plays_exactly_like_ffmpegs_own(release):
    """The access room builds per-listener playlists with write_media_playlist: ffmpeg must decode
    the very same audio from ours as from the one it wrote."""
    folder = ladder_folder(release)
    row = release.manifest["hls"]["variants"][0]
    theirs = release.store.local_path(row["playlist_key"])
    media = load_media_playlist(theirs)
    ours = folder / "ours-written-by-test.m3u8"
    ours.write_text(write_media_playlist(media.segments, init=media.init))
    try:
        assert decoded_md5(ours) == decoded_md5(theirs)
        again = load_media_playlist(ours)
        assert again.segments == media.segments and again.init == media.init and again.vod
    finally:
        ours.unlink()


def test_signed_urls_and_durations_survive_a_round_trip():
    segments = [MediaSegment(f"https://cdn.example.org/hls/ab/a096k_{i:05d}.m4s?exp=1767225600&sig=Zm9v%2Fbar", d)
                for i, d in enumerate([4.011, 3.994, 4.0, 1.532])]
    init = "https://cdn.example.org/hls/ab/a096k_init.mp4?exp=1767225600&sig=aW5pdA"
    text = write_media_playlist(segments, init=init)
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert f'#EXT-X-MAP:URI="{init}"' in text
    back = read_media_playlist(text)
    assert back.segments == tuple(segments) and back.init == init
    assert back.target_duration == 4  # the longest segment (4.011 s), rounded to the nearest second
    assert back.duration == pytest.approx(13.537)
    live = read_media_playlist(write_media_playlist([("a.ts", 6.0)], vod=False))
    assert not live.vod and live.init is None and live.version == 3


def test_master_playlist_as_ffprobe_reads_it(release):
    """Our master playlist, read by our helper and by ffprobe: the same variants and bandwidths."""
    hls = release.manifest["hls"]
    master = release.store.local_path(hls["master_key"])
    streams = read_master_playlist(master.read_text())
    assert [s.bandwidth for s in streams] == [v["bandwidth"] for v in hls["variants"]]
    assert [s.average_bandwidth for s in streams] == [v["average_bandwidth"] for v in hls["variants"]]
    assert {s.codecs for s in streams} == {"mp4a.40.2"}
    out = subprocess.run(["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-show_programs", "-of", "json",
                          str(master)], capture_output=True, check=True).stdout
    programs = json.loads(out)["programs"]
    assert sorted(int(p["tags"]["variant_bitrate"]) for p in programs) == sorted(s.bandwidth for s in streams)
    assert all(p["streams"][0]["codec_name"] == "aac" for p in programs)


def test_write_master_playlist_round_trip_and_the_embeds_shape():
    streams = [Stream("low.m3u8", 52_000, 49_000), Stream("high.m3u8", 200_000, 190_000, "mp4a.40.2")]
    text = write_master_playlist(streams)
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
    assert read_master_playlist(text) == streams
    assert parse_master_playlist(text) == [
        {"attributes": {"BANDWIDTH": "52000", "AVERAGE-BANDWIDTH": "49000", "CODECS": "mp4a.40.2"}, "uri": "low.m3u8"},
        {"attributes": {"BANDWIDTH": "200000", "AVERAGE-BANDWIDTH": "190000", "CODECS": "mp4a.40.2"},
         "uri": "high.m3u8"}]
