"""The object store interface shared by every backend."""
from __future__ import annotations

import abc
import dataclasses
import hashlib
import re
from pathlib import Path
from typing import BinaryIO, Iterator

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,400}$")


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (``..``, absolute paths, odd characters)."""
    if not _KEY_RE.match(key) or ".." in key.split("/") or "//" in key or key.endswith("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def content_key(prefix: str, digest: str, name: str) -> str:
    """``prefix/ab/abcdef.../name``: content-addressed with a readable suffix."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "file"
    return check_key(f"{prefix}/{digest[:2]}/{digest}/{safe}")


@dataclasses.dataclass
class StoredObject:
    key: str
    size: int
    content_type: str | None = None


class ObjectStore(abc.ABC):
    """Where renditions, uploads, playlists and manifests live."""

    name = "abstract"

    @abc.abstractmethod
    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> StoredObject:
        """Store the file at ``path`` under ``key``; visible only once complete."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject:
        """Store ``data`` under ``key``; visible only once complete."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object (KeyError when absent)."""

    @abc.abstractmethod
    def download(self, key: str, path: str | Path) -> None:
        """Copy the object to a local file (KeyError when absent)."""

    @abc.abstractmethod
    def stat(self, key: str) -> StoredObject | None:
        """Size and type, or None when absent."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object if present."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def local_path(self, key: str) -> Path | None:
        """A path on this machine the object can be served from, when the backend has one."""
        return None

    def presigned_url(self, key: str, expires_in: int | None = None) -> str | None:
        """A time-limited URL a client can fetch directly (for ``expires_in`` seconds, at most the
        backend's limit), when the backend offers one."""
        return None

    def ping(self) -> None:
        """Raise when the store cannot be reached."""

    def open(self, key: str) -> BinaryIO:
        import io

        return io.BytesIO(self.get_bytes(key))
