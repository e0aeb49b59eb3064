"""What an uploaded file really is: format, codec, rate, depth, duration, soundness.

Modelled on mutagen's habit of asking each format to recognise a file, in this order:

1. The first bytes. A playlist or list that points at other files or URLs (HLS/M3U, PLS,
   ffconcat and concat lists, SDP, XML playlists, a text of URLs) is refused at once
   (:func:`references`), and so is anything whose bytes do not start like one of the formats
   we take (:func:`sniff`): ffmpeg never sees such a file.
2. ffprobe, with the demuxer pinned to the sniffed format and only the ``file`` protocol
   allowed (:func:`companion.media.ffmpeg.input_args`): what the file decodes as.
3. Per-format checks for files cut short: libsndfile's reading of WAV/AIFF headers
   (:func:`check_pcm_header`), Ogg pages (:func:`check_ogg_pages`) and, for compressed formats, a
   full decode compared with the declared duration (:func:`check_decodes`).

Errors are the companion's typed errors, each with a short ``code`` an editor's
UI can show and a ``details`` dict (which never holds a path on this machine):

* ``UnsupportedMedia("reference_file")``: a playlist or list of other files or URLs.
* ``UnsupportedMedia("not_audio")``: text, images, video without audio, ...
* ``UnsupportedMedia("unsupported_format")``: audio in a container we do not take.
* ``UnsupportedMedia("extension_mismatch")``: named ``.mp3`` but holds WAVE audio.
* ``Unprocessable("empty")``: zero bytes or zero duration.
* ``Unprocessable("truncated")``: cut short or corrupt.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import soundfile

from companion.errors import Unprocessable, UnsupportedMedia
from companion.media.ffmpeg import MediaToolError, ffmpeg, ffprobe_json, input_args

#: Our format names, the words an editor sees, the extensions that name them, the ffmpeg demuxer.
FORMATS: dict[str, dict[str, Any]] = {
    "wav": {"label": "WAVE", "extensions": (".wav", ".wave"), "codecs": None, "demuxer": "wav"},
    "aiff": {"label": "AIFF", "extensions": (".aif", ".aiff", ".aifc"), "codecs": None, "demuxer": "aiff"},
    "flac": {"label": "FLAC", "extensions": (".flac",), "codecs": ("flac",), "demuxer": "flac"},
    "mp3": {"label": "MP3", "extensions": (".mp3",), "codecs": ("mp3",), "demuxer": "mp3"},
    "ogg": {"label": "Ogg", "extensions": (".ogg", ".oga", ".opus"), "codecs": ("vorbis", "opus"), "demuxer": "ogg"},
    "mp4": {"label": "MPEG-4 (M4A)", "extensions": (".m4a", ".mp4", ".m4b"), "codecs": ("aac", "alac"),
            "demuxer": "mov"},
}

_EXT_TO_FORMAT = {ext: name for name, f in FORMATS.items() for ext in f["extensions"]}

#: Extensions of files that point at other files or URLs.
REFERENCE_EXTENSIONS = {
    ".m3u": "an M3U playlist", ".m3u8": "an HLS playlist", ".pls": "a PLS playlist", ".sdp": "an SDP description",
    ".ffconcat": "an ffconcat list", ".concat": "a concat list", ".cue": "a cue sheet", ".xspf": "an XSPF playlist",
    ".asx": "an ASX playlist", ".wpl": "a Windows Media playlist", ".smil": "a SMIL presentation",
    ".url": "an Internet shortcut", ".strm": "a stream link",
}

#: Content that points at other files or URLs, by its first bytes (after a BOM and blank space).
_REFERENCE_CONTENT: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"#EXTM3U"), "an HLS/M3U playlist"),
    (re.compile(rb"ffconcat\s+version", re.I), "an ffconcat list"),
    (re.compile(rb"(?:#[^\n]*\n\s*)*file\s+\S"), "a concat list"),
    (re.compile(rb"v=0\s*[\r\n]"), "an SDP session description"),
    (re.compile(rb"\[playlist\]", re.I), "a PLS playlist"),
    (re.compile(rb"<\?xml|<asx|<smil|<playlist", re.I), "an XML playlist"),
    (re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]{1,20}:(?://|[^\s]*[,/])"), "a list of URLs or file references"),
    (re.compile(rb"(?:/|\.\.?/|[A-Za-z]:\\)[^\x00-\x08\x0e-\x1f\r\n]*(?:\r?\n|$)"), "a list of file paths"),
)

#: Things that are not what we take, by their first bytes: (magic, offset, what it is, audio?).
_OTHER_MAGIC: tuple[tuple[bytes, int, str, bool], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image", False),
    (b"\xff\xd8\xff", 0, "a JPEG image", False),
    (b"GIF8", 0, "a GIF image", False),
    (b"%PDF", 0, "a PDF document", False),
    (b"PK\x03\x04", 0, "a ZIP archive", False),
    (b"MThd", 0, "a MIDI file (notes, not a recording)", False),
    (b"\x1a\x45\xdf\xa3", 0, "Matroska/WebM", True),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", 0, "Windows Media (ASF/WMA)", True),
    (b"RIFX", 0, "big-endian WAVE (RIFX)", True),  # ffmpeg 5.1 decodes it as little-endian noise
    (b"caff", 0, "Core Audio (CAF)", True),
    (b"riff\x2e\x91\xcf\x11", 0, "Sony Wave64", True),
    (b".snd", 0, "Sun/NeXT AU", True),
    (b"MAC ", 0, "Monkey's Audio (APE)", True),
    (b"wvpk", 0, "WavPack", True),
    (b"#!AMR", 0, "AMR", True),
    (b"\x0b\x77", 0, "AC-3", True),
)

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

    @property
    def demuxer(self) -> str:
        """The ffmpeg demuxer this file is read with."""
        return demuxer_of(self.format_name)


def demuxer_of(fmt: str) -> str:
    """The ffmpeg demuxer of one of :data:`FORMATS`."""
    return FORMATS[fmt]["demuxer"]


# --- the first bytes --------------------------------------------------------------------------

def _id3_size(head: bytes) -> int | None:
    """Bytes an ID3v2 tag at the start takes (header, body, footer), or None when there is none."""
    if len(head) < 10 or head[:3] != b"ID3":
        return None
    body = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + body + (10 if head[5] & 0x10 else 0)


def sniff(head: bytes, after_id3: bytes | None = None) -> str | None:
    """The format the first bytes claim (one of FORMATS) or None (``after_id3``: the bytes after
    a leading ID3v2 tag, when the tag is longer than ``head``; see :func:`read_head`)."""
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
    tag = _id3_size(head)
    if tag is not None:  # ID3v2 in front of FLAC happens too; look past the tag
        rest = after_id3 if after_id3 is not None else head[tag:]
        return "flac" if rest[:4] == b"fLaC" else "mp3"
    if head[:3] == b"ID3":  # a tag header cut short
        return "mp3"
    body = head.lstrip(b"\x00")  # some encoders pad before the first frame
    if len(body) >= 2 and body[0] == 0xFF and (body[1] & 0xE0) == 0xE0 and (body[1] & 0x06) != 0:
        return "mp3"
    return None


def read_head(path: Path, size: int = 1 << 16) -> tuple[bytes, bytes | None]:
    """The first ``size`` bytes of a file and, when it starts with an ID3v2 tag, the 4 bytes that
    follow the tag (however big its cover), so :func:`sniff` sees what the tag precedes."""
    with open(path, "rb") as fh:
        head = fh.read(size)
        tag = _id3_size(head)
        if tag is None:
            return head, None
        fh.seek(tag)
        return head, fh.read(4)


def references(head: bytes, filename: str) -> str | None:
    """What kind of reference-following file this is (a playlist, a list of files or URLs), or None.

    Such files make ffmpeg open other files or URLs; they are refused before any tool reads them.
    """
    if sniff(head) is not None:
        return None
    ext = Path(filename).suffix.lower()
    if ext in REFERENCE_EXTENSIONS:
        return REFERENCE_EXTENSIONS[ext]
    text = head[:4096]
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if text.startswith(bom):
            text = text[len(bom):].replace(b"\x00", b"")
            break
    text = text.lstrip()
    for pattern, what in _REFERENCE_CONTENT:
        if pattern.match(text):
            return what
    return None


def identify_other(head: bytes) -> tuple[str, bool] | None:
    """(what it is, whether it is audio) for files we recognise but do not take."""
    for magic, offset, what, audio in _OTHER_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return what, audio
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "raw AAC (ADTS)", True
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


def _tool_message(exc: MediaToolError, path: Path, name: str) -> str:
    """The tool's last words, naming the file as the user named it (never a path here)."""
    return exc.stderr[-300:].replace(path.name, name)


