"""Sample bytes in the object store, addressed by their content.

A version's key is ``samples/<ab>/<sha256>/sample.<format>``: a function of the bytes alone, so the
same sound added twice (or under two names) is stored once, and a key never changes meaning.
On the local-folder store a file that already sits on the same filesystem (a SoundFont under
/usr/share/sounds) is hard-linked into place rather than copied, then renamed: complete or absent.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from companion.storage import LocalStore, ObjectStore, content_key
from companion.storage.base import sha256_file

PREFIX = "samples"


def sample_key(sha256: str, fmt: str) -> str:
    return content_key(PREFIX, sha256, f"sample.{fmt}")


def put(store: ObjectStore, path: Path, sha256: str, fmt: str, link: bool = False) -> tuple[str, bool]:
    """Store ``path`` under its content key; (key, whether this call stored it) (False: it was there)."""
    key = sample_key(sha256, fmt)
    if store.exists(key):
        return key, False
    if link and isinstance(store, LocalStore) and _link_into(store, key, path):
        return key, True
    store.put_file(key, path)
    return key, True


def _link_into(store: LocalStore, key: str, path: Path) -> bool:
    """Hard-link ``path`` into the local store at ``key`` (atomic rename); False when it cannot."""
    dest = store.root / key
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mktemp(dir=store.root / ".tmp", prefix="link-"))
    try:
        os.link(path, tmp)
    except OSError:
        return False
    try:
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return True


def local_copy(store: ObjectStore, key: str, work: Path, sha256: str | None = None) -> Path:
    """A path on this machine holding the object (the store's own file when it has one), checked
    against ``sha256`` when it had to be fetched."""
    p = store.local_path(key)
    if p is not None:
        return Path(p)
    work.mkdir(parents=True, exist_ok=True)
    dest = work / key.replace("/", "_")
    if not dest.exists():
        fd, tmp = tempfile.mkstemp(dir=work, prefix="get-")
        os.close(fd)
        try:
            store.download(key, tmp)
            if sha256 and sha256_file(tmp) != sha256:
                raise ValueError(f"object {key} does not hold the bytes its name says")
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return dest
