"""Walking RIFF (little-endian) and IFF (big-endian) chunks with bounds checks.

Every declared size is checked against its parent before it is used: a chunk that claims to run
past its parent (or the file) is refused with ``bad_header``, never read.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

from .base import refuse_header


def chunks(fh: BinaryIO, start: int, end: int, big_endian: bool, name: str, fmt: str
           ) -> Iterator[tuple[bytes, int, int]]:
    """Yield (id, size, data offset) of the chunks between ``start`` and ``end`` (padded to even sizes)."""
    fmt_size = ">I" if big_endian else "<I"
    pos = start
    while pos < end:
        if end - pos < 8:
            raise refuse_header(name, fmt, f"{end - pos} stray bytes at offset {pos}, too few for a chunk header")
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            raise refuse_header(name, fmt, f"a chunk header at offset {pos} is cut short")
        cid = header[:4]
        (size,) = struct.unpack(fmt_size, header[4:])
        if pos + 8 + size > end:
            raise refuse_header(name, fmt, f"chunk {cid!r} at offset {pos} claims {size} bytes but only "
                                           f"{end - pos - 8} remain in its parent", chunk=cid.decode("latin-1"),
                                declared_bytes=size, available_bytes=end - pos - 8)
        yield cid, size, pos + 8
        pos += 8 + size + (size & 1)
        if pos > end + 1:  # a pad byte may be missing at the very end only
            raise refuse_header(name, fmt, f"chunk {cid!r} runs past its parent")


def outer(fh: BinaryIO, file_size: int, magic: bytes, form: tuple[bytes, ...], big_endian: bool, name: str,
          fmt: str) -> tuple[bytes, int]:
    """Check the outer RIFF/FORM header; (form type, end offset of its chunks)."""
    fh.seek(0)
    head = fh.read(12)
    if len(head) < 12 or head[:4] != magic or head[8:12] not in form:
        raise refuse_header(name, fmt, "it does not start with a valid header")
    (size,) = struct.unpack(">I" if big_endian else "<I", head[4:8])
    if size < 4 or 8 + size > file_size + 1:
        raise refuse_header(name, fmt, f"the header claims {size + 8} bytes but the file has {file_size}",
                            declared_bytes=size + 8, file_bytes=file_size)
    return head[8:12], min(8 + size, file_size)
