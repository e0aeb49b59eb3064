"""The studio's view of a composition: what the roll, the score and the rights panel need in one read.

Plain functions over the compositions store (no HTTP): the model at a version (measure grid,
tempo, every part's events as JSON, which parts the caller may change), a dry run of an edit
through the commit path (the same rights and format checks, nothing written), and the
composition's SoundFont (a subset of the render engine's with only the presets it plays).
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

from ..compositions import rights
from ..compositions import service as S
from ..compositions.model import Composition
from ..compositions.store import MAIN, Store
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized

DRUM_CHANNEL = 9


def _identity_out(band, ident) -> dict:
    kind = getattr(ident, "kind", "anonymous")
    return {"kind": kind, "id": getattr(ident, "member_id", None), "name": getattr(ident, "name", "anonymous"),
            "role": getattr(ident, "role", "anonymous"),
            "can_merge_main": (kind == "member" and ident.has("compositions.merge")
                               and ident.member_id in band.merge_into_main),
            "can_merge": kind != "anonymous" and ident.has("compositions.merge"),
            "scopes": dict(getattr(ident, "scopes", {}) or {})}


def _may_write(ident, comp_id: str, branch: str) -> str | None:
    """None when the caller may commit to ``branch`` at all; else why not (the error's code)."""
    try:
        rights.require_write(ident, comp_id, branch)
    except (Forbidden, Unauthorized) as exc:
        return exc.code
    return None


# The caller-independent part of the model at a commit (commits are content-addressed, so an entry never
# goes stale): parsing a 200-measure piece and turning its events into JSON is most of a model's cost.
_VERSIONS: OrderedDict[tuple[str, str, str], dict] = OrderedDict()
_VERSIONS_LOCK = threading.Lock()
_VERSIONS_MAX = 16


def _version_view(store: Store, repo, comp_id: str, commit) -> dict:
    key = (str(store.root), comp_id, str(commit.id))
    with _VERSIONS_LOCK:
        hit = _VERSIONS.get(key)
        if hit is not None:
            _VERSIONS.move_to_end(key)
            return hit
    comp = Composition.from_files(S.upgraded(store.read_files(repo, commit)))
    parts = []
    for p in comp.parts:
        measures: dict[str, list] = {}
        for m, ev in comp.all_events(p.id):
            measures.setdefault(str(m), []).append(ev.to_dict())
        parts.append({"part": p, "dict": p.to_dict(), "measures": measures})
    view = {"title": comp.title, "visibility": comp.visibility,
            "grid": [{"measure": i + 1, "start": str(s), "start_q": float(s), "length": str(n),
                      "length_q": float(n), "meter": meter} for i, (s, n, meter) in enumerate(comp.grid())],
            "tempo": [g.to_dict() for g in comp.global_events if g.kind == "tempo"],
            "signatures": [g.to_dict() for g in comp.global_events if g.kind in ("meter", "key")],
            "parts": parts}
    with _VERSIONS_LOCK:
        _VERSIONS[key] = view
        while len(_VERSIONS) > _VERSIONS_MAX:
            _VERSIONS.popitem(last=False)
    return view


def model(store: Store, band, ident, comp_id: str, rev: str | None = None, branch: str | None = None) -> dict:
    """The composition at ``rev`` as the studio draws it. ``branch`` is where edits would be committed."""
    repo = S._open_readable(store, ident, comp_id)
    commit = store.resolve(repo, rev or MAIN)
    view = _version_view(store, repo, comp_id, commit)
    branches = store.branches(repo)
    names = {b["name"] for b in branches}
    if branch is None:
        branch = rev if rev in names else MAIN
    on_head = any(b["name"] == branch and b["head"] == str(commit.id) for b in branches)
    why_not = _may_write(ident, comp_id, branch) if on_head else "not_branch_head"
    parts = []
    for entry in view["parts"]:
        p = entry["part"]
        may = why_not is None and rights.may_change(band, ident, p.id, p.kind, p.owner)
        owner = p.owner
        parts.append({**entry["dict"], "owner": owner,
                      "owner_name": band.members[owner].name if owner in band.members else None,
                      "editable": may,
                      "locked_reason": None if may else (why_not or "part_forbidden"),
                      "measures": entry["measures"]})
    return {"id": comp_id, "title": view["title"], "visibility": view["visibility"],
            "version": S.commit_info(commit), "branch": branch, "rev": rev or MAIN,
            "branches": branches, "tags": store.tags(repo),
            "grid": view["grid"], "tempo": view["tempo"], "signatures": view["signatures"],
            "identity": _identity_out(band, ident),
            "members": [{"id": m.id, "name": m.name} for m in band.members.values()], "writable": why_not is None, "write_refused": why_not,
            "parts": parts}


def check_edit(store: Store, band, ident, comp_id: str, branch: str, parent: str, changes: dict) -> dict:
    """Run an edit through the commit path without committing: format, stale parent and part rights."""
    repo = store.repo(comp_id)
    rights.require_read(ident, comp_id, S._head_meta(store, repo))
    rights.require_write(ident, comp_id, branch)
    head = store.head(repo, branch)
    if head is None:
        raise NotFound(f"no branch {branch!r}", code="branch_not_found", details={"branch": branch})
    old = S.upgraded(store.read_files(repo, repo[head]))
    if not isinstance(changes, dict):
        raise InvalidInput("changes must be an object", code="bad_events")
    new = S.apply_changes(old, changes)
    touched = rights.touched_parts(S._meta(old), S._meta(new), old, new)
    rights.require_parts(band, ident, comp_id, touched)
    return {"ok": True, "head": head, "stale": not head.startswith(parent or "-"),
            "touched": [t[0] for t in touched]}


def presets(store: Store, ident, comp_id: str, rev: str | None = None) -> set[tuple[int, int]]:
    """(bank, program) of every part at ``rev``: GM programs on bank 0, drums (channel 10) on bank 128."""
    repo = S._open_readable(store, ident, comp_id)
    meta = S._meta(store.read_files(repo, store.resolve(repo, rev or MAIN)))
    out = set()
    for p in meta.get("parts", []):
        if p.get("channel") == DRUM_CHANNEL:
            out.add((128, 0))
        else:
            out.add((0, int(p["program"]) if p.get("program") is not None else 0))
    return out or {(0, 0)}


def soundfont(source: Path, cache_dir: Path, wanted: set[tuple[int, int]]) -> Path:
    """A SoundFont with only ``wanted`` presets of ``source`` (cached by source and presets)."""
    from ..samples.sf2subset import subset

    if not source.exists():
        raise NotFound(f"the SoundFont {source} is not installed", code="soundfont_missing")
    key = hashlib.sha256(f"{source}:{source.stat().st_mtime_ns}:{sorted(wanted)}".encode()).hexdigest()[:24]
    out = cache_dir / f"{key}.sf2"
    if not out.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        try:
            subset(source, wanted, tmp)
        except ValueError as exc:  # a preset the font lacks
            tmp.unlink(missing_ok=True)
            raise InvalidInput(str(exc), code="preset_missing") from None
        tmp.replace(out)
    return out


def preview_musicxml(store: Store, ident, comp_id: str, rev: str, changes: dict, first: int | None = None,
                     last: int | None = None) -> bytes:
    """MusicXML of ``rev`` (measures first..last, or all) with ``changes`` applied as a commit would
    apply them, written nowhere."""
    repo = S._open_readable(store, ident, comp_id)
    files = S.upgraded(store.read_files(repo, store.resolve(repo, rev)))
    if not isinstance(changes, dict):
        raise InvalidInput("changes must be an object", code="bad_events")
    return window_musicxml(S.apply_changes(files, changes), first, last)


def musicxml(store: Store, ident, comp_id: str, rev: str, cache_dir: Path, first: int | None = None,
             last: int | None = None) -> tuple[bytes, str]:
    """(MusicXML, commit id) of a version, whole or measures first..last; kept per commit and window
    (a commit never changes) under ``cache_dir``."""
    repo = S._open_readable(store, ident, comp_id)
    commit = store.resolve(repo, rev)
    cid = str(commit.id)
    name = cid if first is None else f"{cid}-{first}-{last}"
    path = cache_dir / comp_id / f"{name}.musicxml"
    if path.exists():
        return path.read_bytes(), cid
    data = window_musicxml(S.upgraded(store.read_files(repo, commit)), first, last)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # visible only when complete
    return data, cid


CARRIED_PART = ("clef", "key", "meter")
CARRIED_GLOBAL = ("meter", "key", "tempo")
_MEASURE_NO = re.compile(rb'(<measure\b[^>]*?\bnumber=")(\d+)(")')


def window_files(files: dict[str, bytes], first: int, last: int) -> dict[str, bytes]:
    """The canonical files of measures ``first``..``last`` alone, renumbered from 1: the clef, key and
    meter of each part and the score's meter, key and tempo in force at ``first`` are carried into
    its first measure, so the window reads as it does in the whole piece."""
    import dataclasses
    import json

    from ..compositions.model import (GLOBAL_FILE, METADATA_FILE, PARTS_DIR, format_events, format_line,
                                      measure_lines, parse_events, parse_global_event)

    meta = json.loads(files[METADATA_FILE])
    out = dict(files)
    for p in meta.get("parts", []):
        path = f"{PARTS_DIR}/{p['id']}.txt"
        lines = measure_lines(files.get(path, b"").decode())
        carried: dict[str, object] = {}
        for m in sorted(k for k in lines if k < first):
            if any(f"{k}=" in lines[m] for k in CARRIED_PART):
                for e in parse_events(lines[m]):
                    if e.kind in CARRIED_PART:
                        carried[e.kind] = e
        body = []
        for m in range(first, last + 1):
            events = parse_events(lines.get(m, ""))
            if m == first:
                at_zero = {e.kind for e in events if e.onset == 0}
                events += [dataclasses.replace(e, onset=0) for k, e in carried.items() if k not in at_zero]
            body.append(format_line(m - first + 1, format_events(events)))
        out[path] = ("\n".join(body) + "\n").encode()
    gl = []
    for m, text in measure_lines(files.get(GLOBAL_FILE, b"").decode()).items():
        gl += [parse_global_event(m, t) for t in text.split(" ; ")] if text else []
    carried_g: dict[str, object] = {}
    for g in sorted((g for g in gl if g.measure < first), key=lambda g: (g.measure, g.onset)):
        if g.kind in CARRIED_GLOBAL:
            carried_g[g.kind] = g
    kept = [dataclasses.replace(g, measure=g.measure - first + 1) for g in gl if first <= g.measure <= last]
    at_start = {g.kind for g in kept if g.measure == 1 and g.onset == 0}
    kept += [dataclasses.replace(g, measure=1, onset=0) for k, g in carried_g.items() if k not in at_start]
    by: dict[int, list] = {}
    for g in kept:
        by.setdefault(g.measure, []).append(g)
    out[GLOBAL_FILE] = ("\n".join(format_line(m, " ; ".join(x.to_text() for x in sorted(by[m], key=lambda x: x.sort_key())))
                                  for m in sorted(by)) + "\n").encode()
    meta["measures"] = last - first + 1
    out[METADATA_FILE] = (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    return out


def window_musicxml(files: dict[str, bytes], first: int | None, last: int | None) -> bytes:
    """MusicXML of the whole piece, or of measures first..last numbered as in the piece."""
    from ..compositions.musicxml import MusicXMLError, write_musicxml
    from ..errors import Unprocessable

    n = int(S._meta(files).get("measures", 0))
    windowed = first is not None and n > 0
    if windowed:
        first = max(1, min(first, n))
        last = max(first, min(last or n, n))
        files = window_files(files, first, last)
    try:
        data = write_musicxml(Composition.from_files(files))
    except MusicXMLError as exc:
        raise Unprocessable(str(exc), code="musicxml_export") from None
    if windowed and first > 1:
        data = _MEASURE_NO.sub(lambda mo: mo.group(1) + str(int(mo.group(2)) + first - 1).encode() + mo.group(3), data)
    return data
