"""Three-way musical merge.

Per file: a file changed on one side only is taken from that side. Part files and the
global track merge measure by measure: a measure changed on one side (or identically on
both) is taken; a measure changed differently on both sides merges event by event.

Within a measure, changes are grouped by *position* (a voice and onset for notes, a
controller lane and onset for other events). At a position changed by one side only,
that side's change applies. Where both sides changed the same position, the merge is
clean when the changes are identical, or when both only change or delete *different*
existing notes (e.g. two notes of one chord); anything else (both add notes at the same
spot, or change the same note differently) is a conflict reported with its place (part,
measure, voice, beat) and the base, ours and theirs events at that place. A resolution
per conflict ("ours", "theirs" or given notes) replaces the events at that place.

Deterministic: events are kept in canonical order and conflicts sorted by place.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from .diff import event_changes, _pos_key
from .model import (GLOBAL_FILE, METADATA_FILE, PARTS_DIR, Event, FormatError, format_line, fmt_q,
                    measure_lines, parse_events, parse_global_event)


@dataclass
class MergeResult:
    files: dict[str, bytes]
    conflicts: list[dict] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)

    @property
    def clean(self) -> bool:
        return not self.conflicts


class Resolver:
    """How conflicts are settled: from the caller's resolutions, or (for virtual merge bases)
    by keeping the base's events."""

    def __init__(self, resolutions: dict[str, Any] | None = None, policy: str | None = None):
        self.resolutions = resolutions or {}
        self.policy = policy  # "base" for recursive merge bases

    def resolve(self, cid: str) -> Any:
        if self.policy == "base":
            return "base"
        return self.resolutions.get(cid)


def _side_changes(base: list, new: list) -> dict[tuple, list]:
    by: dict[tuple, list] = defaultdict(list)
    for a, b in event_changes(base, new):
        pos = (a or b).position()
        by[pos].append((a, b))
    return by


def _change_key(c: tuple) -> tuple:
    a, b = c
    return (a.to_text() if a else "", b.to_text() if b else "")


def _resolution_events(res: Any, parse: Callable[[str], list], measure: int) -> list:
    if isinstance(res, dict):
        if "notes" in res:
            notes = res["notes"]
            if isinstance(notes, str):
                return parse(notes)
            out = []
            for n in notes:
                if isinstance(n, str):
                    out.append(parse(n)[0])
                else:
                    out.append(Event.from_dict(n))
            return out
        if "text" in res:
            return parse(res["text"])
    raise FormatError("a resolution is 'ours', 'theirs', or {'notes': [...]} with the notes to use")


def merge_measure(base: str, ours: str, theirs: str, parse: Callable[[str], list], fmt: Callable[[list], str],
                  where: dict, resolver: Resolver, conflicts: list, stats: Counter) -> str:
    if ours == theirs:
        return ours
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    stats["measures_merged_by_event"] += 1
    b, o, t = parse(base), parse(ours), parse(theirs)
    co, ct = _side_changes(b, o), _side_changes(b, t)
    result = Counter(e.to_text() for e in b)
    objs = {e.to_text(): e for e in b + o + t}
    overrides: dict[tuple, list] = {}

    def apply(changes):
        for a, n in changes:
            if a is not None:
                result[a.to_text()] -= 1
            if n is not None:
                result[n.to_text()] += 1

    for pos in sorted(set(co) | set(ct), key=_pos_key):
        xo, xt = co.get(pos), ct.get(pos)
        if not xo or not xt:
            apply(xo or xt)
            continue
        so, st = sorted(map(_change_key, xo)), sorted(map(_change_key, xt))
        if so == st:
            apply(xo)
            continue
        if all(a is not None for a, _ in xo + xt) and not ({a.to_text() for a, _ in xo} & {a.to_text() for a, _ in xt}):
            apply(xo)
            apply(xt)
            stats["changes_merged_in_measure"] += 1
            continue
        # a conflict at this position
        at = lambda evs: [e for e in evs if e.position() == pos]
        cid = conflict_id(where, pos)
        res = resolver.resolve(cid)
        if res == "base":
            chosen = at(b)
        elif res == "ours":
            chosen = at(o)
        elif res == "theirs":
            chosen = at(t)
        elif res is not None:
            chosen = _resolution_events(res, parse, where.get("measure", 0))
        else:
            conflicts.append(_conflict(cid, where, pos, at(b), at(o), at(t)))
            chosen = at(o)  # placeholder; the merge is not committed while conflicts remain
        for e in at(b):
            result[e.to_text()] -= 1
        for e in chosen:
            objs.setdefault(e.to_text(), e)
            result[e.to_text()] += 1
        if res is not None and res != "base":
            stats["conflicts_resolved"] += 1
    events = []
    for text, n in result.items():
        events.extend([objs[text]] * max(n, 0))
    return fmt(events)


