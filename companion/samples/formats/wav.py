"""WAV (RIFF WAVE): PCM 16/24/32-bit or IEEE float 32/64, mono or stereo."""
from __future__ import annotations

import struct
from pathlib import Path

from . import riff
from .base import (Limits, SampleFormat, SampleInfo, check_length, check_shape, decode_all, ffprobe, refuse_format,
                   refuse_header)

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE
PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


class Wav(SampleFormat):
    name = "wav"
    extensions = (".wav", ".wave")

    @staticmethod
    def score(head: bytes) -> int:
        if head[:4] == b"RF64" and head[8:12] == b"WAVE":
            return 1  # recognised, refused in inspect
        return 2 if head[:4] == b"RIFF" and head[8:12] == b"WAVE" else 0

    def inspect(self, path: Path, name: str, limits: Limits) -> SampleInfo:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if fh.read(4) == b"RF64":
                raise refuse_format(name, "an RF64 WAV (a format for files over 4 GB)")
            _, end = riff.outer(fh, size, b"RIFF", (b"WAVE",), False, name, "wav")
            fmt_chunk = data = None
            for cid, csize, offset in riff.chunks(fh, 12, end, False, name, "wav"):
                if cid == b"fmt ":
                    if fmt_chunk is not None:
                        raise refuse_header(name, "wav", "two fmt chunks")
                    if csize < 16:
                        raise refuse_header(name, "wav", f"a fmt chunk of {csize} bytes (at least 16)")
                    fh.seek(offset)
                    fmt_chunk = fh.read(min(csize, 40))
                elif cid == b"data":
                    if fmt_chunk is None:
                        raise refuse_header(name, "wav", "audio data before its fmt chunk")
                    if data is not None:
                        raise refuse_header(name, "wav", "two data chunks")
                    data = csize
        if fmt_chunk is None or data is None:
            raise refuse_header(name, "wav", "no fmt chunk" if fmt_chunk is None else "no data chunk")
        tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", fmt_chunk[:16])
        if tag == EXTENSIBLE:
            if len(fmt_chunk) < 40:
                raise refuse_header(name, "wav", "an extensible fmt chunk that is cut short")
            sub = fmt_chunk[24:40]
            if sub[2:] != PCM_GUID_TAIL:
                raise refuse_format(name, "a WAV of an unknown sub-format")
            tag = struct.unpack("<H", sub[:2])[0]
        if tag == PCM and bits not in (16, 24, 32):
            raise refuse_format(name, f"{bits}-bit PCM WAV", bits=bits)
        if tag == FLOAT and bits not in (32, 64):
            raise refuse_format(name, f"{bits}-bit float WAV", bits=bits)
        if tag not in (PCM, FLOAT):
            raise refuse_format(name, f"a WAV holding codec {tag:#x} (not PCM or float)", codec_tag=tag)
        check_shape(name, "wav", rate, channels, limits)
        if align != channels * bits // 8 or byte_rate != rate * align:
            raise refuse_header(name, "wav", f"block align {align} / byte rate {byte_rate} do not fit {channels} ch "
                                             f"of {bits} bits at {rate} Hz")
        if data % align:
            raise refuse_header(name, "wav", f"a data chunk of {data} bytes is not whole frames of {align} bytes")
        frames = data // align
        check_length(name, frames, rate, limits)
        probe = ffprobe(path, name)
        codec = probe["stream"].get("codec_name", "")
        if not codec.startswith("pcm_") or int(probe["stream"].get("channels") or 0) != channels:
            raise refuse_header(name, "wav", f"ffprobe reads {codec} with {probe['stream'].get('channels')} ch")
        decoded, subtype = decode_all(path, name, "wav", limits, rate, channels, frames)
        return SampleInfo("wav", "sample", rate, channels, decoded, bits, subtype, size,
                          {"codec": codec})
