"""The declared renditions of a release: data, one entry per file fans or the player get.

Each :class:`RenditionSpec` names its kind (``master``, ``download``, ``preview``, ``stream``),
container, codec, MIME type and the ffmpeg output arguments that make it. Arguments that
depend on the source (PCM sample format, lossy sample rate) are filled in by
:func:`output_args` from the :class:`MasterFormat` chosen for the source:

* bit depth: integer PCM sources keep theirs (16, 24 or 32-bit; 8-bit becomes 16); float
  sources keep 32-bit float in WAV and AIFF(-C) and become 24-bit in FLAC and ALAC, which have
  no float mode; lossy sources (MP3, Vorbis, Opus, AAC) become **24-bit** masters: the
  decoder's output has more than 16 bits of resolution and 24 bits keeps it without dither and
  at three quarters the size of float. FLAC and ALAC top out at 24 bits in this ffmpeg, so a
  32-bit integer source gets 24-bit FLAC/ALAC.
* channels: more than two channels are folded down to stereo (``-ac 2``) for every rendition.
* sample rate: lossless renditions keep the source's; lossy renditions above 48 kHz are
  resampled to 48 kHz (or 44.1 kHz for 88.2/176.4 kHz sources); Opus is always 48 kHz.

Downloads keep the master's level (no normalisation) and carry ReplayGain tags; the stream
ladder and preview are normalised (see :mod:`companion.media.pipeline`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from companion.media.probe import ProbeResult

#: Bump when an encoder setting changes in a way that should re-encode cached files.
SPEC_VERSION = "1"


@dataclasses.dataclass(frozen=True)
class RenditionSpec:
    """One rendition, as data.

    Attributes:
        name: stable slug (``mp3-320``) used in keys, manifests and the catalog.
        kind: ``master``, ``download``, ``preview`` or ``stream`` (an HLS rung).
        tag_format: tag family: ``id3`` (MP3), ``wav``, ``aiff``, ``flac``, ``ogg``, ``mp4``.
        extension: file extension without the dot.
        container: ffmpeg muxer / container name.
        codec: codec as fans know it (``pcm``, ``flac``, ``alac``, ``mp3``, ``aac``, ``vorbis``, ``opus``).
        mime: MIME type served.
        args: ffmpeg output options; ``{pcm_le}``, ``{pcm_be}``, ``{flac_fmt}``, ``{alac_fmt}``
            are replaced per source by :func:`output_args`.
        bitrate: nominal bits per second for constant-bitrate lossy renditions, else None.
        lossless: True for PCM/FLAC/ALAC.
        cost: relative encoding time per second of audio (for longest-first scheduling).
        reuse: name of another rendition whose very file this one is (the FLAC download is the
            FLAC master); no encode of its own.
        label: what a fan reads on the download button.
    """

    name: str
    kind: str
    tag_format: str
    extension: str
    container: str
    codec: str
    mime: str
    args: tuple[str, ...] = ()
    bitrate: int | None = None
    lossless: bool = False
    cost: float = 1.0
    reuse: str | None = None
    label: str = ""

    def fingerprint(self) -> str:
        """Hash of everything that changes the encoded bytes."""
        data = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("label", "cost", "kind")}
        data["spec_version"] = SPEC_VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_LOSSY_RATE = ("{lossy_rate}",)

MASTERS: tuple[RenditionSpec, ...] = (
    RenditionSpec("master-wav", "master", "wav", "wav", "wav", "pcm", "audio/wav",
                  ("-c:a", "{pcm_le}", "-f", "wav"), lossless=True, cost=0.05, label="WAV master"),
    RenditionSpec("master-flac", "master", "flac", "flac", "flac", "flac", "audio/flac",
                  ("-c:a", "flac", "-sample_fmt", "{flac_fmt}", "-compression_level", "5", "-f", "flac"),
                  lossless=True, cost=0.16, label="FLAC master"),
)

#: Every format Bandcamp offers, plus Opus.
DOWNLOADS: tuple[RenditionSpec, ...] = (
    RenditionSpec("mp3-320", "download", "id3", "mp3", "mp3", "mp3", "audio/mpeg",
                  ("-c:a", "libmp3lame", "-b:a", "320k", *_LOSSY_RATE, "-id3v2_version", "0",
                   "-write_id3v1", "0", "-f", "mp3"), bitrate=320_000, cost=1.08, label="MP3 320"),
    RenditionSpec("mp3-v0", "download", "id3", "mp3", "mp3", "mp3", "audio/mpeg",
                  ("-c:a", "libmp3lame", "-q:a", "0", *_LOSSY_RATE, "-id3v2_version", "0",
                   "-write_id3v1", "0", "-f", "mp3"), cost=0.88, label="MP3 V0"),
    RenditionSpec("flac", "download", "flac", "flac", "flac", "flac", "audio/flac",
                  lossless=True, reuse="master-flac", label="FLAC"),
    RenditionSpec("aac-256", "download", "mp4", "m4a", "ipod", "aac", "audio/mp4",
                  ("-c:a", "aac", "-b:a", "256k", *_LOSSY_RATE, "-movflags", "+faststart", "-f", "ipod"),
                  bitrate=256_000, cost=1.82, label="AAC (M4A)"),
    RenditionSpec("vorbis-q6", "download", "ogg", "ogg", "ogg", "vorbis", "audio/ogg",
                  ("-c:a", "libvorbis", "-q:a", "6", *_LOSSY_RATE, "-f", "ogg"), cost=0.84,
                  label="Ogg Vorbis"),
    RenditionSpec("alac", "download", "mp4", "m4a", "ipod", "alac", "audio/mp4",
                  ("-c:a", "alac", "-sample_fmt", "{alac_fmt}", "-movflags", "+faststart", "-f", "ipod"),
                  lossless=True, cost=0.32, label="ALAC (M4A)"),
    RenditionSpec("wav", "download", "wav", "wav", "wav", "pcm", "audio/wav",
                  lossless=True, reuse="master-wav", label="WAV"),
    RenditionSpec("aiff", "download", "aiff", "aiff", "aiff", "pcm", "audio/aiff",
                  ("-c:a", "{pcm_be}", "-write_id3v2", "0", "-f", "aiff"), lossless=True, cost=0.06,
                  label="AIFF"),
    RenditionSpec("opus-160", "download", "ogg", "opus", "ogg", "opus", "audio/ogg",
                  ("-c:a", "libopus", "-b:a", "160k", "-vbr", "on", "-ar", "48000", "-f", "ogg"),
                  bitrate=160_000, cost=0.85, label="Ogg Opus"),
)


def stream_rung(kbps: int) -> RenditionSpec:
    """One AAC rung of the HLS ladder (encoded once to M4A, then segmented by stream copy)."""
    return RenditionSpec(
        f"hls-aac-{kbps:03d}", "stream", "mp4", "m4a", "mp4", "aac", "audio/mp4",
        ("-c:a", "aac", "-b:a", f"{kbps}k", *_LOSSY_RATE, "-f", "mp4"),
        bitrate=kbps * 1000, cost=0.85 + kbps / 170.0, label=f"AAC {kbps} kbps stream",
    )


PREVIEW = RenditionSpec("preview", "preview", "mp4", "m4a", "ipod", "aac", "audio/mp4",
                        ("-c", "copy", "-movflags", "+faststart", "-f", "ipod"), cost=0.02,
                        label="Preview clip")


@dataclasses.dataclass(frozen=True)
class MasterFormat:
    """The PCM shape every lossless rendition of one source takes."""

    bits: int  # 16, 24, 32
    float: bool
    sample_rate: int
    channels: int

    @property
    def wav_codec(self) -> str:
        return "pcm_f32le" if self.float else f"pcm_s{self.bits}le"


def master_format(info: ProbeResult) -> MasterFormat:
    """Choose the masters' sample format for a source (see the module docstring)."""
    channels = min(info.channels, 2)
    if not info.lossless:
        return MasterFormat(24, False, info.sample_rate, channels)
    if info.float_samples:
        return MasterFormat(32, True, info.sample_rate, channels)
    bits = info.bit_depth or 16
    bits = 16 if bits <= 16 else 24 if bits <= 24 else 32
    return MasterFormat(bits, False, info.sample_rate, channels)


