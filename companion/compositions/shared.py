"""Composition state shared between machines: git objects in the object store, refs in the database.

The local store (companion/compositions/store.py, :class:`Store`) keeps one bare git repository per
composition on this machine's disk. :class:`SharedStore` has the same interface, but what it keeps
on disk is only a cache:

- every git object (blob, tree, commit, tag) is written through to the object store (a local folder
  or S3), zlib-compressed exactly as a loose git object, under ``compositions/git/<ab>/<oid>``: content
  addressed, so two machines writing the same object write the same bytes;
- every ref (``refs/heads/<branch>``, ``refs/tags/<tag>``) is a row of the ``composition_refs`` table,
  moved only by compare-and-swap (``UPDATE ... WHERE target = :expected``; a new ref is an INSERT that
  fails when the row exists). A writer whose parent is stale gets 409 ``stale_parent``, as before;
- objects are uploaded before the ref that names them moves, and always children before parents
  (blobs, then trees, then the commit), so an object in the store always has everything it points to
  there too. The local cache keeps the same order when it fetches on a miss, so an object in the cache
  has its whole history in the cache as well, and the cache can be deleted at any time.

Every read (:meth:`SharedStore.repo`) brings the cache's refs in line with the database first (one
SELECT), fetching the objects it lacks. A missing or corrupt object in the store is a 503 with a
stable code (``composition_object_missing`` / ``composition_object_corrupt``), never a 500.
"""
from __future__ import annotations

import contextlib
import hashlib
import threading
import zlib
from pathlib import Path
from typing import Iterator

import pygit2
import sqlalchemy as sa
from sqlalchemy import DateTime, String
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, Database, utcnow
from ..errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from .store import _SHARED, COMMITTER, MAIN, Author, Store, check_name, message_with_author, shared_backend, \
    write_tree

OBJECT_PREFIX = "compositions/git"
_TYPES = {"commit": pygit2.enums.ObjectType.COMMIT, "tree": pygit2.enums.ObjectType.TREE,
          "blob": pygit2.enums.ObjectType.BLOB, "tag": pygit2.enums.ObjectType.TAG}
_NAMES = {int(v): k for k, v in _TYPES.items()}


class CompositionRef(Base):
    """One ref of one composition: ``refs/heads/main`` -> a commit id (or a tag object id)."""

    __tablename__ = "composition_refs"

    composition: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    target: Mapped[str] = mapped_column(String(40), nullable=False)
    updated_at: Mapped[object] = mapped_column(DateTime, nullable=False, default=utcnow)


REFS = CompositionRef.__table__


def use_shared(root: str | Path, db: Database, objects) -> None:
    """From now on ``Store(root)`` in this process is a :class:`SharedStore` over ``db`` and ``objects`` (the
    object store, or a callable that opens it on first use)."""
    _SHARED[str(Path(root).resolve())] = (SharedStore, db, objects)


def store_for(config) -> Store:
    """The composition store ``config`` names, for code that runs without :class:`companion.services.Services`
    (the CLI): the shared one is registered first when it is configured."""
    if config.composition_store == "shared" and shared_backend(config.compositions_dir) is None:
        from ..storage import open_store

        use_shared(config.compositions_dir, Database(config.database_url), lambda: open_store(config))
    return Store(config.compositions_dir)


def object_key(oid: str) -> str:
    return f"{OBJECT_PREFIX}/{oid[:2]}/{oid}"


def encode_object(kind: str, data: bytes) -> bytes:
    """A loose git object: ``zlib("<type> <size>\\0" + data)``."""
    return zlib.compress(f"{kind} {len(data)}".encode() + b"\0" + data)


def decode_object(oid: str, raw: bytes) -> tuple[str, bytes]:
    """``(type, data)`` of a loose object, checked against its id (ValueError when it is not that object)."""
    try:
        whole = zlib.decompress(raw)
    except zlib.error as exc:
        raise ValueError(f"not zlib data: {exc}") from None
    header, sep, data = whole.partition(b"\0")
    kind, _, size = header.decode("ascii", "replace").partition(" ")
    if not sep or kind not in _TYPES or not size.isdigit() or int(size) != len(data):
        raise ValueError("not a git object")
    if hashlib.sha1(whole).hexdigest() != oid:
        raise ValueError("its content does not hash to its id")
    return kind, data