def conflict_id(where: dict, pos: tuple) -> str:
    bits = [where["part"], f"m{where['measure']}"]
    if pos[0] == "note":
        bits += [f"v{pos[1]}", fmt_q(pos[2])]
    else:
        bits += [str(x) for x in pos[:-1] if x is not None] + [fmt_q(pos[-1])]
    return ":".join(bits)


def _conflict(cid: str, where: dict, pos: tuple, b: list, o: list, t: list) -> dict:
    onset = pos[-1]
    place = {"part": where["part"], "measure": where["measure"], "beat": fmt_q(onset),
             "beat_number": float(onset + 1)}
    if pos[0] == "note":
        place["voice"] = pos[1]
    else:
        place["lane"] = pos[0] if pos[0] != "cc" else f"cc{pos[1]}"
        if pos[0] == "slur":
            place["voice"] = pos[1]
    return {"id": cid, "kind": "events", "place": place, "base": [e.to_dict() for e in b],
            "ours": [e.to_dict() for e in o], "theirs": [e.to_dict() for e in t]}


def _events_fmt(events: list) -> str:
    return " ; ".join(e.to_text() for e in sorted(events, key=lambda e: e.sort_key()))


def _global_parse_for(measure: int) -> Callable[[str], list]:
    def parse(body: str) -> list:
        body = body.strip()
        return [parse_global_event(measure, x) for x in body.split(" ; ")] if body else []
    return parse


def merge_lines_file(base: bytes, ours: bytes, theirs: bytes, name: str, dense_upto: int | None,
                     resolver: Resolver, conflicts: list, stats: Counter, is_global: bool) -> bytes:
    lb, lo, lt = (measure_lines(x.decode()) for x in (base, ours, theirs))
    header = next((l for l in ours.decode().splitlines() if l.startswith("#")), None)
    out_lines = [header] if header else []
    measures = sorted(set(lb) | set(lo) | set(lt))
    if dense_upto is not None:
        measures = list(range(1, max([dense_upto] + measures[-1:]) + 1))
    for m in measures:
        b, o, t = lb.get(m, ""), lo.get(m, ""), lt.get(m, "")
        parse = _global_parse_for(m) if is_global else parse_events
        body = merge_measure(b, o, t, parse, _events_fmt, {"part": name, "measure": m}, resolver, conflicts, stats)
        if body or dense_upto is not None:
            out_lines.append(format_line(m, body))
    return ("\n".join(out_lines) + "\n").encode()


