"""A local-folder object store (the embedded default)."""
from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from companion.storage.base import ObjectStore, StoredObject, check_key


class LocalStore(ObjectStore):
    name = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".tmp").mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        # check_key refuses "..", absolute and empty parts, so the key stays under the root by its letters
        # alone; no resolve() (a syscall per part, on every segment served): only the store writes here,
        # and it writes no links.
        return self.root / check_key(key)

    def _commit(self, key: str, write) -> StoredObject:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp", prefix="put-")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)  # atomic: readers see the old object or the whole new one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return StoredObject(key, dest.stat().st_size, mimetypes.guess_type(dest.name)[0])

    def put_file(self, key, path, content_type=None):
        def write(fh):
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)

        return self._commit(key, write)

    def put_bytes(self, key, data, content_type=None):
        return self._commit(key, lambda fh: fh.write(data))

    def get_bytes(self, key):
        p = self._path(key)
        if not p.is_file():
            raise KeyError(key)
        return p.read_bytes()

    def download(self, key, path):
        p = self._path(key)
        if not p.is_file():
            raise KeyError(key)
        shutil.copyfile(p, path)

    def stat(self, key):
        p = self._path(key)
        if not p.is_file():
            return None
        return StoredObject(key, p.stat().st_size, mimetypes.guess_type(p.name)[0])

    def delete(self, key):
        with contextlib.suppress(OSError):
            self._path(key).unlink()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for p in sorted(base.rglob("*")):
            if p.is_file() and ".tmp" not in p.relative_to(self.root).parts[:1]:
                yield p.relative_to(self.root).as_posix()

    def local_path(self, key):
        p = self._path(key)
        return p if p.is_file() else None

    def ping(self):
        if not os.access(self.root, os.W_OK):
            raise OSError(f"object store folder {self.root} is not writable")
