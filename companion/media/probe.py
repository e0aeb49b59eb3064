"""What an uploaded file really is: format, codec, rate, depth, duration, soundness.

Modelled on mutagen's habit of asking each format to recognise a file: the first
bytes say what the content claims to be (:func:`sniff`), ffprobe says what it
decodes as (:func:`probe`), and per-format checks catch files cut short
(:func:`check_pcm_header` for WAV/AIFF chunk sizes, :func:`check_decodes` for
compressed formats, whose declared duration is compared with what decodes).

Errors are the companion's typed errors, each with a short ``code`` an editor's
UI can show and a ``details`` dict:

* ``UnsupportedMedia("not_audio")``: text, images, video without audio, ...
* ``UnsupportedMedia("unsupported_format")``: audio in a container we do not take.
* ``UnsupportedMedia("extension_mismatch")``: named ``.mp3`` but holds WAVE audio.
* ``Unprocessable("empty")``: zero bytes or zero duration.
* ``Unprocessable("truncated")``: cut short or corrupt.
"""
from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

from companion.errors import Unprocessable, UnsupportedMedia
from companion.media.ffmpeg import MediaToolError, ffmpeg, ffprobe_json

#: Our format names, the words an editor sees, the extensions that name them.
FORMATS: dict[str, dict[str, Any]] = {
    "wav": {"label": "WAVE", "extensions": (".wav", ".wave"), "codecs": None},
    "aiff": {"label": "AIFF", "extensions": (".aif", ".aiff", ".aifc"), "codecs": None},
    "flac": {"label": "FLAC", "extensions": (".flac",), "codecs": ("flac",)},
    "mp3": {"label": "MP3", "extensions": (".mp3",), "codecs": ("mp3",)},
    "ogg": {"label": "Ogg", "extensions": (".ogg", ".oga", ".opus"), "codecs": ("vorbis", "opus")},
    "mp4": {"label": "MPEG-4 (M4A)", "extensions": (".m4a", ".mp4", ".m4b"), "codecs": ("aac", "alac")},
}

_EXT_TO_FORMAT = {ext: name for name, f in FORMATS.items() for ext in f["extensions"]}
_OTHER_EXTENSIONS = {  # known non-audio or unsupported names, for clearer messages
    ".txt": "text", ".pdf": "PDF", ".png": "PNG image", ".jpg": "JPEG image", ".jpeg": "JPEG image",
    ".gif": "GIF image", ".mov": "QuickTime video", ".mkv": "Matroska", ".webm": "WebM",
    ".wma": "Windows Media Audio", ".mid": "MIDI", ".midi": "MIDI", ".zip": "ZIP archive",
}

#: Tolerance when comparing a declared duration with what decodes.
DURATION_TOLERANCE_S = 0.25
DURATION_TOLERANCE_RATIO = 0.01


