"""Musical diff between two versions of a composition.

Fast by construction: files whose blob ids match are skipped, part files are compared
line by line (one line per measure) and only measures whose text differs are parsed.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from fractions import Fraction
from typing import Any, Callable

from .model import (GLOBAL_FILE, METADATA_FILE, PARTS_DIR, SPAN_KINDS, Event, measure_lines,
                    parse_events, parse_global_event)


def event_changes(base: list, new: list) -> list[tuple[Any, Any]]:
    """Changes from ``base`` to ``new`` as (old, new) pairs: (None, e) added, (e, None) removed,
    (a, b) changed. Unchanged events (same text) are left out. Removed and added events at the
    same position pair up: same pitch first (a duration/velocity change), then in pitch order."""
    bt = Counter(e.to_text() for e in base)
    nt = Counter(e.to_text() for e in new)
    removed, added = [], []
    left = bt - nt
    for e in base:
        t = e.to_text()
        if left[t] > 0:
            left[t] -= 1
            removed.append(e)
    right = nt - bt
    for e in new:
        t = e.to_text()
        if right[t] > 0:
            right[t] -= 1
            added.append(e)
    if not removed and not added:
        return []
    by_pos: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for e in removed:
        by_pos[e.position()][0].append(e)
    for e in added:
        by_pos[e.position()][1].append(e)
    out: list[tuple[Any, Any]] = []
    for pos in sorted(by_pos, key=_pos_key):
        rs, as_ = by_pos[pos]
        rs = sorted(rs, key=lambda e: e.sort_key())
        as_ = sorted(as_, key=lambda e: e.sort_key())
        # same identity (pitch/channel) first
        for r in list(rs):
            for a in as_:
                if a.identity() == r.identity():
                    out.append((r, a))
                    rs.remove(r)
                    as_.remove(a)
                    break
        while rs and as_:
            out.append((rs.pop(0), as_.pop(0)))
        out.extend((r, None) for r in rs)
        out.extend((None, a) for a in as_)
    return out


def _pos_key(pos: tuple) -> tuple:
    return tuple((0, x) if isinstance(x, (int, Fraction)) else (1, str(x)) for x in pos)


def changed_fields(a: Event, b: Event) -> list[str]:
    if a.kind != b.kind:
        return ["kind"]
    if a.kind in SPAN_KINDS:
        names = {"dur": "span", "voice": "voice", "value": "grace_ends"}
        return [names[f] for f in names if getattr(a, f) != getattr(b, f)]
    if not isinstance(a, Event):  # a score-wide event: tempo, meter, key, length, marker
        names = {"value": "value", "beat": "beat", "text": "text", "implicit": "implicit", "shown": "shown",
                 "symbol": "symbol"}
        return [names[f] for f in names if getattr(a, f) != getattr(b, f)]
    if a.kind != "note":
        return [f for f in ("value", "ch") if getattr(a, f) != getattr(b, f)]
    names = {"pitch": "pitch", "dur": "duration", "vel": "velocity", "ch": "channel", "off": "off_velocity",
             "voice": "voice", "tie": "tie", "grace": "grace", "art": "articulations", "orn": "ornaments",
             "lyrics": "lyrics", "onset": "onset"}
    return [names[f] for f in names if getattr(a, f) != getattr(b, f)]


#: What a change is about, for the summary's ``by_kind`` counts: notation elements by their kind,
#: a note's articulations and ornaments apart from its other fields.
def change_kinds(a: Event | None, b: Event | None) -> list[str]:
    e = a or b
    if a is None or b is None or a.kind != b.kind:
        return [e.kind if e.kind != "note" else "notes"]
    if e.kind != "note":
        return [e.kind]
    fields = changed_fields(a, b)
    out = [f for f in ("articulations", "ornaments") if f in fields]
    if len(out) < len(fields):
        out.append("notes")
    return out


def _measure_diff(base_body: str, new_body: str, parse: Callable[[str], list], kinds: Counter | None = None) -> dict:
    changes = event_changes(parse(base_body), parse(new_body))
    out: dict[str, list] = {"added": [], "removed": [], "changed": []}
    for a, b in changes:
        if kinds is not None:
            if isinstance(a or b, Event):
                kinds.update(change_kinds(a, b))
            else:
                kinds[(a or b).kind] += 1
        if a is None:
            out["added"].append(b.to_dict())
        elif b is None:
            out["removed"].append(a.to_dict())
        else:
            out["changed"].append({"from": a.to_dict(), "to": b.to_dict(), "fields": changed_fields(a, b)})
    return out


def _global_parser(measure: int) -> Callable[[str], list]:
    def parse(body: str) -> list:
        body = body.strip()
        return [parse_global_event(measure, t) for t in body.split(" ; ")] if body else []
    return parse


def diff_files(a: dict[str, bytes], b: dict[str, bytes], a_ids: dict | None = None, b_ids: dict | None = None,
               getter: Callable[[str, str], bytes] | None = None) -> dict:
    """Diff two versions given as {path: bytes} (or lazily via ``getter(side, path)`` with blob ids)."""
    paths = sorted(set(a_ids or a) | set(b_ids or b))

    def read(side: str, path: str) -> bytes | None:
        src = a if side == "a" else b
        if path in src:
            return src[path]
        if getter is not None and path in (a_ids if side == "a" else b_ids):
            return getter(side, path)
        return None

    def same(path: str) -> bool:
        if a_ids is not None and b_ids is not None:
            return a_ids.get(path) == b_ids.get(path)
        return a.get(path) == b.get(path)

    result: dict[str, Any] = {"metadata": [], "global": [], "parts": []}
    summary = Counter()
    by_kind: Counter = Counter()
    meta_a = json.loads(read("a", METADATA_FILE) or b"{}")
    meta_b = json.loads(read("b", METADATA_FILE) or b"{}") if not same(METADATA_FILE) else meta_a
    if not same(METADATA_FILE):
        result["metadata"] = metadata_changes(meta_a, meta_b)
        if meta_a.get("version") != meta_b.get("version"):
            result["format"] = {"from": meta_a.get("version"), "to": meta_b.get("version")}
    parts_a = {p["id"]: p for p in meta_a.get("parts", [])}
    parts_b = {p["id"]: p for p in meta_b.get("parts", [])}
    if not same(GLOBAL_FILE):
        la = measure_lines((read("a", GLOBAL_FILE) or b"").decode())
        lb = measure_lines((read("b", GLOBAL_FILE) or b"").decode())
        for m in sorted(set(la) | set(lb)):
            if la.get(m, "") != lb.get(m, ""):
                d = _measure_diff(la.get(m, ""), lb.get(m, ""), _global_parser(m), by_kind)
                for k in ("added", "removed", "changed"):
                    for item in d[k]:
                        result["global"].append({"change": k, "measure": m, **(
                            {"from": item["from"], "to": item["to"]} if k == "changed" else {"event": item})})
                        summary[f"global_{k}"] += 1
    order = [p for p in parts_a] + [p for p in parts_b if p not in parts_a]
    for pid in order:
        path = f"{PARTS_DIR}/{pid}.txt"
        status = "changed"
        if pid not in parts_b:
            status = "removed"
        elif pid not in parts_a:
            status = "added"
        elif same(path):
            continue
        la = measure_lines((read("a", path) or b"").decode()) if pid in parts_a else {}
        lb = measure_lines((read("b", path) or b"").decode()) if pid in parts_b else {}
        measures = []
        for m in sorted(set(la) | set(lb)):
            ba, bb = la.get(m, ""), lb.get(m, "")
            if ba == bb:
                continue
            d = _measure_diff(ba, bb, parse_events, by_kind)
            d["measure"] = m
            summary["notes_added"] += sum(1 for e in d["added"] if e["kind"] == "note")
            summary["notes_removed"] += sum(1 for e in d["removed"] if e["kind"] == "note")
            summary["notes_changed"] += sum(1 for e in d["changed"] if e["to"]["kind"] == "note")
            summary["events_changed"] += len(d["added"]) + len(d["removed"]) + len(d["changed"])
            measures.append(d)
        if measures or status != "changed":
            result["parts"].append({"part": pid, "status": status, "measures": measures})
            summary["measures_changed"] += len(measures)
    result["summary"] = {k: summary.get(k, 0) for k in
                         ("notes_added", "notes_removed", "notes_changed", "events_changed", "measures_changed",
                          "global_added", "global_removed", "global_changed")}
    result["summary"]["by_kind"] = dict(sorted(by_kind.items()))
    return result


def metadata_changes(a: dict, b: dict) -> list[dict]:
    out = []
    for k in sorted(set(a) | set(b)):
        if k in ("parts", "version", "format"):
            continue  # a format upgrade is reported apart ("format"), not as a change to the piece
        if a.get(k) != b.get(k):
            out.append({"field": k, "from": a.get(k), "to": b.get(k)})
    pa = {p["id"]: p for p in a.get("parts", [])}
    pb = {p["id"]: p for p in b.get("parts", [])}
    for pid in list(pa) + [p for p in pb if p not in pa]:
        if pa.get(pid) != pb.get(pid):
            out.append({"field": f"parts.{pid}", "from": pa.get(pid), "to": pb.get(pid)})
    return out


# --------------------------------------------------------------------------- text summary

def _ev_text(e: dict) -> str:
    kind = e["kind"]
    if kind == "note":
        bits = [f"{e['duration']}q", f"v{e['velocity']}"]
        if e.get("voice"):
            bits.append(f"voice {e['voice']}")
        if e.get("tie"):
            bits.append(f"tie {e['tie']}")
        bits += e.get("articulations", []) + e.get("ornaments", [])
        return f"{e['pitch']}{' grace' if e.get('grace') else ''} ({', '.join(bits)})"
    if kind == "cc":
        return f"controller {e['number']} = {e['value']}"
    if kind == "tempo" or (isinstance(e.get("value"), dict) and "bpm" in e["value"]):
        text = f"tempo {e['value']['bpm']} bpm"
        if e.get("text"):
            text += f" \"{e['text']}\""
        if e.get("beat") not in (None, "1"):
            text += f" ({e['number']} per {e['beat']}q)"
        return text
    if kind == "key":
        return f"key {e['value']['name'] if e['value'] else 'none'}"
    if kind == "clef":
        return f"clef {e['value']}"
    if kind == "meter":
        return f"meter {e['value']}"
    if kind == "slur":
        return f"slur over {e['span']}q{', voice ' + str(e['voice']) if e.get('voice', 1) != 1 else ''}"
    if kind in ("cresc", "dim"):
        return f"{'crescendo' if kind == 'cresc' else 'diminuendo'} over {e['span']}q"
    if kind == "dyn":
        return f"dynamic {e['value']}"
    return f"{kind} {e['value']}"


def _beat(onset: str) -> str:
    q = Fraction(onset) + 1
    return str(q) if q.denominator == 1 else f"{q.numerator // q.denominator}+{q - q.numerator // q.denominator}"


def text_summary(d: dict, a_name: str = "a", b_name: str = "b") -> str:
    """A readable summary of a diff (what ?format=text returns)."""
    s = d["summary"]
    lines = [f"Changes from {a_name} to {b_name}: {s['notes_added']} notes added, {s['notes_removed']} removed, "
             f"{s['notes_changed']} changed in {s['measures_changed']} measures."]
    other = {k: v for k, v in s.get("by_kind", {}).items() if k != "notes"}
    if other:
        lines.append("  notation: " + ", ".join(f"{v} {k}" for k, v in other.items()))
    if d.get("format"):
        lines.append(f"  format version {d['format']['from']} -> {d['format']['to']}")
    for m in d.get("metadata", []):
        lines.append(f"  metadata {m['field']}: {json.dumps(m['from'])} -> {json.dumps(m['to'])}")
    for g in d.get("global", []):
        if g["change"] == "changed":
            lines.append(f"  bar {g['measure']} beat {_beat(g['to']['onset'])}: {_ev_text(g['from'])} -> {_ev_text(g['to'])}")
        else:
            lines.append(f"  bar {g['measure']} beat {_beat(g['event']['onset'])}: {g['change']} {_ev_text(g['event'])}")
    for p in d.get("parts", []):
        if p["status"] != "changed":
            lines.append(f"part {p['part']}: {p['status']}")
        else:
            lines.append(f"part {p['part']}:")
        for m in p["measures"]:
            bits = []
            for e in m["added"]:
                bits.append(f"+{_ev_text(e)} at beat {_beat(e['onset'])}")
            for e in m["removed"]:
                bits.append(f"-{_ev_text(e)} at beat {_beat(e['onset'])}")
            for c in m["changed"]:
                bits.append(f"{_ev_text(c['from'])} -> {_ev_text(c['to'])} at beat {_beat(c['to']['onset'])}"
                            f" [{', '.join(c['fields'])}]")
            lines.append(f"  bar {m['measure']}: " + "; ".join(bits))
    return "\n".join(lines) + "\n"
