"""FLAC: the STREAMINFO block is read with bounds checks (a declared length past the library's
limit is refused before any decoding), then the whole stream is decoded with a frame cap."""
from __future__ import annotations

from pathlib import Path

from .base import (Limits, SampleFormat, SampleInfo, check_length, check_shape, decode_all, ffprobe, refuse_format,
                   refuse_header)

STREAMINFO, PICTURE = 0, 6
MAX_METADATA_BYTES = 16 << 20


class Flac(SampleFormat):
    name = "flac"
    extensions = (".flac",)

    @staticmethod
    def score(head: bytes) -> int:
        return 2 if head[:4] == b"fLaC" else 0

    def inspect(self, path: Path, name: str, limits: Limits) -> SampleInfo:
        size = path.stat().st_size
        info = None
        with open(path, "rb") as fh:
            fh.seek(4)
            pos, last, first = 4, False, True
            while not last:
                head = fh.read(4)
                if len(head) < 4:
                    raise refuse_header(name, "flac", f"a metadata block header at {pos} is cut short")
                last, btype, length = bool(head[0] & 0x80), head[0] & 0x7F, int.from_bytes(head[1:4], "big")
                if btype == 127:
                    raise refuse_header(name, "flac", "an invalid metadata block type")
                if pos + 4 + length > size or pos + 4 + length > MAX_METADATA_BYTES:
                    raise refuse_header(name, "flac", f"a metadata block at {pos} claims {length} bytes",
                                        declared_bytes=length, file_bytes=size)
                if first and (btype != STREAMINFO or length != 34):
                    raise refuse_header(name, "flac", "its first metadata block is not a 34-byte STREAMINFO")
                block = fh.read(length) if btype == STREAMINFO else None
                if btype == STREAMINFO:
                    if not first:
                        raise refuse_header(name, "flac", "two STREAMINFO blocks")
                    info = block
                else:
                    fh.seek(length, 1)
                pos += 4 + length
                first = False
        assert info is not None
        bits20 = int.from_bytes(info[10:18], "big")
        rate = bits20 >> 44
        channels = ((bits20 >> 41) & 0x7) + 1
        bits = ((bits20 >> 36) & 0x1F) + 1
        total = bits20 & ((1 << 36) - 1)
        min_block, max_block = int.from_bytes(info[0:2], "big"), int.from_bytes(info[2:4], "big")
        if min_block < 16 or max_block < min_block:
            raise refuse_header(name, "flac", f"block sizes {min_block}..{max_block}")
        if bits not in (16, 24, 32):
            raise refuse_format(name, f"{bits}-bit FLAC", bits=bits)
        check_shape(name, "flac", rate, channels, limits)
        check_length(name, total, rate, limits)  # a huge declared length: refused before decoding
        probe = ffprobe(path, name)
        if probe["stream"].get("codec_name") != "flac":
            raise refuse_header(name, "flac", f"ffprobe reads {probe['stream'].get('codec_name')}")
        decoded, subtype = decode_all(path, name, "flac", limits, rate, channels, total or None)
        return SampleInfo("flac", "sample", rate, channels, decoded, bits, subtype, size, {"codec": "flac"})
