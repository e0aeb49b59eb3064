"""HLS: the VOD ladder the release pipeline makes, and small playlist helpers over the m3u8 library.

The ladder
----------
Each rung is encoded once to AAC in MP4 (see :func:`companion.media.renditions.stream_rung`),
then :func:`segment` cuts it into fragmented-MP4 segments (CMAF-style: one ``<stem>_init.mp4``
named by ``#EXT-X-MAP`` plus ``.m4s`` media segments) without re-encoding, so players append
them to Media Source Extensions as they are. Variant playlists are ffmpeg's
(``#EXT-X-PLAYLIST-TYPE:VOD``, ``#EXT-X-VERSION:7``, segment URIs relative to the playlist);
the master playlist is written here from the real segment sizes: ``BANDWIDTH`` is the peak
segment bit rate, ``AVERAGE-BANDWIDTH`` the whole variant's average, ``CODECS="mp4a.40.2"``
(AAC-LC). All files of a ladder share one flat folder (and one store prefix), so relative URIs
work wherever the folder is served from.

Playlist helpers (use these instead of reading or writing playlist text by hand)
--------------------------------------------------------------------------------
* :func:`read_media_playlist` (text) / :func:`load_media_playlist` (a local file) give a
  :class:`MediaPlaylist`: its segments (URI and ``EXTINF`` duration, in order), the ``#EXT-X-MAP``
  init segment URI, the target duration.
* :func:`write_media_playlist` writes a VOD media playlist from segments (URIs of any kind, for
  example signed per-listener URLs) and an optional init segment URI.
* :func:`read_master_playlist` gives the :class:`Stream` of each ``#EXT-X-STREAM-INF``;
  :func:`write_master_playlist` writes a master playlist from streams.

Reading never follows a URI: the helpers take text (or a local path) and return data.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Iterable, Sequence

import m3u8
from m3u8.model import Playlist, Segment

from companion.errors import InvalidInput
from companion.media.ffmpeg import ffmpeg, input_args

AAC_LC = "mp4a.40.2"
#: The media segments' file suffix.
SEGMENT_SUFFIX = ".m4s"
#: MIME types of the ladder's files, by extension.
MIME_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mp4": "audio/mp4", ".m4s": "video/iso.segment"}


# --- playlist helpers -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MediaSegment:
    """One media segment: its URI as the playlist writes it, and its duration in seconds."""

    uri: str
    duration: float


@dataclasses.dataclass(frozen=True)
class MediaPlaylist:
    """What a media playlist says.

    Attributes:
        segments: in playback order.
        init: the URI of the ``#EXT-X-MAP`` initialisation segment (fMP4), or None.
        target_duration: ``#EXT-X-TARGETDURATION`` (whole seconds), or None.
        version: ``#EXT-X-VERSION``, or None.
        vod: ``#EXT-X-PLAYLIST-TYPE:VOD`` with ``#EXT-X-ENDLIST``.
    """

    segments: tuple[MediaSegment, ...]
    init: str | None = None
    target_duration: int | None = None
    version: int | None = None
    vod: bool = True

    @property
    def uris(self) -> list[str]:
        return [s.uri for s in self.segments]

    @property
    def durations(self) -> list[float]:
        return [s.duration for s in self.segments]

    @property
    def duration(self) -> float:
        """The sum of the segments' durations."""
        return sum(self.durations)


@dataclasses.dataclass(frozen=True)
class Stream:
    """One ``#EXT-X-STREAM-INF`` of a master playlist."""

    uri: str
    bandwidth: int
    average_bandwidth: int | None = None
    codecs: str | None = AAC_LC

    def attributes(self) -> dict[str, str]:
        """The tag's attributes as written (``BANDWIDTH``, ``AVERAGE-BANDWIDTH``, ``CODECS``)."""
        out = {"BANDWIDTH": str(self.bandwidth)}
        if self.average_bandwidth is not None:
            out["AVERAGE-BANDWIDTH"] = str(self.average_bandwidth)
        if self.codecs:
            out["CODECS"] = self.codecs
        return out


class PlaylistError(InvalidInput):
    """A playlist that m3u8 cannot read, or whose values make no sense (e.g. a segment without a URI)."""

    code = "bad_playlist"


def _loads(text: str) -> m3u8.M3U8:
    try:
        return m3u8.loads(text)
    except Exception as exc:  # noqa: BLE001 - m3u8 raises anything (KeyError, ValueError, ParseError...) on bad text
        raise PlaylistError(f"Not a readable HLS playlist: {type(exc).__name__}: {str(exc)[:200]}") from None


def _number(value, what: str) -> float:
    try:
        out = float(value or 0.0)
    except (TypeError, ValueError, OverflowError):
        raise PlaylistError(f"The playlist's {what} is not a number: {str(value)[:50]!r}") from None
    if not math.isfinite(out) or out < 0:
        raise PlaylistError(f"The playlist's {what} is not a finite positive number: {out}")
    return out


def read_media_playlist(text: str) -> MediaPlaylist:
    """Parse a media playlist's text (PlaylistError if it cannot be read)."""
    pl = _loads(text)
    try:
        init = next((s.init_section.uri for s in pl.segments if s.init_section is not None), None)
        if init is None and pl.segment_map:
            init = pl.segment_map[0].uri
        segments = tuple(MediaSegment(s.uri, _number(s.duration, "segment duration")) for s in pl.segments)
        return MediaPlaylist(segments, init, pl.target_duration, pl.version,
                             vod=(pl.playlist_type or "").lower() == "vod" and bool(pl.is_endlist))
    except PlaylistError:
        raise
    except Exception as exc:  # noqa: BLE001 - m3u8's lazy attributes parse on access, and raise anything
        raise PlaylistError(f"Not a readable HLS playlist: {type(exc).__name__}: {str(exc)[:200]}") from None