def pointers(kind: str, data: bytes) -> list[str]:
    """The object ids an object points to (a commit: tree and parents; a tree: entries; a tag: its object)."""
    out: list[str] = []
    if kind == "commit" or kind == "tag":
        for line in data.split(b"\n"):
            if not line:
                break
            word, _, rest = line.partition(b" ")
            if word in (b"tree", b"parent", b"object"):
                out.append(rest.decode("ascii"))
    elif kind == "tree":
        i = 0
        while i < len(data):
            sp = data.index(b" ", i)
            nul = data.index(b"\0", sp)
            mode = data[i:sp]
            oid = data[nul + 1:nul + 21].hex()
            if mode != b"160000":  # a submodule's commit lives elsewhere
                out.append(oid)
            i = nul + 21
    return out


# Objects this process knows to be in an object store (they were uploaded or fetched from it),
# per store; an object in the store never leaves it (content addressed, immutable).
_KNOWN: dict[str, set[str]] = {}
_KNOWN_LOCK = threading.Lock()
_KNOWN_MAX = 500_000


def _store_identity(objects) -> str:
    return f"{type(objects).__name__}:{getattr(objects, 'bucket', '')}:" \
           f"{getattr(objects, 'endpoint_url', '') or ''}:{getattr(objects, 'root', '')}"