def merge_metadata(base: dict, ours: dict, theirs: dict, resolver: Resolver, conflicts: list) -> dict:
    out: dict[str, Any] = {}

    def pick(key: str, b, o, t):
        if o == t or t == b:
            return o
        if o == b:
            return t
        cid = f"metadata:{key}"
        res = resolver.resolve(cid)
        if res == "base":
            return b
        if res == "theirs":
            return t
        if res == "ours":
            return o
        conflicts.append({"id": cid, "kind": "metadata", "place": {"field": key}, "base": b, "ours": o, "theirs": t})
        return o

    for k in sorted(set(base) | set(ours) | set(theirs)):
        if k in ("parts", "measures"):
            continue
        v = pick(k, base.get(k), ours.get(k), theirs.get(k))
        if v is not None:
            out[k] = v
    bm, om, tm = base.get("measures", 0), ours.get("measures", 0), theirs.get("measures", 0)
    out["measures"] = tm if om == bm else om if tm == bm else max(om, tm)
    pb = {p["id"]: p for p in base.get("parts", [])}
    po = {p["id"]: p for p in ours.get("parts", [])}
    pt = {p["id"]: p for p in theirs.get("parts", [])}
    order = [p["id"] for p in ours.get("parts", [])] + [p["id"] for p in theirs.get("parts", []) if p["id"] not in po]
    parts = []
    for pid in order:
        v = pick(f"parts.{pid}", pb.get(pid), po.get(pid), pt.get(pid))
        if v is not None:
            parts.append(v)
    out["parts"] = parts
    return out


def merge_files(base: dict[str, bytes], ours: dict[str, bytes], theirs: dict[str, bytes],
                resolutions: dict[str, Any] | None = None, policy: str | None = None) -> MergeResult:
    """Merge three versions given as {path: bytes}. Conflicts unresolved by ``resolutions``
    are returned (``result.clean`` is False); with ``policy="base"`` conflicts keep the base."""
    resolver = Resolver(resolutions, policy)
    conflicts: list[dict] = []
    stats: Counter = Counter()
    mb = json.loads(base.get(METADATA_FILE, b"{}") or b"{}")
    mo = json.loads(ours[METADATA_FILE])
    mt = json.loads(theirs[METADATA_FILE])
    if mo == mt or mt == mb:
        meta, raw = mo, ours[METADATA_FILE]
    elif mo == mb:
        meta, raw = mt, theirs[METADATA_FILE]
    else:
        meta = merge_metadata(mb, mo, mt, resolver, conflicts)
        raw = (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    files: dict[str, bytes] = {METADATA_FILE: raw}
    part_ids = {p["id"] for p in meta.get("parts", [])}
    n_measures = int(meta.get("measures", 0))
    paths = sorted(set(base) | set(ours) | set(theirs))
    for path in paths:
        if path == METADATA_FILE:
            continue
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        is_part = path.startswith(PARTS_DIR + "/") and path.endswith(".txt")
        pid = path[len(PARTS_DIR) + 1:-4] if is_part else None
        if is_part and pid not in part_ids:
            continue  # the part was removed (metadata decided)
        if o == t:
            merged = o
        elif o == b and (not is_part or dense_ok(o, t, n_measures)):
            merged = t
        elif t == b and (not is_part or dense_ok(t, o, n_measures)):
            merged = o
        elif path == GLOBAL_FILE or is_part:
            stats["files_merged_by_measure"] += 1
            merged = merge_lines_file(b or b"", o or b"", t or b"", "global" if path == GLOBAL_FILE else pid,
                                      n_measures if is_part else None, resolver, conflicts, stats,
                                      is_global=path == GLOBAL_FILE)
        else:
            cid = f"file:{path}"
            res = resolver.resolve(cid)
            if res in ("ours", "theirs", "base"):
                merged = {"ours": o, "theirs": t, "base": b}[res]
            else:
                conflicts.append({"id": cid, "kind": "file", "place": {"file": path}})
                merged = o
        if merged is not None:
            files[path] = merged
    conflicts.sort(key=lambda c: c["id"])
    return MergeResult(files=files, conflicts=conflicts, stats=stats)


def dense_ok(taken: bytes | None, other: bytes | None, n_measures: int) -> bool:
    """Whether a part file taken whole still has a line for every measure of the merged piece."""
    if taken is None:
        return True
    return taken.count(b"\n") - 1 >= n_measures