def load_media_playlist(path: str | Path) -> MediaPlaylist:
    """Parse a media playlist file on this machine."""
    return read_media_playlist(Path(path).read_text(encoding="utf-8"))


def write_media_playlist(segments: Iterable[MediaSegment | tuple[str, float]], *, init: str | None = None,
                         target_duration: int | None = None, version: int | None = None, vod: bool = True,
                         independent: bool = True) -> str:
    """A media playlist's text.

    Args:
        segments: (URI, seconds) in playback order; URIs are written as given (relative, or
            absolute and signed).
        init: the fMP4 initialisation segment's URI (``#EXT-X-MAP``), if any.
        target_duration: defaults to the longest segment rounded to the nearest second (RFC 8216:
            every EXTINF, rounded to the nearest integer, is at most the target duration).
        version: defaults to 7 with an init segment (``EXT-X-MAP`` needs 6+), else 3.
        vod: write ``#EXT-X-PLAYLIST-TYPE:VOD`` and ``#EXT-X-ENDLIST``.
        independent: write ``#EXT-X-INDEPENDENT-SEGMENTS`` (every segment decodes on its own).
    """
    segs = [s if isinstance(s, MediaSegment) else MediaSegment(str(s[0]), float(s[1])) for s in segments]
    pl = m3u8.M3U8()
    pl.version = version or (7 if init else 3)
    pl.target_duration = target_duration if target_duration is not None else \
        max((math.floor(s.duration + 0.5) for s in segs), default=0)
    pl.media_sequence = 0
    pl.is_independent_segments = independent
    if vod:
        pl.playlist_type = "vod"
        pl.is_endlist = True
    for s in segs:
        pl.add_segment(Segment(uri=s.uri, duration=s.duration, init_section={"uri": init} if init else None))
    return pl.dumps()


def read_master_playlist(text: str) -> list[Stream]:
    """The streams of a master playlist, in the order it lists them."""
    out = []
    try:
        for p in _loads(text).playlists:
            info = p.stream_info
            out.append(Stream(p.uri, int(_number(info.bandwidth, "bandwidth")),
                              int(_number(info.average_bandwidth, "average bandwidth"))
                              if info.average_bandwidth is not None else None,
                              info.codecs))
    except PlaylistError:
        raise
    except Exception as exc:  # noqa: BLE001 - as in read_media_playlist
        raise PlaylistError(f"Not a readable HLS playlist: {type(exc).__name__}: {str(exc)[:200]}") from None
    return out


def write_master_playlist(streams: Iterable[Stream], *, version: int = 7, independent: bool = True) -> str:
    """A master playlist's text, the streams in the order given."""
    pl = m3u8.M3U8()
    pl.version = version
    pl.is_independent_segments = independent
    for s in streams:
        info = {"bandwidth": int(s.bandwidth)}
        if s.average_bandwidth is not None:
            info["average_bandwidth"] = int(s.average_bandwidth)
        if s.codecs:
            info["codecs"] = s.codecs
        pl.add_playlist(Playlist(s.uri, stream_info=info, media=[], base_uri=None))
    return pl.dumps()


def parse_master_playlist(text: str) -> list[dict]:
    """[{"attributes": {"BANDWIDTH": ..., ...}, "uri": ...}] for each stream of a master playlist
    (the shape the embed reads; new code should use :func:`read_master_playlist`)."""
    return [{"attributes": s.attributes(), "uri": s.uri} for s in read_master_playlist(text)]


# --- the ladder -------------------------------------------------------------------------------

@dataclasses.dataclass
class Variant:
    """One segmented rung of the ladder, as files on this machine."""

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


def segment_args(rung_path: str | Path, out_dir: Path, kbps: int, segment_seconds: int = 4) -> list[str]:
    """ffmpeg arguments cutting an AAC rung (M4A) into fMP4 segments by stream copy."""
    stem = variant_stem(kbps)
    return ["-threads", "1", *input_args(rung_path, "mov"), "-map", "0:a:0", "-c", "copy",
            "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
            "-hls_list_size", "0", "-hls_flags", "independent_segments",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", f"{stem}_init.mp4",
            "-hls_segment_filename", str(out_dir / f"{stem}_%05d.m4s"), str(out_dir / f"{stem}.m3u8")]


def variant_of(out_dir: Path, kbps: int) -> Variant:
    """The segmented rung ``kbps`` in ``out_dir``, read from its playlist, with its bandwidth."""
    playlist = out_dir / f"{variant_stem(kbps)}.m3u8"
    media = load_media_playlist(playlist)
    variant = Variant(kbps * 1000, playlist, [out_dir / u for u in media.uris], media.durations,
                      init=out_dir / media.init if media.init else None)
    measure_bandwidth(variant)
    return variant


def segment(rung_path: str | Path, out_dir: str | Path, kbps: int, segment_seconds: int = 4) -> Variant:
    """Cut an AAC rung into ``segment_seconds`` fMP4 segments (+ an init segment) by stream copy."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ffmpeg(segment_args(rung_path, out_dir, kbps, segment_seconds))
    return variant_of(out_dir, kbps)


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


def master_playlist(variants: Sequence[Variant], uri_of=lambda v: v.playlist.name) -> str:
    """The ladder's master playlist, variants from lowest to highest bit rate."""
    version = 7 if any(v.init for v in variants) else 3  # EXT-X-MAP in media playlists needs 6+ (7 by ffmpeg)
    streams = [Stream(uri_of(v), v.bandwidth, v.average_bandwidth, v.codecs)
               for v in sorted(variants, key=lambda v: v.bitrate)]
    return write_master_playlist(streams, version=version)
