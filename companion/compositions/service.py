"""Plain functions over compositions: what the API, the CLI and jobs call.

Every function takes the store, the band and the identity acting and checks the rights that
depend on the content (read access to a private piece, guest scopes, per-part ownership, who
may merge into main) before anything is changed, so the CLI and jobs get the same rules. The
HTTP layer has already checked the coarse right before reading the body (docs/rights.md).
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pygit2

from ..errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from . import rights
from .diff import diff_files, text_summary
from .merge import merge_files
from .midi import MidiError, read_midi, write_midi
from .model import (FORMAT_VERSION, GLOBAL_FILE, METADATA_FILE, PARTS_DIR, Composition, Event, FormatError, Part,
                    format_events,
                    format_line, measure_lines, parse_events, parse_global_event, slugify, validate_metadata)
from .store import MAIN, Author, Store, commit_info

FORMATS = ("midi", "musicxml", "canonical")


def author_for(ident) -> Author:
    return Author(ident.member_id or f"{ident.kind}:{ident.name}", ident.name or ident.member_id or "unknown")


def _meta(files: dict[str, bytes]) -> dict:
    return json.loads(files[METADATA_FILE])


def _head_meta(store: Store, repo: pygit2.Repository) -> dict:
    commit = store.resolve(repo, MAIN)
    return json.loads(repo[(commit.tree / METADATA_FILE).id].data)


def upgraded(files: dict[str, bytes]) -> dict[str, bytes]:
    """A version's files in the current format (FORMAT_VERSION): older versions are read and
    written again, which changes their format version and headers but not one note; files
    already current are returned as they are."""
    if _meta(files).get("version") == FORMAT_VERSION:
        return files
    return _load_checked(files).to_files()


def same_music(a: dict[str, bytes], b: dict[str, bytes]) -> bool:
    """Whether two versions hold the same piece, whatever their format versions: the same
    metadata (but the version), measure lines (comments aside) and files."""
    strip = lambda m: {k: v for k, v in m.items() if k != "version"}
    if strip(_meta(a)) != strip(_meta(b)) or set(a) != set(b):
        return False
    return all(measure_lines(a[p].decode()) == measure_lines(b[p].decode()) for p in a if p != METADATA_FILE)


def _load_checked(files: dict[str, bytes], known: dict[str, bytes] | None = None) -> Composition:
    """The composition in ``files``, every measure parsed and checked; with ``known`` (files in the
    current format that were checked when committed), only the measures whose text differs from
    theirs are parsed: an edit of one measure of a long piece checks that measure, not the piece
    (every check of the format is per measure)."""
    try:
        comp = Composition.from_files(files)
        if known is None or _meta(known).get("version") != FORMAT_VERSION:
            comp.parse_all()
            return comp
        for p in comp.parts:
            path = f"{PARTS_DIR}/{p.id}.txt"
            before = measure_lines(known[path].decode()) if path in known else {}
            for m, body in list(comp._lines.get(p.id, {}).items()):
                if before.get(m) != body:
                    comp.events(p.id, m)
        return comp
    except (FormatError, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise InvalidInput(f"not a valid composition: {exc}", code="bad_composition") from None


# --------------------------------------------------------------------------- compositions

def create_composition(store: Store, band, ident, title: str, comp_id: str | None = None,
                       parts: list[dict] | None = None, visibility: str = "private", measures: int = 0,
                       composition: Composition | None = None, message: str = "") -> dict:
    if rights._anonymous(ident):
        from ..errors import Unauthorized
        raise Unauthorized("sign in to create compositions")
    if not ident.has("compositions.write") or ident.kind == "guest":
        raise Forbidden("creating compositions needs compositions.write", code="missing_right",
                        details={"right": "compositions.write"})
    comp = composition or Composition()
    comp.title = title or comp.title or "Untitled"
    comp.visibility = visibility or comp.visibility
    if parts:
        comp.parts = [Part.from_dict(p) for p in parts]
    if measures:
        comp.measures = max(comp.measures, int(measures))
    comp_id = comp_id or slugify(comp.title, "composition")
    from .store import ID_RE
    if not ID_RE.match(comp_id):
        raise InvalidInput(f"{comp_id!r} is not a valid composition id (lowercase letters, digits, dashes)",
                           code="bad_composition_id")
    for p in comp.parts:
        if p.kind not in band.part_kinds:
            raise InvalidInput(f"part {p.id}: unknown part kind {p.kind!r}", code="bad_part_kind",
                               details={"part": p.id, "kinds": sorted(band.part_kinds)})
    files = comp.to_files()
    _load_checked(files)
    head = store.create(comp_id, files, author_for(ident), message or f"Create {comp.title}")
    return {"id": comp_id, "title": comp.title, "head": head, "visibility": comp.visibility,
            "parts": [p.to_dict() for p in comp.parts], "measures": comp.measures}


def list_compositions(store: Store, band, ident) -> list[dict]:
    out = []
    for cid in store.ids():
        try:
            repo = store.repo(cid)
            meta = _head_meta(store, repo)
        except (NotFound, KeyError):
            continue
        if rights.may_read(ident, cid, meta):
            out.append({"id": cid, "title": meta.get("title", ""), "visibility": meta.get("visibility", "private"),
                        "head": store.head(repo, MAIN), "parts": [p["id"] for p in meta.get("parts", [])],
                        "measures": meta.get("measures", 0)})
    return out


def _open_readable(store: Store, ident, comp_id: str) -> pygit2.Repository:
    repo = store.repo(comp_id)
    rights.require_read(ident, comp_id, _head_meta(store, repo))
    return repo


def get_composition(store: Store, band, ident, comp_id: str, rev: str | None = None, with_text: bool = False) -> dict:
    repo = _open_readable(store, ident, comp_id)
    commit = store.resolve(repo, rev)
    files = store.read_files(repo, commit)
    meta = _meta(files)
    out = {"id": comp_id, "title": meta.get("title", ""), "visibility": meta.get("visibility", "private"),
           "version": commit_info(commit), "measures": meta.get("measures", 0), "parts": meta.get("parts", []),
           "branches": store.branches(repo), "tags": store.tags(repo), "format_version": meta.get("version")}
    if with_text:
        out["files"] = {k: v.decode() for k, v in sorted(files.items())}
    return out


# --------------------------------------------------------------------------- commits

def _apply_measures(text: str, measures: dict, parse, fmt_events, dense_upto: int | None) -> str:
    lines = measure_lines(text)
    header = next((l for l in text.splitlines() if l.startswith("#")), None)
    for key, value in measures.items():
        try:
            m = int(key)
        except (TypeError, ValueError):
            raise InvalidInput(f"measure numbers are integers, not {key!r}", code="bad_measure") from None
        if m < 1:
            raise InvalidInput("measures are numbered from 1", code="bad_measure")
        if isinstance(value, list):
            try:
                events = [Event.from_dict(v) if isinstance(v, dict) else parse(m, v)[0] for v in value]
            except FormatError as exc:
                raise InvalidInput(f"measure {m}: {exc}", code="bad_events") from None
            lines[m] = fmt_events(events)
        elif isinstance(value, str):
            try:
                lines[m] = fmt_events(parse(m, value))
            except FormatError as exc:
                raise InvalidInput(f"measure {m}: {exc}", code="bad_events") from None
        else:
            raise InvalidInput(f"measure {m}: give a list of events or the measure's text", code="bad_events")
    upto = max([dense_upto or 0] + list(lines))
    rng = range(1, upto + 1) if dense_upto is not None else sorted(m for m in lines if lines[m])
    out = [header] if header else []
    out += [format_line(m, lines.get(m, "")) for m in rng]
    return "\n".join(out) + "\n"


def _part_parse(m: int, text: str) -> list:
    return parse_events(text)


def _global_parse(m: int, text: str) -> list:
    text = text.strip()
    return [parse_global_event(m, t) for t in text.split(" ; ")] if text else []


def _global_fmt(events: list) -> str:
    return " ; ".join(e.to_text() for e in sorted(events, key=lambda e: e.sort_key()))


def apply_changes(files: dict[str, bytes], changes: dict) -> dict[str, bytes]:
    """New files from a change: {"metadata": {...}, "global": {"text"|"measures"}, "parts": {id: {"text"|"measures"}}}."""
    new = dict(files)
    meta = _meta(files)
    if changes.get("metadata"):
        md = changes["metadata"]
        if not isinstance(md, dict):
            raise InvalidInput("metadata must be an object")
        for k, v in md.items():
            if k in ("format", "version"):
                continue
            meta[k] = v
        try:
            validate_metadata(meta)
        except FormatError as exc:
            raise InvalidInput(str(exc), code="bad_metadata", details=exc.details) from None
    part_ids = [p["id"] for p in meta.get("parts", [])]
    n = int(meta.get("measures", 0))
    for pid, ch in (changes.get("parts") or {}).items():
        if pid not in part_ids:
            raise NotFound(f"no part {pid!r} in this composition", code="part_not_found", details={"part": pid})
        path = f"{PARTS_DIR}/{pid}.txt"
        if not isinstance(ch, dict):
            raise InvalidInput(f"part {pid}: give text or measures")
        if "text" in ch:
            new[path] = ch["text"].encode()
        elif "measures" in ch:
            old = files.get(path, b"").decode()
            new[path] = _apply_measures(old, ch["measures"], _part_parse, format_events, n).encode()
        n = max([n] + list(measure_lines(new[path].decode())))
    if changes.get("global"):
        ch = changes["global"]
        if "text" in ch:
            new[GLOBAL_FILE] = ch["text"].encode()
        elif "measures" in ch:
            new[GLOBAL_FILE] = _apply_measures(files.get(GLOBAL_FILE, b"").decode(), ch["measures"], _global_parse,
                                               _global_fmt, None).encode()
    # keep metadata, part files and the measure count consistent
    meta["measures"] = max(n, int(meta.get("measures", 0)))
    for pid in part_ids:
        path = f"{PARTS_DIR}/{pid}.txt"
        if path not in new:
            new[path] = b""
    for path in [p for p in new if p.startswith(PARTS_DIR + "/") and p[len(PARTS_DIR) + 1:-4] not in part_ids]:
        del new[path]
    new[METADATA_FILE] = (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    comp = _load_checked(new, known=files)
    return comp.to_files()


def commit_change(store: Store, band, ident, comp_id: str, branch: str, parent: str | None, message: str,
                  changes: dict | None = None, files: dict[str, bytes] | None = None,
                  trailers: list[tuple[str, str]] | None = None) -> dict:
    """Commit a change on ``branch`` based on ``parent`` (409 with the head if stale).

    Either ``changes`` (see :func:`apply_changes`) or a whole new set of ``files``. ``trailers``:
    machine-readable lines for the message (the generator's ``Generated-by``, see store.py).
    Rights: compositions.write, guest scopes, and every touched part (403 naming the part).
    """
    repo = store.repo(comp_id)
    rights.require_read(ident, comp_id, _head_meta(store, repo))
    rights.require_write(ident, comp_id, branch)
    head = store.head(repo, branch)
    if head is None:
        raise NotFound(f"no branch {branch!r}", code="branch_not_found", details={"branch": branch})
    if parent is not None and (len(parent) < 7 or not head.startswith(parent)):
        raise Conflict(f"branch {branch!r} has moved on: your parent {parent} is not its head",
                       code="stale_parent", details={"branch": branch, "head": head, "parent": parent})
    base_commit = repo[head]
    old = upgraded(store.read_files(repo, base_commit))
    if files is None:
        new = apply_changes(old, changes or {})
    else:
        new = _load_checked(files).to_files()
    if new == old:
        raise InvalidInput("the change changes nothing", code="no_change")
    # ``old`` is in the current format, so a format upgrade touches no part: only the change does
    touched = rights.touched_parts(_meta(old), _meta(new), old, new)
    for pid, kind, _ in touched:
        if kind not in band.part_kinds:
            raise InvalidInput(f"part {pid}: unknown part kind {kind!r}", code="bad_part_kind")
    rights.require_parts(band, ident, comp_id, touched)
    oid = store.commit(comp_id, branch, new, author_for(ident), message, parent=head, trailers=trailers)
    return {"id": oid, "branch": branch, "parent": head, "touched": [t[0] for t in touched]}


# --------------------------------------------------------------------------- format upgrades

def migrate(store: Store, band, ident, comp_id: str, branches: list[str] | None = None, dry_run: bool = False
            ) -> list[dict]:
    """Upgrade the heads of a composition's branches (all, or ``branches``) to the current
    format version: one commit per branch whose head is older, authored by ``ident``, that
    changes the format version and file headers and not one note (so it touches no part and
    needs no part rights). Every write upgrades on its own too; this does it ahead, for all.
    Returns what was (or, with ``dry_run``, would be) done per branch."""
    repo = store.repo(comp_id)
    rights.require_read(ident, comp_id, _head_meta(store, repo))
    names = branches or [b["name"] for b in store.branches(repo)]
    out = []
    for name in names:
        head = store.head(repo, name)
        if head is None:
            raise NotFound(f"no branch {name!r}", code="branch_not_found", details={"branch": name})
        files = store.read_files(repo, repo[head])
        version = _meta(files).get("version")
        item = {"composition": comp_id, "branch": name, "from_version": version, "to_version": FORMAT_VERSION,
                "head": head, "commit": None}
        if version != FORMAT_VERSION:
            rights.require_write(ident, comp_id, name)
            new = upgraded(files)
            if not same_music(files, new):  # by construction it is; checked, since history is forever
                raise Conflict("upgrading would change the music; nothing was written", code="upgrade_changed_music",
                               details={"branch": name})
            if not dry_run:
                item["commit"] = store.commit(comp_id, name, new, author_for(ident),
                                              f"Upgrade to composition format v{FORMAT_VERSION}", parent=head)
        out.append(item)
    return out


# --------------------------------------------------------------------------- history

def _blob_at(commit: pygit2.Commit, path: str):
    try:
        return (commit.tree / path).id
    except KeyError:
        return None


def history(store: Store, band, ident, comp_id: str, rev: str | None = None, part: str | None = None,
            measure: int | None = None, limit: int = 100) -> list[dict]:
    """Commits reachable from ``rev``, newest first; with ``part`` only those that changed the part,
    with ``measure`` too only those that changed that measure (each with the measure's before/after)."""
    repo = _open_readable(store, ident, comp_id)
    start = store.resolve(repo, rev)
    path = None
    if part is not None:
        path = GLOBAL_FILE if part == "global" else f"{PARTS_DIR}/{part}.txt"
        if _blob_at(start, path) is None:
            meta = json.loads(repo[(start.tree / METADATA_FILE).id].data)
            if part != "global" and part not in [p["id"] for p in meta.get("parts", [])]:
                raise NotFound(f"no part {part!r}", code="part_not_found", details={"part": part})
    out = []
    walker = repo.walk(start.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    for c in walker:
        info = None
        if path is None:
            info = commit_info(c)
        else:
            mine = _blob_at(c, path)
            parents = list(c.parents)
            pblobs = [_blob_at(p, path) for p in parents]
            if mine is None or any(pb == mine for pb in pblobs):
                continue
            if pblobs and all(pb is not None for pb in pblobs) and any(
                    measure_lines(repo[pb].data.decode()) == measure_lines(repo[mine].data.decode()) for pb in pblobs):
                continue  # only the file's header changed (a format upgrade): not a change to the part
            if measure is None:
                info = commit_info(c)
            else:
                now = measure_lines(repo[mine].data.decode()).get(measure, "")
                before = [measure_lines(repo[pb].data.decode()).get(measure, "") if pb is not None else ""
                          for pb in pblobs] or [""]
                if all(b == now for b in before) or any(b == now for b in before):
                    continue
                info = commit_info(c)
                info["measure"] = {"measure": measure, "before": before[0], "after": now}
        out.append(info)
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- branches and tags

def list_branches(store, band, ident, comp_id):
    return store.branches(_open_readable(store, ident, comp_id))


def create_branch(store, band, ident, comp_id, name, start=None):
    repo = _open_readable(store, ident, comp_id)
    rights.require_write(ident, comp_id, name)
    return store.create_branch(comp_id, name, start)


def delete_branch(store, band, ident, comp_id, name):
    """Delete a branch (not main): band members with compositions.write; never guests, not even
    on the branch they were invited to."""
    _open_readable(store, ident, comp_id)
    rights.require_write(ident, comp_id, name)
    rights.require_member(ident, comp_id, "delete branches")
    if name == MAIN:
        raise InvalidInput("main cannot be deleted", code="main_branch")
    store.delete_branch(comp_id, name)


def list_tags(store, band, ident, comp_id):
    return store.tags(_open_readable(store, ident, comp_id))


def create_tag(store, band, ident, comp_id, name, rev=None, message=""):
    _open_readable(store, ident, comp_id)
    rights.require_write(ident, comp_id, MAIN)
    rights.require_member(ident, comp_id, "tag releases")
    return store.create_tag(comp_id, name, rev, author_for(ident), message)


def delete_tag(store, band, ident, comp_id, name):
    _open_readable(store, ident, comp_id)
    rights.require_merge(band, ident, comp_id, MAIN)
    store.delete_tag(comp_id, name)


# --------------------------------------------------------------------------- diff

def diff(store: Store, band, ident, comp_id: str, a: str, b: str) -> dict:
    repo = _open_readable(store, ident, comp_id)
    return diff_revisions(store, repo, a, b)


def diff_revisions(store: Store, repo: pygit2.Repository, a: str, b: str) -> dict:
    ca, cb = store.resolve(repo, a), store.resolve(repo, b)
    ia, ib = store.blob_ids(repo, ca), store.blob_ids(repo, cb)
    blobs = {"a": ia, "b": ib}
    result = diff_files({}, {}, ia, ib, getter=lambda side, path: repo[blobs[side][path]].data)
    result["from"] = {"revision": a, "id": str(ca.id)}
    result["to"] = {"revision": b, "id": str(cb.id)}
    return result


def diff_text(d: dict) -> str:
    return text_summary(d, d["from"]["revision"], d["to"]["revision"])


# --------------------------------------------------------------------------- merge

def merge_bases(repo: pygit2.Repository, a: pygit2.Oid, b: pygit2.Oid) -> list[pygit2.Oid]:
    """All best common ancestors of a and b (more than one in criss-cross history), sorted by
    commit time then id."""
    def ancestors(oid):
        seen, stack = set(), [oid]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            stack.extend(repo[x].parent_ids)
        return seen

    common = ancestors(a) & ancestors(b)
    below: set = set()
    stack = [p for c in common for p in repo[c].parent_ids]
    while stack:
        x = stack.pop()
        if x in below:
            continue
        below.add(x)
        stack.extend(repo[x].parent_ids)
    bases = [c for c in common if c not in below]
    return sorted(bases, key=lambda o: (repo[o].commit_time, str(o)))


def base_files(store: Store, repo: pygit2.Repository, a: pygit2.Oid, b: pygit2.Oid, depth: int = 0) -> dict[str, bytes]:
    """The merge base's files; with several bases (criss-cross), their recursive merge in which
    conflicting places keep the bases' own common ancestor (deterministic, documented)."""
    bases = merge_bases(repo, a, b)
    if not bases:
        return {}
    acc = store.read_files(repo, repo[bases[0]])
    for other in bases[1:]:
        if depth > 8:
            break
        bb = base_files(store, repo, bases[0], other, depth + 1)
        acc = merge_files(bb, acc, store.read_files(repo, repo[other]), policy="base").files
    return acc


def _merge_prepare(store: Store, repo, source: str, target: str) -> dict:
    ct, cs = store.resolve(repo, target), store.resolve(repo, source)
    out: dict[str, Any] = {"source": {"branch": source, "head": str(cs.id)}, "target": {"branch": target, "head": str(ct.id)}}
    if ct.id == cs.id or repo.descendant_of(ct.id, cs.id):
        out["status"] = "up_to_date"
        return out
    if repo.descendant_of(cs.id, ct.id):
        out["status"] = "fast_forward"
        return out
    out["bases"] = [str(x) for x in merge_bases(repo, ct.id, cs.id)]
    out["status"] = "merge"
    return out


def merge_preview(store: Store, band, ident, comp_id: str, source: str, target: str = MAIN,
                  resolutions: dict | None = None) -> dict:
    repo = _open_readable(store, ident, comp_id)
    info = _merge_prepare(store, repo, source, target)
    if info["status"] != "merge":
        info["conflicts"] = []
        return info
    res = _merge_compute(store, repo, info, resolutions)
    info["conflicts"] = res.conflicts
    info["stats"] = dict(res.stats)
    info["clean"] = res.clean
    return info


def _merge_compute(store, repo, info, resolutions):
    ct, cs = repo[info["target"]["head"]], repo[info["source"]["head"]]
    base = base_files(store, repo, ct.id, cs.id)
    base = upgraded(base) if base else base  # like with like: a format upgrade is no change to merge
    try:
        return merge_files(base, upgraded(store.read_files(repo, ct)), upgraded(store.read_files(repo, cs)),
                           resolutions)
    except FormatError as exc:
        raise InvalidInput(f"bad resolution: {exc}", code="bad_resolution") from None


def merge(store: Store, band, ident, comp_id: str, source: str, target: str = MAIN,
          resolutions: dict | None = None, message: str = "", expected_target: str | None = None) -> dict:
    """Merge ``source`` into ``target``; 409 with the conflicts if any remain unresolved,
    409 (stale_parent) if ``expected_target`` is given and the target moved."""
    repo = _open_readable(store, ident, comp_id)
    rights.require_merge(band, ident, comp_id, target)
    if store.head(repo, target) is None:
        raise NotFound(f"no branch {target!r}", code="branch_not_found", details={"branch": target})
    info = _merge_prepare(store, repo, source, target)
    head = info["target"]["head"]
    if expected_target is not None and not head.startswith(expected_target):
        raise Conflict(f"branch {target!r} has moved on", code="stale_parent",
                       details={"branch": target, "head": head, "parent": expected_target})
    if info["status"] == "up_to_date":
        return {**info, "id": head}
    if info["status"] == "fast_forward":
        store.set_branch(comp_id, target, info["source"]["head"], expected=head)
        return {**info, "id": info["source"]["head"]}
    res = _merge_compute(store, repo, info, resolutions)
    if res.conflicts:
        raise Conflict(f"{len(res.conflicts)} conflicts need a resolution", code="merge_conflicts",
                       details={"conflicts": res.conflicts, "target_head": head, "source_head": info["source"]["head"]})
    files = _load_checked(res.files).to_files()
    msg = message or f"Merge {source} into {target}"
    oid = store.commit(comp_id, target, files, author_for(ident), msg, parent=head,
                       extra_parents=[info["source"]["head"]])
    return {**info, "id": oid, "stats": dict(res.stats)}


# --------------------------------------------------------------------------- import / export

def parse_upload(data: bytes, fmt: str | None, filename: str = "", title: str = "", band=None) -> Composition:
    fmt = (fmt or "").lower()
    name = (filename or "").lower()
    if not fmt:
        if data[:4] == b"MThd" or name.endswith((".mid", ".midi")):
            fmt = "midi"
        elif name.endswith((".xml", ".musicxml", ".mxl")) or b"<score-" in data[:4000] or data[:2] == b"PK":
            fmt = "musicxml"
    if fmt == "midi":
        try:
            return read_midi(data, title=title, band=band)
        except MidiError as exc:
            raise Unprocessable(str(exc), code="bad_midi") from None
    if fmt == "musicxml":
        from .musicxml import MusicXMLError, read_musicxml
        try:
            return read_musicxml(data, title=title, band=band)
        except MusicXMLError as exc:
            raise Unprocessable(str(exc), code="bad_musicxml") from None
    raise InvalidInput("upload a MIDI (.mid) or MusicXML (.musicxml, .xml, .mxl) file", code="unknown_format")


def import_file(store: Store, band, ident, data: bytes, fmt: str | None = None, filename: str = "",
                comp_id: str | None = None, title: str = "", branch: str = MAIN, parent: str | None = None,
                message: str = "", visibility: str = "private") -> dict:
    """Import into a new composition (``comp_id`` absent or new) or as a commit on an existing one."""
    comp = parse_upload(data, fmt, filename, title, band)
    if comp_id and store.exists(comp_id):
        repo = store.repo(comp_id)
        old = _meta(store.read_files(repo, store.resolve(repo, branch)))
        comp.title = title or old.get("title", comp.title)
        comp.visibility = old.get("visibility", "private")
        # keep kinds and owners of parts that already exist
        old_parts = {p["id"]: p for p in old.get("parts", [])}
        for p in comp.parts:
            if p.id in old_parts:
                p.kind = old_parts[p.id].get("kind", p.kind)
                p.owner = old_parts[p.id].get("owner", p.owner)
        res = commit_change(store, band, ident, comp_id, branch, parent, message or f"Import {filename or 'file'}",
                            files=comp.to_files())
        return {"id": comp_id, "version": res["id"], "created": False}
    res = create_composition(store, band, ident, title or comp.title or slugify(filename.rsplit(".", 1)[0]),
                             comp_id=comp_id, visibility=visibility, composition=comp,
                             message=message or f"Import {filename or 'file'}")
    return {"id": res["id"], "version": res["head"], "created": True}


def export(store: Store, band, ident, comp_id: str, rev: str | None, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, mimetype, file name) of a version as midi, musicxml or canonical (zip)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", code="unknown_format")
    repo = _open_readable(store, ident, comp_id)
    commit = store.resolve(repo, rev)
    files = store.read_files(repo, commit)
    short = str(commit.id)[:10]
    if fmt == "canonical":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(files):
                info = zipfile.ZipInfo(f"{comp_id}/{path}", date_time=time.gmtime(commit.commit_time)[:6])
                zf.writestr(info, files[path])
        return buf.getvalue(), "application/zip", f"{comp_id}-{short}.zip"
    comp = Composition.from_files(files)
    if fmt == "midi":
        return write_midi(comp), "audio/midi", f"{comp_id}-{short}.mid"
    from .musicxml import MusicXMLError, write_musicxml
    try:
        data = write_musicxml(comp)
    except MusicXMLError as exc:
        raise Unprocessable(str(exc), code="musicxml_export") from None
    return data, "application/vnd.recordare.musicxml+xml", f"{comp_id}-{short}.musicxml"