class SharedStore(Store):
    """:class:`Store` over the object store and the database; ``root`` is only this machine's cache."""

    #: the cache's folder under the configured compositions folder: apart from the ``<id>.git`` repositories
    #: of the local store, which a shared companion pointed at the same folder leaves untouched (they are
    #: copied in with ``scripthammer compositions share``).
    CACHE = "shared-cache"

    def __init__(self, root: str | Path, db: Database | None = None, objects=None):
        super().__init__(Path(root) / self.CACHE)
        self.configured_root = Path(root)
        if db is None or objects is None:
            backend = shared_backend(root)
            if backend is None:
                raise RuntimeError(f"no shared composition store is configured for {root}")
            _, db, objects = backend
        self.db = db
        self._objects = objects

    @property
    def objects(self):
        """The object store (``objects`` may be given as a callable that opens it on first use)."""
        if callable(self._objects) and not hasattr(self._objects, "put_bytes"):
            self._objects = self._objects()
        return self._objects

    def _known(self) -> set[str]:
        ident = _store_identity(self.objects)
        with _KNOWN_LOCK:
            known = _KNOWN.setdefault(ident, set())
            if len(known) > _KNOWN_MAX:
                known.clear()
            return known

    # ---- the database's refs
    def _refs(self, comp_id: str) -> dict[str, str]:
        try:
            with self.db.session() as s:
                rows = s.execute(sa.select(REFS.c.name, REFS.c.target).where(REFS.c.composition == comp_id)).all()
        except OperationalError as exc:
            raise ServiceUnavailable("the database holding composition refs cannot be reached",
                                     code="database_unavailable", details={"composition": comp_id}) from exc
        return {name: target for name, target in rows}

    def _insert_ref(self, comp_id: str, name: str, target: str) -> bool:
        """Create a ref; False when it exists already."""
        try:
            with self.db.session() as s:
                s.execute(REFS.insert().values(composition=comp_id, name=name, target=target, updated_at=utcnow()))
            return True
        except IntegrityError:
            return False

    def _cas_ref(self, comp_id: str, name: str, expected: str, target: str) -> bool:
        """Move a ref from ``expected`` to ``target``; False when it was not at ``expected``."""
        with self.db.session() as s:
            res = s.execute(REFS.update().where(REFS.c.composition == comp_id, REFS.c.name == name,
                                                REFS.c.target == expected)
                            .values(target=target, updated_at=utcnow()))
            return res.rowcount == 1

    def _delete_ref(self, comp_id: str, name: str) -> bool:
        with self.db.session() as s:
            return s.execute(REFS.delete().where(REFS.c.composition == comp_id, REFS.c.name == name)).rowcount == 1

    # ---- objects: write through, fetch on miss
    def _get(self, comp_id: str, oid: str) -> tuple[str, bytes]:
        try:
            raw = self.objects.get_bytes(object_key(oid))
        except KeyError:
            raise ServiceUnavailable(f"object {oid} of composition {comp_id!r} is missing from the object store",
                                     code="composition_object_missing",
                                     details={"composition": comp_id, "object": oid}) from None
        except Exception as exc:  # the store is down or refuses: a clear 503, not a 500
            raise ServiceUnavailable("the object store holding compositions cannot be reached",
                                     code="composition_store_unavailable",
                                     details={"composition": comp_id, "object": oid, "error": type(exc).__name__}
                                     ) from exc
        try:
            return decode_object(oid, raw)
        except ValueError as exc:
            raise ServiceUnavailable(f"object {oid} of composition {comp_id!r} is corrupt in the object store: {exc}",
                                     code="composition_object_corrupt",
                                     details={"composition": comp_id, "object": oid}) from None

    def _put(self, comp_id: str, oid: str, kind: str, data: bytes) -> None:
        try:
            self.objects.put_bytes(object_key(oid), encode_object(kind, data), "application/x-git-loose-object")
        except Exception as exc:
            raise ServiceUnavailable("the object store holding compositions refused a write",
                                     code="composition_store_unavailable",
                                     details={"composition": comp_id, "object": oid, "error": type(exc).__name__}
                                     ) from exc

    def _fetch(self, repo: pygit2.Repository, comp_id: str, root: str) -> None:
        """Bring ``root`` and everything it points to into the cache, pointed-to objects first."""
        if pygit2.Oid(hex=root) in repo:
            return
        known = self._known()
        stack: list[tuple[str, tuple[str, bytes] | None]] = [(root, None)]
        while stack:
            oid, obj = stack.pop()
            if pygit2.Oid(hex=oid) in repo:
                continue
            if obj is None:
                kind, data = self._get(comp_id, oid)
                known.add(oid)
                stack.append((oid, (kind, data)))
                stack.extend((p, None) for p in pointers(kind, data) if pygit2.Oid(hex=p) not in repo)
            else:
                written = repo.odb.write(_TYPES[obj[0]], obj[1])
                if str(written) != oid:  # cannot happen: decode_object checked the hash
                    raise ServiceUnavailable(f"object {oid} did not round-trip", code="composition_object_corrupt",
                                             details={"composition": comp_id, "object": oid})

    def _publish(self, repo: pygit2.Repository, comp_id: str, root: str, also_known: set[str] = frozenset(),
                 fresh: bool = True) -> None:
        """Upload ``root`` and whatever it points to that the store may lack, pointed-to objects first.

        A commit or tag already in the store has its whole closure there, so the walk stops at one."""
        known = self._known()
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            oid, ready = stack.pop()
            if oid in known or oid in also_known:
                continue
            kind_id, data = repo.odb.read(oid)
            kind = _NAMES[int(kind_id)]
            if ready:
                self._put(comp_id, oid, kind, data)
                known.add(oid)
                continue
            if kind in ("commit", "tag") and (oid != root or not fresh) and self.objects.exists(object_key(oid)):
                known.add(oid)
                continue
            stack.append((oid, True))
            stack.extend((p, False) for p in pointers(kind, data) if p not in known and p not in also_known)

    @staticmethod
    def _tree_ids(repo: pygit2.Repository, commit_ids: list[str]) -> set[str]:
        """Every tree and blob id of these commits' trees (in the store when the commits are)."""
        out: set[str] = set()
        stack = [repo[c].tree_id for c in commit_ids if pygit2.Oid(hex=c) in repo]
        while stack:
            tid = stack.pop()
            if str(tid) in out:
                continue
            out.add(str(tid))
            for entry in repo[tid]:
                if entry.type_str == "tree":
                    stack.append(entry.id)
                else:
                    out.add(str(entry.id))
        return out

    # ---- the cache
    def _cache(self, comp_id: str) -> pygit2.Repository:
        path = self.path(comp_id)
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            return pygit2.init_repository(str(path), bare=True, initial_head=MAIN)
        return pygit2.Repository(str(path))

    def _sync(self, repo: pygit2.Repository, comp_id: str, refs: dict[str, str]) -> None:
        """Make the cache's refs exactly the database's (call with the local lock held)."""
        for target in refs.values():
            self._fetch(repo, comp_id, target)
        local = {r: str(repo.references[r].target) for r in repo.references if r.startswith("refs/")}
        for name, target in refs.items():
            if local.get(name) != target:
                repo.references.create(name, pygit2.Oid(hex=target), force=True)
        for name in local.keys() - refs.keys():
            repo.references.delete(name)

    # ---- the Store interface
    def exists(self, comp_id: str) -> bool:
        try:
            self.path(comp_id)
        except NotFound:
            return False
        return bool(self._refs(comp_id))

    def ids(self) -> list[str]:
        with self.db.session() as s:
            return sorted(s.execute(sa.select(REFS.c.composition).distinct()).scalars())

    def repo(self, comp_id: str) -> pygit2.Repository:
        self.path(comp_id)
        refs = self._refs(comp_id)
        if not refs:
            raise NotFound(f"no composition {comp_id!r}", code="composition_not_found", details={"composition": comp_id})
        with self.locked(comp_id):
            repo = self._cache(comp_id)
            self._sync(repo, comp_id, refs)
        return repo

    @contextlib.contextmanager
    def _synced(self, comp_id: str) -> Iterator[tuple[pygit2.Repository, dict[str, str]]]:
        """The cache in line with the database, under this machine's lock (other machines are kept out
        by the compare-and-swap, not by this lock)."""
        self.path(comp_id)
        with self.locked(comp_id):
            refs = self._refs(comp_id)
            if not refs:
                raise NotFound(f"no composition {comp_id!r}", code="composition_not_found",
                               details={"composition": comp_id})
            repo = self._cache(comp_id)
            self._sync(repo, comp_id, refs)
            yield repo, refs

    def create(self, comp_id: str, files: dict[str, bytes], author: Author, message: str) -> str:
        self.path(comp_id)
        if self._refs(comp_id):
            raise Conflict(f"composition {comp_id!r} already exists", code="composition_exists",
                           details={"composition": comp_id})
        with self.locked(comp_id):
            repo = self._cache(comp_id)
            oid = str(repo.create_commit(None, author.signature(), COMMITTER, message_with_author(message, author),
                                         write_tree(repo, files), []))
            self._publish(repo, comp_id, oid)
            if not self._insert_ref(comp_id, f"refs/heads/{MAIN}", oid):
                raise Conflict(f"composition {comp_id!r} already exists", code="composition_exists",
                               details={"composition": comp_id})
            self._sync(repo, comp_id, self._refs(comp_id))
        return oid

    def commit(self, comp_id: str, branch: str, files: dict[str, bytes], author: Author, message: str,
               parent: str | None, extra_parents: list[str] | None = None, when: int | None = None,
               trailers: list[tuple[str, str]] | None = None) -> str:
        ref = f"refs/heads/{branch}"
        with self._synced(comp_id) as (repo, refs):
            if ref not in refs:
                raise NotFound(f"no branch {branch!r}", code="branch_not_found", details={"branch": branch})
            current = refs[ref]
            if parent is not None and (len(parent) < 7 or not current.startswith(parent)):
                raise Conflict(f"branch {branch!r} has moved on: your parent {parent} is not its head",
                               code="stale_parent", details={"branch": branch, "head": current, "parent": parent})
            for extra in extra_parents or []:
                if pygit2.Oid(hex=extra) not in repo:
                    raise NotFound(f"no version {extra!r}", code="revision_not_found", details={"revision": extra})
            tree = write_tree(repo, files)
            parents = [current] + list(extra_parents or [])
            oid = str(repo.create_commit(None, author.signature(when), COMMITTER,
                                         message_with_author(message, author, trailers), tree,
                                         [pygit2.Oid(hex=p) for p in parents]))
            self._publish(repo, comp_id, oid, set(parents) | self._tree_ids(repo, parents))
            if not self._cas_ref(comp_id, ref, current, oid):
                head = self._refs(comp_id).get(ref)
                raise Conflict(f"branch {branch!r} has moved on: another writer committed first",
                               code="stale_parent", details={"branch": branch, "head": head, "parent": parent or current})
            repo.references.create(ref, pygit2.Oid(hex=oid), force=True)
            return oid

    def set_branch(self, comp_id: str, branch: str, target: str, expected: str | None) -> None:
        ref = f"refs/heads/{branch}"
        with self._synced(comp_id) as (repo, refs):
            current = refs.get(ref)
            if expected is not None and current != expected:
                raise Conflict(f"branch {branch!r} has moved on", code="stale_parent",
                               details={"branch": branch, "head": current, "parent": expected})
            self._publish(repo, comp_id, target, fresh=False)
            ok = self._cas_ref(comp_id, ref, current, target) if current is not None \
                else self._insert_ref(comp_id, ref, target)
            if not ok:
                raise Conflict(f"branch {branch!r} has moved on", code="stale_parent",
                               details={"branch": branch, "head": self._refs(comp_id).get(ref), "parent": expected})
            repo.references.create(ref, pygit2.Oid(hex=target), force=True)

    def create_branch(self, comp_id: str, name: str, start: str | None) -> dict:
        check_name(name, "branch")
        with self._synced(comp_id) as (repo, refs):
            commit = self.resolve(repo, start)
            ref = f"refs/heads/{name}"
            if ref in refs or not self._insert_ref(comp_id, ref, str(commit.id)):
                raise Conflict(f"branch {name!r} already exists", code="branch_exists", details={"branch": name})
            repo.references.create(ref, commit.id, force=True)
        return {"name": name, "head": str(commit.id), "updated_at": commit.commit_time}

    def delete_branch(self, comp_id: str, name: str) -> None:
        if name == MAIN:
            raise InvalidInput("main cannot be deleted", code="main_branch")
        ref = f"refs/heads/{name}"
        with self._synced(comp_id) as (repo, refs):
            if ref not in refs or not self._delete_ref(comp_id, ref):
                raise NotFound(f"no branch {name!r}", code="branch_not_found", details={"branch": name})
            if ref in repo.references:
                repo.references.delete(ref)

    def create_tag(self, comp_id: str, name: str, rev: str | None, author: Author, message: str) -> dict:
        check_name(name, "tag")
        ref = f"refs/tags/{name}"
        with self._synced(comp_id) as (repo, refs):
            commit = self.resolve(repo, rev)
            if ref in refs:
                raise Conflict(f"tag {name!r} already exists", code="tag_exists", details={"tag": name})
            tag_oid = str(repo.create_tag(name, commit.id, pygit2.enums.ObjectType.COMMIT, author.signature(),
                                          message_with_author(message or name, author)))
            try:
                self._publish(repo, comp_id, tag_oid)
                if not self._insert_ref(comp_id, ref, tag_oid):
                    raise Conflict(f"tag {name!r} already exists", code="tag_exists", details={"tag": name})
            except BaseException:
                if ref in repo.references:
                    repo.references.delete(ref)
                raise
        return {"name": name, "commit": str(commit.id), "message": message or name, "tagger": author.name}

    def delete_tag(self, comp_id: str, name: str) -> None:
        ref = f"refs/tags/{name}"
        with self._synced(comp_id) as (repo, refs):
            if ref not in refs or not self._delete_ref(comp_id, ref):
                raise NotFound(f"no tag {name!r}", code="tag_not_found", details={"tag": name})
            if ref in repo.references:
                repo.references.delete(ref)


def share_local(local: Store, shared: SharedStore, ids: list[str] | None = None) -> list[dict]:
    """Copy the local store's compositions into the shared store: every object reachable from a branch or
    tag goes to the object store, then each ref absent from the database is inserted. Idempotent (run it
    again and nothing changes); a ref the database has at another target is reported, never overwritten."""
    out = []
    for comp_id in ids or local.ids():
        repo = local.repo(comp_id)
        refs = {r: str(repo.references[r].target) for r in repo.references if r.startswith(("refs/heads/", "refs/tags/"))}
        for target in refs.values():
            shared._publish(repo, comp_id, target, fresh=False)
        existing = shared._refs(comp_id)
        created = [name for name, t in sorted(refs.items()) if name not in existing and shared._insert_ref(comp_id, name, t)]
        conflicts = sorted(name for name, t in refs.items() if name in existing and existing[name] != t)
        out.append({"composition": comp_id, "refs": len(refs), "created": created, "conflicts": conflicts})
    return out