def refuse_unsafe(path: Path, name: str, head: bytes, size: int, after_id3: bytes | None = None) -> str:
    """Raise for anything ffmpeg must not open; return the format the bytes claim.

    Playlists and lists of other files or URLs get ``reference_file``; bytes that start like
    no format we take get ``not_audio`` or ``unsupported_format``. No tool has read the file."""
    details: dict[str, Any] = {"filename": name, "size": size}
    what = references(head, name)
    if what is not None:
        raise UnsupportedMedia(
            f"{name} is {what}: a list that points at other files or URLs, not a recording. "
            "Upload the audio file itself (WAV, AIFF, FLAC, MP3, Ogg, M4A).",
            code="reference_file", details={**details, "kind": what})
    claimed = sniff(head, after_id3)
    if claimed is not None:
        return claimed
    other = identify_other(head)
    if other is not None and other[1]:
        raise UnsupportedMedia(
            f"{name} is {other[0]} audio, which we do not take: "
            "upload WAV, AIFF, FLAC, MP3, Ogg Vorbis/Opus or M4A (AAC/ALAC).",
            code="unsupported_format", details={**details, "container": other[0]})
    what = other[0] if other else "not an audio file we can read"
    raise UnsupportedMedia(f"{name} is {what}: upload a recording (WAV, AIFF, FLAC, MP3, Ogg, M4A).",
                           code="not_audio", details=details)


