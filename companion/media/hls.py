"""The HLS VOD ladder: AAC rungs segmented by stream copy, and the master playlist.

Each rung is encoded once to AAC in MP4 (see :func:`companion.media.renditions.stream_rung`),
then :func:`segment` cuts it into MPEG-TS segments without re-encoding. Variant playlists are
ffmpeg's (``#EXT-X-PLAYLIST-TYPE:VOD``, segment URIs relative to the playlist); the master
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
    bandwidth: int = 0
    average_bandwidth: int = 0
    codecs: str = AAC_LC

    def to_dict(self) -> dict:
        return {"bitrate": self.bitrate, "bandwidth": self.bandwidth, "average_bandwidth": self.average_bandwidth,
                "codecs": self.codecs, "segments": len(self.segments)}


def variant_stem(kbps: int) -> str:
    return f"a{kbps:03d}k"


def segment(rung_path: str | Path, out_dir: str | Path, kbps: int, segment_seconds: int = 4) -> Variant:
    """Cut an AAC rung into ``segment_seconds`` MPEG-TS segments by stream copy."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = variant_stem(kbps)
    playlist = out_dir / f"{stem}.m3u8"
    ffmpeg(["-threads", "1", "-i", str(rung_path), "-map", "0:a:0", "-c", "copy",
            "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
            "-hls_list_size", "0", "-hls_flags", "independent_segments",
            "-hls_segment_type", "mpegts", "-hls_segment_filename", str(out_dir / f"{stem}_%05d.ts"),
            str(playlist)])
    segments, durations = parse_media_playlist(playlist)
    variant = Variant(kbps * 1000, playlist, [out_dir / s for s in segments], durations)
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
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
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