def lossy_rate(sample_rate: int) -> int:
    if sample_rate <= 48000:
        return sample_rate
    return 48000 if sample_rate % 48000 == 0 else 44100


def output_args(spec: RenditionSpec, fmt: MasterFormat) -> list[str]:
    """The spec's ffmpeg output arguments with the source-dependent values filled in."""
    deep = fmt.float or fmt.bits > 16
    values = {
        "{pcm_le}": fmt.wav_codec,
        "{pcm_be}": "pcm_f32be" if fmt.float else f"pcm_s{fmt.bits}be",
        "{flac_fmt}": "s32" if deep else "s16",
        "{alac_fmt}": "s32p" if deep else "s16p",
    }
    out: list[str] = []
    for a in spec.args:
        if a == "{lossy_rate}":
            rate = lossy_rate(fmt.sample_rate)
            if rate != fmt.sample_rate:
                out += ["-ar", str(rate)]
            continue
        out.append(values.get(a, a))
    return out


def rendition_bit_depth(spec: RenditionSpec, fmt: MasterFormat) -> int | None:
    """Bit depth of a rendition made from a master of ``fmt`` (None for lossy)."""
    if not spec.lossless:
        return None
    if spec.codec in ("flac", "alac"):
        return 16 if (not fmt.float and fmt.bits <= 16) else 24
    return fmt.bits
