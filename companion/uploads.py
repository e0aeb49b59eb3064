"""Receiving an uploaded file: the one way every upload route reads a request body to disk.

The file comes as a multipart form field named ``file`` or as the raw body (then named by
``?filename=`` or ``X-Filename``). It is streamed to a scratch file under ``work_dir/uploads`` in
1 MB chunks, never more than the route's limit (413 ``payload_too_large`` as soon as it passes it,
before the rest is read), hashed on the way, and the scratch file is always removed afterwards,
whatever the route did with it. The name a client gives is reduced to its last path component.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from flask import request

from companion.errors import InvalidInput, PayloadTooLarge

CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Upload:
    path: Path
    filename: str  # "" when the route does not ask for a name
    sha256: str
    size: int


@contextlib.contextmanager
def received(svc, limit: int, *, prefix: str, what: str, example: str | None = None,
             refuse_empty: bool = False, too_large: str | None = None) -> Iterator[Upload]:
    """The request's file in a scratch file, for the ``with`` block.

    ``what`` names the file in errors ("the recording"); ``example`` (e.g. "song.wav") makes a name
    required for a raw body; ``refuse_empty`` answers an empty file with 422 ``file_missing``;
    ``too_large`` is the 413 message, with ``{mb}`` for the limit in MB.
    """
    tmp_dir = svc.config.work_dir / "uploads"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=prefix)
    os.close(fd)
    try:
        yield _receive(Path(tmp), limit, what=what, example=example, refuse_empty=refuse_empty,
                       too_large=too_large or "The upload is larger than the {mb} MB this companion accepts.")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _receive(dest: Path, limit: int, *, what: str, example: str | None, refuse_empty: bool,
             too_large: str) -> Upload:
    if request.mimetype == "multipart/form-data":
        f = request.files.get("file")
        if f is None or (example is not None and not f.filename):
            raise InvalidInput(f"Send {what} in a form field named 'file'.", code="file_missing")
        filename, stream = f.filename or "", f.stream
    else:
        filename = request.args.get("filename") or request.headers.get("X-Filename") or ""
        if example is not None and not filename:
            raise InvalidInput(f"Name the file: add ?filename={example} (or use a multipart 'file' field).",
                               code="filename_missing")
        stream = request.stream
    filename = os.path.basename(filename.replace("\\", "/"))[:200]
    h = hashlib.sha256()
    total = 0
    with open(dest, "wb") as out:
        while chunk := stream.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(too_large.format(mb=limit // (1024 * 1024)), details={"limit_bytes": limit})
            h.update(chunk)
            out.write(chunk)
    if refuse_empty and total == 0:
        raise InvalidInput("The upload is empty.", code="file_missing")
    return Upload(dest, filename, h.hexdigest(), total)
