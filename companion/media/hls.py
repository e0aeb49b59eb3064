"""The HLS VOD ladder: AAC rungs segmented by stream copy, and the master playlist.

Each rung is encoded once to AAC in MP4 (see :func:`companion.media.renditions.stream_rung`),
then :func:`segment` cuts it into fragmented-MP4 segments (CMAF-style: one ``<stem>_init.mp4``
named by ``#EXT-X-MAP`` plus ``.m4s`` media segments) without re-encoding, so players append
them to Media Source Extensions as they are (no MPEG-TS to fMP4 transmuxing in the browser).
Variant playlists are ffmpeg's (``#EXT-X-PLAYLIST-TYPE:VOD``, ``#EXT-X-VERSION:7``, segment URIs
relative to the playlist); the master
playlist is written here from the real segment sizes: ``BANDWIDTH`` is the peak segment bit
rate, ``AVERAGE-BANDWIDTH`` the whole variant's average, ``CODECS="mp4a.40.2"`` (AAC-LC).
All files of a ladder share one flat folder (and one store prefix), so relative URIs work
wherever the folder is served from.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from companion.media.ffmpeg import ffmpeg

AAC_LC = "mp4a.40.2"


@dataclasses.dataclass
class Variant:
    bitrate: int  # nominal bps
    playlist: Path
    segments: list[Path]
    durations: list[float]
    init: Path | None = None  # the fMP4 initialisation segment (#EXT-X-MAP)
    bandwidth: int = 0
    average_bandwidth: int = 0
    codecs: str = AAC_LC

    def to_dict(self) -> dict:
        return {"bitrate": self.bitrate, "bandwidth": self.bandwidth, "average_bandwidth": self.average_bandwidth,
                "codecs": self.codecs, "segments": len(self.segments)}


def variant_stem(kbps: int) -> str:
    return f"a{kbps:03d}k"


#: The media segments' file suffix.
SEGMENT_SUFFIX = ".m4s"
#: MIME types of the ladder's files, by extension.
MIME_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mp4": "audio/mp4", ".m4s": "video/iso.segment"}


def segment(rung_path: str | Path, out_dir: str | Path, kbps: int, segment_seconds: int = 4) -> Variant:
    """Cut an AAC rung into ``segment_seconds`` fMP4 segments (+ an init segment) by stream copy."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = variant_stem(kbps)
    playlist = out_dir / f"{stem}.m3u8"
    # ffmpeg writes the init segment beside the playlist, under this (relative) name.
    ffmpeg(["-threads", "1", "-i", str(rung_path), "-map", "0:a:0", "-c", "copy",
            "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
            "-hls_list_size", "0", "-hls_flags", "independent_segments",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", f"{stem}_init.mp4",
            "-hls_segment_filename", str(out_dir / f"{stem}_%05d.m4s"), str(playlist)])
    segments, durations = parse_media_playlist(playlist)
    init = parse_init_uri(playlist)
    variant = Variant(kbps * 1000, playlist, [out_dir / s for s in segments], durations,
                      init=out_dir / init if init else None)
    measure_bandwidth(variant)
    return variant


def parse_media_playlist(path: str | Path) -> tuple[list[str], list[float]]:
    """(segment URIs, EXTINF durations) of a media playlist."""
    uris, durs = [], []
    pending = None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            pending = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            uris.append(line)
            durs.append(pending or 0.0)
            pending = None
    return uris, durs


def parse_init_uri(path: str | Path) -> str | None:
    """The URI of a media playlist's ``#EXT-X-MAP`` (the fMP4 init segment), or None."""
    for line in Path(path).read_text().splitlines():
        if line.startswith("#EXT-X-MAP:"):
            for part in line.split(":", 1)[1].split(","):
                key, _, value = part.partition("=")
                if key.strip() == "URI":
                    return value.strip().strip('"')
    return None


def measure_bandwidth(variant: Variant) -> None:
    """Set BANDWIDTH (peak segment bit rate) and AVERAGE-BANDWIDTH from the segment files."""
    sizes = [p.stat().st_size for p in variant.segments]
    total_s = sum(variant.durations) or 1.0
    variant.average_bandwidth = int(math.ceil(sum(sizes) * 8 / total_s))
    # A very short last segment can show a spike that no real download sees; ignore
    # segments under a second unless there is nothing else.
    rates = [s * 8 / d for s, d in zip(sizes, variant.durations) if d >= 1.0] or \
            [s * 8 / max(d, 1e-3) for s, d in zip(sizes, variant.durations)]
    variant.bandwidth = max(int(math.ceil(max(rates))) if rates else 0, variant.average_bandwidth)


def master_playlist(variants: list[Variant], uri_of=lambda v: v.playlist.name) -> str:
    """The master playlist text, variants from lowest to highest bit rate."""
    version = 7 if any(v.init for v in variants) else 3  # EXT-X-MAP in media playlists needs 6+ (7 by ffmpeg)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: v.bitrate):
        lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={v.bandwidth},AVERAGE-BANDWIDTH={v.average_bandwidth},'
                     f'CODECS="{v.codecs}"')
        lines.append(uri_of(v))
    return "\n".join(lines) + "\n"


def parse_master_playlist(text: str) -> list[dict]:
    """[{"attributes": {...}, "uri": ...}] for each #EXT-X-STREAM-INF of a master playlist."""
    out = []
    attrs = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = {}
            body = line.split(":", 1)[1]
            key, buf, quoted = "", "", False
            for ch in body + ",":
                if ch == '"':
                    quoted = not quoted
                elif ch == "=" and not quoted and not key:
                    key, buf = buf, ""
                    continue
                elif ch == "," and not quoted:
                    attrs[key] = buf
                    key, buf = "", ""
                    continue
                buf += ch if ch != '"' else ""
        elif line and not line.startswith("#") and attrs is not None:
            out.append({"attributes": attrs, "uri": line})
            attrs = None
    return out