@dataclasses.dataclass
class ProbeResult:
    """What ffprobe (and our own checks) found in an audio file."""

    format_name: str  # one of FORMATS: wav, aiff, flac, mp3, ogg, mp4
    codec: str  # ffmpeg codec name: pcm_s16le, flac, mp3, vorbis, opus, aac, alac, ...
    sample_rate: int
    channels: int
    bit_depth: int | None  # None for lossy codecs
    sample_fmt: str  # ffmpeg sample format: s16, s32, fltp, ...
    duration: float  # seconds
    bit_rate: int | None  # bits per second (average), when known
    size: int  # bytes
    lossless: bool = True
    float_samples: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sniff(head: bytes) -> str | None:
    """The format the first bytes claim (one of FORMATS) or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3":
        # ID3v2 in front of FLAC happens too; look past the tag.
        if len(head) >= 10:
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            rest = head[10 + size:]
            if rest[:4] == b"fLaC":
                return "flac"
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"
    return None


def _format_of(ffprobe_format: str, codec: str) -> str | None:
    names = set(ffprobe_format.split(","))
    if "wav" in names:
        return "wav"
    if "aiff" in names:
        return "aiff"
    if "flac" in names:
        return "flac"
    if "mp3" in names:
        return "mp3"
    if "ogg" in names:
        return "ogg"
    if "mp4" in names or "mov" in names or "m4a" in names:
        return "mp4"
    return None


def _label(fmt: str | None) -> str:
    return FORMATS[fmt]["label"] if fmt in FORMATS else (fmt or "unknown")


def probe(path: str | Path, filename: str | None = None, *, decode_check: bool = True) -> ProbeResult:
    """Describe the audio file at ``path`` or raise a typed error saying what is wrong.

    Args:
        path: the file on disk.
        filename: the name the user gave it (for the extension check); defaults to the path's name.
        decode_check: for compressed formats, decode the whole file once to find truncation
            (the release pipeline turns this off and checks while decoding its master instead,
            so the source is decoded only once).
    """
    path = Path(path)
    name = filename or path.name
    ext = Path(name).suffix.lower()
    size = path.stat().st_size
    if size == 0:
        raise Unprocessable(f"{name} is empty (0 bytes).", code="empty", details={"filename": name, "size": 0})
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    claimed = sniff(head)

    try:
        info = ffprobe_json(path)
    except MediaToolError as exc:
        details = {"filename": name, "size": size, "tool_message": exc.stderr[-300:]}
        if claimed:
            details["format"] = claimed
            raise Unprocessable(
                f"{name} starts like {_label(claimed)} audio but cannot be read: it looks cut short or corrupt.",
                code="truncated", details=details) from exc
        raise UnsupportedMedia(f"{name} is not an audio file we can read.", code="not_audio",
                               details=details) from exc

    streams = info.get("streams") or []
    fmt_info = info.get("format") or {}
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    video = [s for s in streams if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    details: dict[str, Any] = {"filename": name, "size": size,
                               "container": fmt_info.get("format_name")}
    if not audio:
        what = "a video without sound" if video else (
            "an image" if any(s.get("codec_type") == "video" for s in streams) else "not audio")
        if claimed and not streams:
            raise Unprocessable(f"{name} starts like {_label(claimed)} audio but holds no audio data.",
                                code="empty", details=details)
        raise UnsupportedMedia(f"{name} is {what}: upload a recording (WAV, AIFF, FLAC, MP3, Ogg, M4A).",
                               code="not_audio", details=details)
    if video:
        raise UnsupportedMedia(f"{name} holds video as well as sound: upload the audio alone.",
                               code="not_audio", details={**details, "video_codec": video[0].get("codec_name")})
    stream = audio[0]
    codec = stream.get("codec_name") or "unknown"
    fmt = _format_of(fmt_info.get("format_name", ""), codec)
    details.update(codec=codec)
    if fmt is None:
        raise UnsupportedMedia(
            f"{name} is {fmt_info.get('format_long_name') or fmt_info.get('format_name')} audio, which we do not take: "
            "upload WAV, AIFF, FLAC, MP3, Ogg Vorbis/Opus or M4A (AAC/ALAC).",
            code="unsupported_format", details=details)
    allowed = FORMATS[fmt]["codecs"]
    if (allowed and codec not in allowed) or (allowed is None and not codec.startswith("pcm_")):
        raise UnsupportedMedia(f"{name} is {_label(fmt)} holding {codec} audio, which we do not take.",
                               code="unsupported_format", details={**details, "format": fmt})

    named = _EXT_TO_FORMAT.get(ext)
    if named is not None and named != fmt:
        raise UnsupportedMedia(
            f"This file is named {ext} but contains {_label(fmt)} audio. "
            f"Rename it to {FORMATS[fmt]['extensions'][0]} or export it again as {_label(named)}.",
            code="extension_mismatch",
            details={**details, "extension": ext, "extension_format": named, "content_format": fmt})

    sample_rate = int(stream.get("sample_rate") or 0)
    channels = int(stream.get("channels") or 0)
    duration = _float(stream.get("duration")) or _float(fmt_info.get("duration")) or 0.0
    lossless = codec.startswith("pcm_") or codec in ("flac", "alac")
    sample_fmt = stream.get("sample_fmt") or ""
    float_samples = codec.startswith("pcm_f")
    if lossless:
        bit_depth = int(stream.get("bits_per_raw_sample") or 0) or int(stream.get("bits_per_sample") or 0) or None
    else:
        bit_depth = None
    bit_rate = _int(stream.get("bit_rate")) or _int(fmt_info.get("bit_rate"))
    result = ProbeResult(format_name=fmt, codec=codec, sample_rate=sample_rate, channels=channels,
                         bit_depth=bit_depth, sample_fmt=sample_fmt, duration=duration, bit_rate=bit_rate,
                         size=size, lossless=lossless, float_samples=float_samples)
    details.update(format=fmt, duration=duration)

    if fmt in ("wav", "aiff"):
        check_pcm_header(path, fmt, name)
    elif fmt == "ogg":
        check_ogg_pages(path, name)
    if duration <= 0 or sample_rate <= 0 or channels <= 0:
        if claimed is None:  # ffprobe guessed a format from the name, but nothing in the bytes is audio
            raise UnsupportedMedia(f"{name} is not audio: upload a recording (WAV, AIFF, FLAC, MP3, Ogg, M4A).",
                                   code="not_audio", details=details)
        raise Unprocessable(f"{name} holds no audio (its duration is zero).", code="empty", details=details)
    if decode_check and fmt not in ("wav", "aiff"):
        check_decodes(path, result, name)
    return result


def _float(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "N/A") else None
    except (TypeError, ValueError):
        return None


def _int(v: Any) -> int | None:
    f = _float(v)
    return int(f) if f else None


# --- per-format soundness checks -------------------------------------------------------------

def _truncated(name: str, fmt: str, why: str, **details: Any) -> Unprocessable:
    return Unprocessable(f"{name} is cut short or corrupt ({why}): export or upload it again.",
                         code="truncated", details={"filename": name, "format": fmt, "reason": why, **details})


def _chunks(fh, start: int, end: int, big_endian: bool):
    """Yield (id, declared_size, data_offset) of IFF/RIFF chunks between start and end."""
    fmt = ">I" if big_endian else "<I"
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            return
        cid = header[:4]
        (csize,) = struct.unpack(fmt, header[4:])
        yield cid, csize, pos + 8
        pos += 8 + csize + (csize & 1)


def check_pcm_header(path: str | Path, fmt: str, name: str | None = None) -> None:
    """Raise ``Unprocessable("truncated")`` when a WAV/AIFF's sound chunk claims more bytes than exist.

    A WAV ``data`` chunk (or AIFF ``SSND`` chunk) whose declared size runs past the end of
    the file means the upload or the export was cut short. Sizes of 0 or 0xFFFFFFFF (written
    by streaming tools that could not seek back) are taken as "unknown", not as truncation.
    """
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    big = fmt == "aiff"
    data_id = b"SSND" if big else b"data"
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] == b"RF64":
            return  # sizes live in a ds64 chunk; ffmpeg's own checks apply
        found = False
        for cid, csize, offset in _chunks(fh, 12, size, big):
            if cid == data_id:
                found = True
                if csize in (0, 0xFFFFFFFF):
                    return
                available = size - offset
                if csize > available:
                    raise _truncated(name, fmt, f"its audio data should be {csize} bytes but only {available} are there",
                                     declared_bytes=csize, available_bytes=available)
                return
        if not found:
            raise _truncated(name, fmt, "it has no audio data chunk")


def check_ogg_pages(path: str | Path, name: str | None = None) -> None:
    """Raise ``Unprocessable("truncated")`` when an Ogg file's last page is incomplete or the
    stream never reaches its end-of-stream page (ffmpeg decodes such files without complaint)."""
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    pos = 0
    last_flags = None
    with open(path, "rb") as fh:
        while pos < size:
            fh.seek(pos)
            header = fh.read(27)
            if len(header) < 27 or header[:4] != b"OggS":
                raise _truncated(name, "ogg", "an Ogg page is damaged or cut short", offset=pos)
            nsegs = header[26]
            table = fh.read(nsegs)
            if len(table) < nsegs:
                raise _truncated(name, "ogg", "its last Ogg page is cut short", offset=pos)
            end = pos + 27 + nsegs + sum(table)
            if end > size:
                raise _truncated(name, "ogg", "its last Ogg page is cut short", offset=pos)
            last_flags = header[5]
            pos = end
    if last_flags is None or not (last_flags & 0x04):
        raise _truncated(name, "ogg", "the stream stops before its end-of-stream page")


def decoded_duration(path: str | Path, *output: str) -> float:
    """Decode with ``-xerror`` (stop at the first decoding error) and return the seconds decoded.

    ``output`` defaults to the null muxer; pass other output args to keep the decoded audio.
    Raises MediaToolError when decoding fails.
    """
    out = list(output) or ["-f", "null", "-"]
    proc = ffmpeg(["-xerror", "-i", str(path), "-map", "0:a:0", *out, "-progress", "pipe:1", "-nostats"],
                  capture_stdout=True)
    seconds = 0.0
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("out_time_us="):
            try:
                seconds = max(seconds, int(line.split("=", 1)[1]) / 1e6)
            except ValueError:
                pass
    return seconds


def check_decodes(path: str | Path, info: ProbeResult, name: str | None = None, *output: str) -> float:
    """Decode the whole file; raise ``Unprocessable("truncated")`` on decoding errors or when
    less audio decodes than the file declares (a FLAC STREAMINFO or MP3 Xing frame count).

    Returns the decoded duration. ``output`` as in :func:`decoded_duration`.
    """
    path = Path(path)
    name = name or path.name
    try:
        got = decoded_duration(path, *output)
    except MediaToolError as exc:
        raise _truncated(name, info.format_name, "it stops decoding part way", tool_message=exc.stderr[-300:]) from exc
    want = info.duration
    if want - got > max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_RATIO * want):
        raise _truncated(name, info.format_name,
                         f"it declares {want:.1f} s of audio but only {got:.1f} s decode",
                         declared_seconds=round(want, 3), decoded_seconds=round(got, 3))
    return got
