"""AIFF and AIFF-C (uncompressed: NONE, sowt, fl32, fl64): PCM 16/24/32-bit or float."""
from __future__ import annotations

import math
import struct
from pathlib import Path

from . import riff
from .base import (Limits, SampleFormat, SampleInfo, check_length, check_shape, decode_all, ffprobe, refuse_format,
                   refuse_header)

UNCOMPRESSED = {b"NONE": "pcm", b"sowt": "pcm", b"twos": "pcm", b"fl32": "float", b"FL32": "float",
                b"fl64": "float", b"FL64": "float"}


def extended(b: bytes) -> float:
    """An 80-bit IEEE 754 extended float (AIFF's sample rate), without trusting its exponent."""
    exp = ((b[0] & 0x7F) << 8) | b[1]
    mant = int.from_bytes(b[2:10], "big")
    if exp == 0 and mant == 0:
        return 0.0
    if exp == 0x7FFF or exp - 16383 > 64:
        return math.inf
    value = mant * 2.0 ** (exp - 16383 - 63)
    return -value if b[0] & 0x80 else value


class Aiff(SampleFormat):
    name = "aiff"
    extensions = (".aif", ".aiff", ".aifc")

    @staticmethod
    def score(head: bytes) -> int:
        return 2 if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC") else 0

    def inspect(self, path: Path, name: str, limits: Limits) -> SampleInfo:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            form, end = riff.outer(fh, size, b"FORM", (b"AIFF", b"AIFC"), True, name, "aiff")
            comm = ssnd = None
            for cid, csize, offset in riff.chunks(fh, 12, end, True, name, "aiff"):
                if cid == b"COMM":
                    if comm is not None:
                        raise refuse_header(name, "aiff", "two COMM chunks")
                    if csize < 18 or (form == b"AIFC" and csize < 22):
                        raise refuse_header(name, "aiff", f"a COMM chunk of {csize} bytes")
                    fh.seek(offset)
                    comm = fh.read(min(csize, 22))
                elif cid == b"SSND":
                    if ssnd is not None:
                        raise refuse_header(name, "aiff", "two SSND chunks")
                    if csize < 8:
                        raise refuse_header(name, "aiff", f"an SSND chunk of {csize} bytes")
                    fh.seek(offset)
                    data_offset, _block = struct.unpack(">II", fh.read(8))
                    ssnd = (csize, data_offset)
        if comm is None or ssnd is None:
            raise refuse_header(name, "aiff", "no COMM chunk" if comm is None else "no SSND chunk")
        channels, frames, bits = struct.unpack(">hIh", comm[:8])
        rate_f = extended(comm[8:18])
        kind = "pcm"
        if form == b"AIFC":
            comp = comm[18:22]
            if comp not in UNCOMPRESSED:
                raise refuse_format(name, f"a compressed AIFF-C ({comp.decode('latin-1')!r})")
            kind = UNCOMPRESSED[comp]
        if not math.isfinite(rate_f) or rate_f != int(rate_f):
            raise refuse_header(name, "aiff", f"a sample rate of {rate_f}")
        rate = int(rate_f)
        check_shape(name, "aiff", rate, channels, limits)
        if kind == "pcm" and bits not in (16, 24, 32):
            raise refuse_format(name, f"{bits}-bit PCM AIFF", bits=bits)
        if kind == "float" and bits not in (32, 64):
            bits = 32 if comm[18:22].lower() == b"fl32" else 64
        need = frames * channels * (bits // 8)
        csize, data_offset = ssnd
        have = csize - 8 - data_offset
        if have < 0 or need > have:
            raise refuse_header(name, "aiff", f"it declares {frames} frames ({need} bytes) but its SSND chunk holds "
                                              f"{max(have, 0)} bytes", declared_frames=frames)
        check_length(name, frames, rate, limits)
        probe = ffprobe(path, name)
        codec = probe["stream"].get("codec_name", "")
        if not codec.startswith("pcm_"):
            raise refuse_header(name, "aiff", f"ffprobe reads {codec}")
        decoded, subtype = decode_all(path, name, "aiff", limits, rate, channels, frames)
        return SampleInfo("aiff", "sample", rate, channels, decoded, bits, subtype, size, {"codec": codec})
