"""Finding sample bytes by content hash, wherever they are: the object store, a bundle, the system.

Instrument definitions name their samples by sha256 (and, for people, by library name and
version). An engine asks a :class:`Resolver` for a local file holding those bytes:

* :class:`StoreResolver`: the library's objects (``samples/<ab>/<sha>/sample.<fmt>``); a local
  store's own file, or a verified download from S3 into a work folder.
* :class:`FileResolver`: files named explicitly (an SHF bundle's members, extracted).
* :class:`SystemResolver`: the SoundFonts a Debian package installs (``/usr/share/sounds/sf2``),
  hashed once per process: the band's default SoundFont is found even where the library has not
  been set up (a test, a bench, a fresh checkout).

Bytes are always identified by their hash, so it does not matter which place answers.
"""
from __future__ import annotations

import abc
import functools
import threading
from pathlib import Path

from companion.errors import NotFound
from companion.storage.base import sha256_file

from . import objects

SYSTEM_SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts")


class SampleMissing(NotFound):
    code = "sample_missing"


class Resolver(abc.ABC):
    @abc.abstractmethod
    def find(self, sha256: str) -> Path | None:
        """A local file holding the bytes whose sha256 is ``sha256``, or None."""

    def path(self, sha256: str, what: str = "") -> Path:
        p = self.find(sha256)
        if p is None:
            raise SampleMissing(f"The sample {what + ' ' if what else ''}({sha256[:12]}) is not in the library, "
                                "the bundle or this machine's SoundFonts.", details={"sha256": sha256, "ref": what})
        return p


class StoreResolver(Resolver):
    def __init__(self, store, work: Path):
        self.store, self.work = store, Path(work)

    def find(self, sha256: str) -> Path | None:
        keys = [k for k in self.store.list(f"{objects.PREFIX}/{sha256[:2]}/{sha256}/")]
        if not keys:
            return None
        return objects.local_copy(self.store, keys[0], self.work, sha256)


class FileResolver(Resolver):
    def __init__(self, files: dict[str, Path]):
        self.files = {k: Path(v) for k, v in files.items()}

    def find(self, sha256: str) -> Path | None:
        return self.files.get(sha256)


_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_digest(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for this process."""
    st = path.stat()
    with _lock:
        return _digest(str(path), st.st_size, st.st_mtime_ns)


class SystemResolver(Resolver):
    def __init__(self, dirs=SYSTEM_SOUNDFONT_DIRS):
        self.dirs = [Path(d) for d in dirs]

    def find(self, sha256: str) -> Path | None:
        for d in self.dirs:
            if not d.is_dir():
                continue
            for p in sorted(d.glob("*.sf2")):
                if p.is_file() and not p.is_symlink() and file_digest(p) == sha256:
                    return p
        return None


class Chain(Resolver):
    def __init__(self, *resolvers: Resolver):
        self.resolvers = [r for r in resolvers if r is not None]

    def find(self, sha256: str) -> Path | None:
        for r in self.resolvers:
            p = r.find(sha256)
            if p is not None:
                return p
        return None


class Memo(Resolver):
    """Another resolver's answers, remembered (an engine asks for the same hash many times)."""

    def __init__(self, inner: Resolver):
        self.inner, self.known = inner, {}

    def find(self, sha256: str) -> Path | None:
        if sha256 not in self.known:
            self.known[sha256] = self.inner.find(sha256)
        return self.known[sha256]


def default_resolver(store=None, work: Path | None = None) -> Resolver:
    """The object store's library (when given) and the system's SoundFonts: a local store first (its
    files are used in place), a remote one after the system (a 140 MB SoundFont the machine already
    has is not downloaded). The answers are the same bytes either way: they are found by hash."""
    from companion.storage import LocalStore

    if store is None or work is None:
        return Memo(SystemResolver())
    library = StoreResolver(store, work)
    if isinstance(store, LocalStore):
        return Memo(Chain(library, SystemResolver()))
    return Memo(Chain(SystemResolver(), library))
