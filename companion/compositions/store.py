"""The git store: one bare repository per composition (pygit2).

Branch heads move only under a per-repository file lock and only if the head is still
the parent the writer started from (compare-and-swap), so a stale writer gets a
Conflict with the current head and no update is ever lost.
"""
from __future__ import annotations

import contextlib
import fcntl
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pygit2

from ..errors import Conflict, InvalidInput, NotFound

MAIN = "main"
AUTHOR_TRAILER = "ScriptHammer-Author"
#: A machine-readable line per algorithm that wrote a commit's notes:
#: ``Generated-by: <member>/<algorithm> part=<part> seed=<n> version=<algorithms version>``
GENERATED_TRAILER = "Generated-by"
TRAILERS = (AUTHOR_TRAILER, GENERATED_TRAILER)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
COMMITTER = pygit2.Signature("ScriptHammer companion", "companion@scripthammer.invalid")


@dataclass(frozen=True)
class Author:
    """Who makes a commit: a band member id (or a guest id such as ``guest:abc``) and a name."""

    id: str
    name: str

    def signature(self, when: int | None = None) -> pygit2.Signature:
        local = re.sub(r"[^A-Za-z0-9._-]+", "-", self.id) or "unknown"
        if when is None:
            return pygit2.Signature(self.name or self.id, f"{local}@members.scripthammer.invalid")
        return pygit2.Signature(self.name or self.id, f"{local}@members.scripthammer.invalid", when, 0)


def check_name(name: str, what: str = "branch") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name or name.endswith((".lock", ".")):
        raise InvalidInput(f"{name!r} is not a valid {what} name", code=f"bad_{what}_name")
    return name


def message_with_author(message: str, author: Author, trailers: list[tuple[str, str]] | None = None) -> str:
    """The commit message with its trailers: ``trailers`` (e.g. ``Generated-by``) then the author."""
    message = (message or "").strip() or "(no message)"
    extra = "".join(f"{k}: {v}\n" for k, v in (trailers or []) if k in TRAILERS and "\n" not in f"{k}{v}")
    return f"{message}\n\n{extra}{AUTHOR_TRAILER}: {author.id}\n"


def trailers_of(commit: pygit2.Commit, key: str) -> list[str]:
    """The values of every ``key:`` trailer line of a commit message, in order. Only the message's last
    paragraph counts: that is the one the store writes (:func:`message_with_author`), so a line typed
    into a message's text is never taken for a trailer."""
    last = commit.message.strip().split("\n\n")[-1]
    return [line.split(":", 1)[1].strip() for line in last.splitlines() if line.startswith(key + ":")]


def author_of(commit: pygit2.Commit) -> str:
    for line in reversed(commit.message.splitlines()):
        if line.startswith(AUTHOR_TRAILER + ":"):
            return line.split(":", 1)[1].strip()
    return commit.author.email.split("@", 1)[0]


def summary_of(commit: pygit2.Commit) -> str:
    lines = [l for l in commit.message.splitlines() if not l.startswith(tuple(t + ":" for t in TRAILERS))]
    return "\n".join(lines).strip()


# Folders whose compositions are shared between machines (SCRIPTHAMMER_COMPOSITION_STORE=shared):
# resolved path -> (store class, Database, object store or a callable opening it). Filled by
# companion.compositions.shared.use_shared (Services calls it), so this module imports nothing of it.
_SHARED: dict[str, tuple] = {}


def use_local(root: str | Path) -> None:
    """Undo :func:`companion.compositions.shared.use_shared` for ``root``."""
    _SHARED.pop(str(Path(root).resolve()), None)


def shared_backend(root: str | Path) -> tuple | None:
    return _SHARED.get(str(Path(root).resolve()))


