"""What a run can skip: finished documents in the object store, and encodes kept on local disk.

* :func:`load_complete` is the one check for "is this cached manifest still good": the JSON
  document under a key, returned only when every object it names is in the store. The release
  manifest, the stored HLS ladder and the render manifest all use it.
* :class:`DiskCache` keeps untagged encodes and measurements on local disk by digest, written
  to a scratch file and renamed in, so a change of tags re-tags without re-encoding.
* :class:`Journal` stores objects for one run and remembers which it created, so a failed run
  can take them back out.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from companion.storage.base import ObjectStore

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Listed:
    """At least ``count`` objects under ``prefix`` whose keys end in ``suffix`` (what a document
    counts rather than names, such as an HLS variant's segments)."""

    prefix: str
    suffix: str
    count: int


Need = Union[str, Listed]


def load_complete(store: ObjectStore, key: str, needs: Callable[[dict], Iterable[Need]]) -> dict[str, Any] | None:
    """The JSON document stored at ``key`` when it and everything it names are in ``store``.

    Args:
        store: the object store.
        key: where the document is.
        needs: ``needs(document)`` yields what must exist beside it: object keys, and
            :class:`Listed` counts. A KeyError/TypeError in it (a document of another shape)
            counts as incomplete.

    Returns None when the document is absent, unreadable or incomplete (the caller makes it again).
    """
    try:
        doc = json.loads(store.get_bytes(key))
    except (KeyError, ValueError, FileNotFoundError):
        return None
    if not isinstance(doc, dict):
        return None
    try:
        wanted = list(needs(doc))
    except (KeyError, TypeError, AttributeError):
        return None
    for need in wanted:
        if isinstance(need, Listed):
            found = sum(1 for k in store.list(need.prefix) if k.endswith(need.suffix))
            if found < need.count:
                return None
        elif not isinstance(need, str) or not store.exists(need):
            return None
    return doc


def digest(*parts: Any) -> str:
    """sha256 of the JSON of ``parts`` (keys sorted): the name of a cached thing."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class DiskCache:
    """Files and JSON measurements on local disk, by digest.

    Attributes:
        root: the cache folder (kept between runs; ``prune_cache`` trims it).
        scratch: the run's private folder, where files are made before they are renamed in.
    """

    root: Path
    scratch: Path

    def path(self, key: str, filename: str) -> Path:
        return self.root / "encodes" / key[:2] / key / filename

    def has(self, key: str, filename: str) -> bool:
        return self.path(key, filename).is_file()

    def file(self, key: str, filename: str, make: Callable[[Path], None]) -> Path:
        """The cached file for ``key``; made with ``make(tmp_path)`` and renamed in when absent."""
        final = self.path(key, filename)
        if final.is_file():
            return final
        tmp = self.scratch / "encode" / f"{key[:16]}-{filename}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        make(tmp)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return final

    def peek_json(self, kind: str, key: str) -> dict | None:
        """The cached JSON document for ``key``, or None."""
        path = self.root / kind / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def store_json(self, kind: str, key: str, data: dict) -> None:
        """Keep ``data`` for ``key`` (written to scratch, renamed in)."""
        path = self.root / kind / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.scratch / f"{kind}-{key[:16]}.json"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    def json(self, kind: str, key: str, make: Callable[[], dict]) -> dict:
        """The cached JSON document for ``key``; made with ``make()`` when absent or unreadable."""
        known = self.peek_json(kind, key)
        if known is not None:
            return known
        data = make()
        self.store_json(kind, key, data)
        return data


class Journal:
    """The object store as one run writes to it: content-addressed puts (skipped when the key
    exists), each remembered so :meth:`rollback` can remove what this run created."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self._created: list[str] = []
        self._lock = threading.Lock()

    def put(self, key: str, what: Path | bytes, mime: str) -> str:
        """Store a finished file or bytes under ``key`` (nothing when present); returns the key."""
        if self.store.exists(key):
            return key
        if isinstance(what, bytes):
            self.store.put_bytes(key, what, mime)
        else:
            self.store.put_file(key, what, mime)
        with self._lock:
            self._created.append(key)
        return key

    @property
    def created(self) -> list[str]:
        with self._lock:
            return list(self._created)

    def rollback(self) -> None:
        """Remove every object this run stored (when the run fails)."""
        with self._lock:
            created, self._created = self._created, []
        for key in created:
            try:
                self.store.delete(key)
            except Exception:  # pragma: no cover - best effort
                log.exception("could not remove %s after a failed release", key)
