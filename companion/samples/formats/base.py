"""What every sample format shares: what an inspection finds, the limits, the typed refusals.

A format module (the mutagen way: one per format behind :class:`SampleFormat`) says how much the
first bytes look like its format (:meth:`SampleFormat.score`) and inspects a whole file
(:meth:`SampleFormat.inspect`): its own bounds-checked header parser first (so a header's claims
are checked against the file before anything is decoded), then the real decoders (ffprobe with
``-protocol_whitelist file``, soundfile or FluidSynth) over the whole content, never trusting
the header's numbers.
"""
from __future__ import annotations

import abc
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from companion.errors import PayloadTooLarge, Unprocessable, UnsupportedMedia

#: frames decoded per block when a whole file is checked (bounded memory whatever the file says)
BLOCK_FRAMES = 1 << 16


@dataclasses.dataclass(frozen=True)
class Limits:
    """What the library takes: the largest file, the longest decoded audio, the allowed shapes."""

    max_bytes: int = 512 << 20
    max_seconds: float = 900.0
    max_channels: int = 2
    min_rate: int = 8000
    max_rate: int = 192000

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(max_bytes=config.sample_max_bytes, max_seconds=float(config.sample_max_seconds))


@dataclasses.dataclass
class SampleInfo:
    """What a sample file really is (after every check)."""

    format: str  # wav | aiff | flac | sf2
    kind: str  # sample | soundfont
    sample_rate: int
    channels: int
    frames: int  # for a SoundFont: 16-bit sample points in its smpl chunk
    bit_depth: int | None
    subtype: str  # soundfile's subtype (PCM_16, PCM_24, FLOAT...) or SF2 / SF2+24
    size: int
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "duration": round(self.duration, 6)}


# --------------------------------------------------------------------------- refusals

def refuse_not_audio(name: str, why: str = "") -> UnsupportedMedia:
    return UnsupportedMedia(f"{name} is not a sample the library takes{': ' + why if why else ''}. "
                            "Add WAV, AIFF or FLAC audio, or an SF2 SoundFont.", code="not_audio",
                            details={"filename": name})


def refuse_format(name: str, what: str, **details: Any) -> UnsupportedMedia:
    return UnsupportedMedia(f"{name} is {what}, which the sample library does not take: add WAV, AIFF or FLAC "
                            "(PCM 16/24/32-bit or float) or an SF2 SoundFont.", code="unsupported_format",
                            details={"filename": name, **details})


def refuse_header(name: str, fmt: str, why: str, **details: Any) -> Unprocessable:
    return Unprocessable(f"{name}: its {fmt.upper()} header does not hold together ({why}); nothing was stored.",
                         code="bad_header", details={"filename": name, "format": fmt, "reason": why, **details})


def refuse_truncated(name: str, fmt: str, why: str, **details: Any) -> Unprocessable:
    return Unprocessable(f"{name} is cut short or corrupt ({why}): export it again.", code="truncated",
                         details={"filename": name, "format": fmt, "reason": why, **details})


def refuse_too_long(name: str, seconds: float, limit: float) -> Unprocessable:
    return Unprocessable(f"{name} holds {seconds:.0f} s of audio or more; the sample library takes at most "
                         f"{limit:.0f} s per file.", code="too_long",
                         details={"filename": name, "seconds": round(seconds, 3), "limit_seconds": limit})


def refuse_too_large(name: str, size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"{name} is {size / 1048576:.1f} MB; the sample library takes at most "
                           f"{limit // 1048576} MB per file.", code="payload_too_large",
                           details={"filename": name, "size": size, "limit_bytes": limit})


def check_shape(name: str, fmt: str, rate: int, channels: int, limits: Limits) -> None:
    if not (limits.min_rate <= rate <= limits.max_rate):
        raise refuse_header(name, fmt, f"a sample rate of {rate} Hz (the library takes "
                                       f"{limits.min_rate}..{limits.max_rate})", sample_rate=rate)
    if not (1 <= channels <= limits.max_channels):
        raise refuse_header(name, fmt, f"{channels} channels (the library takes 1..{limits.max_channels})",
                            channels=channels)