class Store:
    """All compositions under one folder: ``<root>/<composition id>.git``.

    With the shared setting (``shared.use_shared``), ``Store(root)`` gives a
    :class:`companion.compositions.shared.SharedStore`: the same interface, objects in the object store,
    refs in the database, and ``root`` only a cache."""

    def __new__(cls, root: str | Path, *args, local: bool = False, **kwargs):
        backend = shared_backend(root) if cls is Store and not local and not args and not kwargs else None
        if backend is not None:
            return super().__new__(backend[0])
        return super().__new__(cls)

    def __init__(self, root: str | Path, *, local: bool = False):
        """``local=True``: the repositories in ``root`` even where the shared store is configured (to copy
        them into it: ``scripthammer compositions share``)."""
        self.root = Path(root)

    # ---- repositories
    def path(self, comp_id: str) -> Path:
        if not isinstance(comp_id, str) or not ID_RE.match(comp_id):
            raise NotFound(f"no composition {comp_id!r}", code="composition_not_found")
        return self.root / f"{comp_id}.git"

    def exists(self, comp_id: str) -> bool:
        try:
            return (self.path(comp_id) / "HEAD").exists()
        except NotFound:
            return False

    def ids(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name[:-4] for p in self.root.glob("*.git") if (p / "HEAD").exists())

    def repo(self, comp_id: str) -> pygit2.Repository:
        path = self.path(comp_id)
        if not (path / "HEAD").exists():
            raise NotFound(f"no composition {comp_id!r}", code="composition_not_found", details={"composition": comp_id})
        return pygit2.Repository(str(path))

    @contextlib.contextmanager
    def locked(self, comp_id: str) -> Iterator[None]:
        """Hold the composition's write lock (works across threads and processes)."""
        path = self.path(comp_id)
        path.mkdir(parents=True, exist_ok=True)
        with open(path / "scripthammer.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def create(self, comp_id: str, files: dict[str, bytes], author: Author, message: str) -> str:
        """Create a composition's repository with a first commit on main; returns the commit id."""
        path = self.path(comp_id)
        self.root.mkdir(parents=True, exist_ok=True)
        with self.locked(comp_id):
            if (path / "HEAD").exists():
                raise Conflict(f"composition {comp_id!r} already exists", code="composition_exists",
                               details={"composition": comp_id})
            tmp = self.root / f".{comp_id}.{time.time_ns()}.tmp"
            repo = pygit2.init_repository(str(tmp), bare=True, initial_head=MAIN)
            oid = repo.create_commit(f"refs/heads/{MAIN}", author.signature(), COMMITTER,
                                     message_with_author(message, author), write_tree(repo, files), [])
            # move the finished repository into place (the lock file stays where it is)
            for child in tmp.iterdir():
                child.rename(path / child.name)
            tmp.rmdir()
            return str(oid)

    # ---- revisions
    def resolve(self, repo: pygit2.Repository, rev: str | None) -> pygit2.Commit:
        """A branch name, tag name or commit id (full or at least 7 hex digits) -> the commit."""
        rev = rev or MAIN
        for ref in (f"refs/heads/{rev}", f"refs/tags/{rev}"):
            if NAME_RE.match(rev) and ref in repo.references:
                obj = repo.references[ref].peel(pygit2.Commit)
                return obj
        if re.fullmatch(r"[0-9a-f]{7,40}", rev or ""):
            try:
                obj = repo.revparse_single(rev)
                return obj.peel(pygit2.Commit)
            except (KeyError, ValueError, pygit2.GitError):
                pass
        raise NotFound(f"no branch, tag or version {rev!r}", code="revision_not_found", details={"revision": rev})

    def head(self, repo: pygit2.Repository, branch: str) -> str | None:
        ref = f"refs/heads/{branch}"
        return str(repo.references[ref].target) if ref in repo.references else None

    def read_files(self, repo: pygit2.Repository, commit: pygit2.Commit) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        _walk(repo, commit.tree, "", out)
        return out

    def blob_ids(self, repo: pygit2.Repository, commit: pygit2.Commit) -> dict[str, pygit2.Oid]:
        out: dict[str, pygit2.Oid] = {}
        _walk_ids(repo, commit.tree, "", out)
        return out

    def commit(self, comp_id: str, branch: str, files: dict[str, bytes], author: Author, message: str,
               parent: str | None, extra_parents: list[str] | None = None, when: int | None = None,
               trailers: list[tuple[str, str]] | None = None) -> str:
        """Commit ``files`` (the whole new tree) on ``branch`` if its head is still ``parent``.

        ``parent=None`` means "whatever the head is now" (for callers that just read it under
        the same lock). Raises Conflict (409) with the current head when the parent is stale.
        ``trailers``: extra trailer lines (``Generated-by``) written before the author's.
        """
        repo = self.repo(comp_id)
        ref = f"refs/heads/{branch}"
        with self.locked(comp_id):
            if ref not in repo.references:
                raise NotFound(f"no branch {branch!r}", code="branch_not_found", details={"branch": branch})
            current = str(repo.references[ref].target)
            if parent is not None and (len(parent) < 7 or not current.startswith(parent)):
                raise Conflict(f"branch {branch!r} has moved on: your parent {parent} is not its head",
                               code="stale_parent", details={"branch": branch, "head": current, "parent": parent})
            tree = write_tree(repo, files)
            parents = [pygit2.Oid(hex=current)] + [pygit2.Oid(hex=p) for p in (extra_parents or [])]
            oid = repo.create_commit(None, author.signature(when), COMMITTER,
                                     message_with_author(message, author, trailers), tree, parents)
            repo.references.create(ref, oid, force=True)
            return str(oid)

    def set_branch(self, comp_id: str, branch: str, target: str, expected: str | None) -> None:
        """Move a branch (fast-forward) with compare-and-swap."""
        repo = self.repo(comp_id)
        ref = f"refs/heads/{branch}"
        with self.locked(comp_id):
            current = str(repo.references[ref].target) if ref in repo.references else None
            if expected is not None and current != expected:
                raise Conflict(f"branch {branch!r} has moved on", code="stale_parent",
                               details={"branch": branch, "head": current, "parent": expected})
            repo.references.create(ref, pygit2.Oid(hex=target), force=True)

    # ---- branches and tags
    def branches(self, repo: pygit2.Repository) -> list[dict]:
        out = []
        for name in sorted(repo.branches.local):
            c = repo.branches.local[name].peel(pygit2.Commit)
            out.append({"name": name, "head": str(c.id), "updated_at": c.commit_time})
        return out

    def create_branch(self, comp_id: str, name: str, start: str | None) -> dict:
        check_name(name, "branch")
        repo = self.repo(comp_id)
        with self.locked(comp_id):
            commit = self.resolve(repo, start)
            if f"refs/heads/{name}" in repo.references:
                raise Conflict(f"branch {name!r} already exists", code="branch_exists", details={"branch": name})
            repo.references.create(f"refs/heads/{name}", commit.id)
        return {"name": name, "head": str(commit.id), "updated_at": commit.commit_time}

    def delete_branch(self, comp_id: str, name: str) -> None:
        repo = self.repo(comp_id)
        if name == MAIN:
            raise InvalidInput("main cannot be deleted", code="main_branch")
        with self.locked(comp_id):
            ref = f"refs/heads/{name}"
            if ref not in repo.references:
                raise NotFound(f"no branch {name!r}", code="branch_not_found", details={"branch": name})
            repo.references.delete(ref)

    def tags(self, repo: pygit2.Repository) -> list[dict]:
        out = []
        for ref in sorted(r for r in repo.references if r.startswith("refs/tags/")):
            obj = repo.references[ref].peel()
            commit = obj.peel(pygit2.Commit)
            tag_obj = repo.get(repo.references[ref].target)
            msg = tag_obj.message.strip() if isinstance(tag_obj, pygit2.Tag) else ""
            tagger = tag_obj.tagger.name if isinstance(tag_obj, pygit2.Tag) and tag_obj.tagger else None
            out.append({"name": ref[len("refs/tags/"):], "commit": str(commit.id), "message": msg, "tagger": tagger})
        return out

    def create_tag(self, comp_id: str, name: str, rev: str | None, author: Author, message: str) -> dict:
        check_name(name, "tag")
        repo = self.repo(comp_id)
        with self.locked(comp_id):
            commit = self.resolve(repo, rev)
            if f"refs/tags/{name}" in repo.references:
                raise Conflict(f"tag {name!r} already exists", code="tag_exists", details={"tag": name})
            repo.create_tag(name, commit.id, pygit2.enums.ObjectType.COMMIT, author.signature(),
                            message_with_author(message or name, author))
        return {"name": name, "commit": str(commit.id), "message": message or name, "tagger": author.name}

    def delete_tag(self, comp_id: str, name: str) -> None:
        repo = self.repo(comp_id)
        with self.locked(comp_id):
            ref = f"refs/tags/{name}"
            if ref not in repo.references:
                raise NotFound(f"no tag {name!r}", code="tag_not_found", details={"tag": name})
            repo.references.delete(ref)


def commit_info(commit: pygit2.Commit) -> dict:
    return {"id": str(commit.id), "short": str(commit.id)[:10], "author": author_of(commit),
            "author_name": commit.author.name, "time": commit.author.time,
            "message": summary_of(commit), "parents": [str(p) for p in commit.parent_ids]}


def write_tree(repo: pygit2.Repository, files: dict[str, bytes]) -> pygit2.Oid:
    """Write nested trees for ``{"a/b.txt": bytes}``; returns the root tree id."""
    nested: dict = {}
    for path, data in files.items():
        parts = path.split("/")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = data

    def build(node: dict) -> pygit2.Oid:
        tb = repo.TreeBuilder()
        for name in sorted(node):
            value = node[name]
            if isinstance(value, dict):
                tb.insert(name, build(value), pygit2.enums.FileMode.TREE)
            else:
                tb.insert(name, repo.create_blob(value), pygit2.enums.FileMode.BLOB)
        return tb.write()

    return build(nested)


def _walk(repo, tree, prefix, out):
    for entry in tree:
        path = prefix + entry.name
        if entry.type_str == "tree":
            _walk(repo, repo[entry.id], path + "/", out)
        else:
            out[path] = repo[entry.id].data


def _walk_ids(repo, tree, prefix, out):
    for entry in tree:
        path = prefix + entry.name
        if entry.type_str == "tree":
            _walk_ids(repo, repo[entry.id], path + "/", out)
        else:
            out[path] = entry.id