# --- probing ----------------------------------------------------------------------------------

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
    head, after_id3 = read_head(path)
    claimed = refuse_unsafe(path, name, head, size, after_id3)

    try:
        info = ffprobe_json(path, demuxer_of(claimed))
    except MediaToolError as exc:
        raise Unprocessable(
            f"{name} starts like {_label(claimed)} audio but cannot be read: it looks cut short or corrupt.",
            code="truncated", details={"filename": name, "size": size, "format": claimed,
                                       "tool_message": _tool_message(exc, path, name)}) from exc

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
        if not streams:
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
    if fmt is None:  # pragma: no cover - the demuxer is pinned to one of FORMATS
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


#: libsndfile's note on a sound chunk whose declared size is not what the file holds.
_SHOULD_BE = re.compile(r"^\s*(data|SSND)\s*:\s*(0x[0-9A-Fa-f]+|\d+)\s*\(should be (\d+)\)", re.M)
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # written by streaming tools that could not seek back


def check_pcm_header(path: str | Path, fmt: str, name: str | None = None) -> None:
    """Raise ``Unprocessable("truncated")`` when a WAV/AIFF's sound chunk claims more bytes than exist.

    The header is read by libsndfile (soundfile): a WAV ``data`` chunk (or AIFF ``SSND``
    chunk) whose declared size runs past the end of the file means the upload or the export
    was cut short. Sizes of 0 or 0xFFFFFFFF (streaming tools) are taken as "unknown".
    """
    path = Path(path)
    name = name or path.name
    try:
        info = soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError) as exc:
        why = "it has no audio data chunk" if "data" in str(exc).lower() else "its header cannot be read"
        raise _truncated(name, fmt, why) from None
    match = _SHOULD_BE.search(info.extra_info or "")
    if match is None:
        return
    declared, available = int(match[2], 0), int(match[3])
    if declared in _UNKNOWN_SIZES or declared <= available:
        return
    raise _truncated(name, fmt, f"its audio data should be {declared} bytes but only {available} are there",
                     declared_bytes=declared, available_bytes=available)


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


def decoded_duration(path: str | Path, demuxer: str | None, *output: str) -> float:
    """Decode with ``-xerror`` (stop at the first decoding error) and return the seconds decoded.

    ``output`` defaults to the null muxer; pass other output args to keep the decoded audio.
    Raises MediaToolError when decoding fails.
    """
    out = list(output) or ["-f", "null", "-"]
    proc = ffmpeg(["-xerror", *input_args(path, demuxer), "-map", "0:a:0", *out, "-progress", "pipe:1", "-nostats"],
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
        got = decoded_duration(path, info.demuxer, *output)
    except MediaToolError as exc:
        raise _truncated(name, info.format_name, "it stops decoding part way",
                         tool_message=_tool_message(exc, path, name)) from exc
    want = info.duration
    if want - got > max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_RATIO * want):
        raise _truncated(name, info.format_name,
                         f"it declares {want:.1f} s of audio but only {got:.1f} s decode",
                         declared_seconds=round(want, 3), decoded_seconds=round(got, 3))
    return got