def check_length(name: str, frames: int, rate: int, limits: Limits) -> None:
    if rate and frames / rate > limits.max_seconds:
        raise refuse_too_long(name, frames / rate, limits.max_seconds)


# --------------------------------------------------------------------------- real decoders

def limited() -> None:
    """preexec_fn for a decoder run on a hostile file: bounded CPU time and memory, no core file."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (60, 61))
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def ffprobe(path: Path, name: str) -> dict[str, Any]:
    """ffprobe's view of the file's first audio stream (reading local files only)."""
    argv = ["ffprobe", "-v", "error", "-hide_banner", "-protocol_whitelist", "file", "-print_format", "json",
            "-show_format", "-show_streams", "file:" + str(path)]
    try:
        proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, preexec_fn=limited)
    except subprocess.TimeoutExpired:
        raise refuse_not_audio(name, "ffprobe could not read it in time") from None
    if proc.returncode != 0:
        raise Unprocessable(f"{name} cannot be read: it looks cut short or corrupt.", code="truncated",
                            details={"filename": name, "tool_message": proc.stderr.decode(errors="replace")[-300:]})
    info = json.loads(proc.stdout or b"{}")
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio or any(s.get("codec_type") == "video" for s in info.get("streams", [])):
        raise refuse_not_audio(name, "ffprobe finds no sound in it, or finds pictures")
    return {"format": info.get("format", {}), "stream": audio[0]}


def decode_all(path: Path, name: str, fmt: str, limits: Limits, expect_rate: int, expect_channels: int,
               expect_frames: int | None) -> tuple[int, str]:
    """Decode every frame with soundfile (libsndfile), in blocks; refuse what the header misstated.

    Returns (frames decoded, soundfile subtype). Stops as soon as more than the library's
    longest audio has decoded (a decompression bomb costs at most that much work)."""
    import soundfile as sf

    cap = int(limits.max_seconds * expect_rate) + 1
    frames = 0
    try:
        with sf.SoundFile(str(path)) as f:
            if f.samplerate != expect_rate or f.channels != expect_channels:
                raise refuse_header(name, fmt, f"the decoder reads {f.channels} ch at {f.samplerate} Hz, the header "
                                               f"says {expect_channels} ch at {expect_rate} Hz")
            subtype = f.subtype
            for block in f.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                frames += len(block)
                if frames > cap:
                    raise refuse_too_long(name, frames / expect_rate, limits.max_seconds)
                if not np.isfinite(block).all():
                    raise refuse_header(name, fmt, "its samples hold NaN or infinite values")
    except sf.LibsndfileError as exc:
        raise refuse_truncated(name, fmt, f"it stops decoding part way ({exc})") from None
    except RuntimeError as exc:  # soundfile raises RuntimeError for some read errors
        if isinstance(exc, (Unprocessable, UnsupportedMedia)):
            raise
        raise refuse_truncated(name, fmt, f"it stops decoding part way ({exc})") from None
    if frames == 0:
        raise Unprocessable(f"{name} holds no audio.", code="empty", details={"filename": name})
    if expect_frames is not None and frames != expect_frames:
        raise refuse_header(name, fmt, f"it declares {expect_frames} frames but {frames} decode",
                            declared_frames=expect_frames, decoded_frames=frames)
    return frames, subtype


class SampleFormat(abc.ABC):
    """One file format the library takes."""

    name = "abstract"
    kind = "sample"
    extensions: tuple[str, ...] = ()

    @staticmethod
    @abc.abstractmethod
    def score(head: bytes) -> int:
        """How surely the first bytes are this format (0: not at all)."""

    @abc.abstractmethod
    def inspect(self, path: Path, name: str, limits: Limits) -> SampleInfo:
        """Check the whole file; its description, or a typed 4xx error saying what is wrong."""
