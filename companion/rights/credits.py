"""Credits and copyright: who wrote each note of a version, the shares, the split sheet, ISRC and ISWC.

Provenance ("blame") comes from the composition's git history. Every note is a token of its
measure's line (``<onset> <pitch> <duration> v<velocity> ...``); a note's origin is the commit that
last wrote that token in that measure: walking the history from the first commit, a token that a
commit's parent already had in the same measure keeps the parent's origin, any other token is the
commit's own (a merge keeps each token's origin from the parent it came from; only a resolution's
new tokens are the merger's). So changing a note's velocity or duration makes it the editor's note,
and moving a measure's other notes leaves it alone.

A commit is *generated* when its message carries a ``Generated-by`` trailer (the band's algorithms
write one per part: ``Generated-by: reed/reed-alto-sax part=sax seed=5 version=1.0``; older generator
commits are recognised by their ``(<parts>, seed N)`` summary), otherwise *hand-edited*.

Shares (docs/rights.md, "Credits and copyright"): every surviving note weighs its written duration in
quarter notes (grace notes: nothing). A hand-written note credits the commit's author (the member,
or the guest, who typed it). A generated note credits the member whose algorithm wrote it (the
commit's author: the generator commits each step as the member who owns the algorithm), weighted by
:data:`ALGORITHMIC_WEIGHT`. A member's share is their weight over the sum of all weights.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import pygit2

from ..compositions.model import METADATA_FILE, PARTS_DIR, FormatError, fmt_q, measure_lines, parse_event
from ..compositions.store import GENERATED_TRAILER, Store, author_of, summary_of, trailers_of
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized

#: The weight of a generated note against a hand-written one of the same duration. 1: the band's
#: algorithms are the members' own work (each wrote and owns theirs, and licenses it as theirs), so
#: a note their algorithm wrote is theirs like a note they typed. Lower it (e.g. 1/2) and the
#: hand-edited material weighs more; the split sheet prints the factor used.
ALGORITHMIC_WEIGHT = Fraction(1)

RELEASED = ("public", "premium")
_LEGACY_GENERATED = re.compile(r"\(([^()]*), seed (-?\d+)\)\s*$")
_GEN_RE = re.compile(r"^(?P<member>[^/\s]+)/(?P<algorithm>\S+)(?:\s+part=(?P<part>\S+))?\s+seed=(?P<seed>-?\d+)"
                     r"(?:\s+version=(?P<version>\S+))?")

# --------------------------------------------------------------------------- ISRC and ISWC

_ISRC_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}$")
_ISRC_DASHED = re.compile(r"^[A-Z]{2}-[A-Z0-9]{3}-[0-9]{2}-[0-9]{5}$")
_ISWC_RE = re.compile(r"^T-?(\d{3})\.?(\d{3})\.?(\d{3})-?(\d)$")


def normalize_isrc(value: str) -> str:
    """An ISRC (``CC-XXX-YY-NNNNN``, dashes optional) as its 12 characters; 400 ``bad_isrc`` otherwise."""
    text = (value or "").strip().upper()
    if _ISRC_DASHED.match(text):
        text = text.replace("-", "")
    if not _ISRC_RE.match(text):
        raise InvalidInput(f"{value!r} is not an ISRC: two letters (country), three letters or digits (registrant), "
                           "two digits (year), five digits (designation), e.g. US-S1Z-99-00001",
                           code="bad_isrc", details={"field": "isrc"})
    return text


def isrc_display(isrc: str | None) -> str | None:
    return f"{isrc[:2]}-{isrc[2:5]}-{isrc[5:7]}-{isrc[7:]}" if isrc else None


def iswc_check_digit(digits: str) -> int:
    """The ISWC check digit of nine digits: (10 - (1 + sum of i * d_i)) mod 10 (ISO 15707)."""
    return (10 - (1 + sum(i * int(d) for i, d in enumerate(digits, start=1))) % 10) % 10


def normalize_iswc(value: str) -> str:
    """An ISWC as ``T-DDD.DDD.DDD-C`` with its check digit verified; 400 ``bad_iswc`` otherwise."""
    text = (value or "").strip().upper()
    m = _ISWC_RE.match(text)
    if not m:
        raise InvalidInput(f"{value!r} is not an ISWC: T-DDD.DDD.DDD-C, e.g. T-034.524.680-1", code="bad_iswc",
                           details={"field": "iswc"})
    digits, check = "".join(m.group(1, 2, 3)), int(m.group(4))
    if iswc_check_digit(digits) != check:
        raise InvalidInput(f"{value!r} is not an ISWC: its check digit should be {iswc_check_digit(digits)}",
                           code="bad_iswc", details={"field": "iswc"})
    return f"T-{m.group(1)}.{m.group(2)}.{m.group(3)}-{check}"


# --------------------------------------------------------------------------- origins

@dataclass(frozen=True)
class Origin:
    """Who wrote a note: the commit, its author, and the algorithm and seed when generated."""

    commit: str
    member: str
    name: str
    time: int
    kind: str  # "generated" | "hand"
    algorithm: str | None
    seed: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit, "short": self.commit[:10], "member": self.member, "name": self.name,
                "time": self.time, "kind": self.kind, "algorithm": self.algorithm, "seed": self.seed,
                "message": self.message}


def origin_of(commit: pygit2.Commit, part: str) -> Origin:
    """The origin of the notes ``commit`` wrote in ``part``."""
    member = author_of(commit)
    summary = summary_of(commit)
    first = summary.splitlines()[0] if summary else ""
    algorithm, seed = None, None
    gens = [m for m in (_GEN_RE.match(v) for v in trailers_of(commit, GENERATED_TRAILER)) if m]
    if gens:
        mine = [g for g in gens if g.group("part") == part] or [g for g in gens if g.group("part") is None] or gens
        g = mine[0]
        algorithm, seed = f"{g.group('member')}/{g.group('algorithm')}", int(g.group("seed"))
    else:
        legacy = _LEGACY_GENERATED.search(first)
        if legacy and part in [p.strip() for p in legacy.group(1).split(",")]:
            algorithm, seed = f"{member}/(before trailers)", int(legacy.group(2))
    return Origin(str(commit.id), member, commit.author.name, commit.author.time,
                  "generated" if algorithm else "hand", algorithm, seed, first)


# --------------------------------------------------------------------------- blame

@lru_cache(maxsize=65536)
def _note(token: str):
    """The note a measure's token is (None: not a note, or not readable)."""
    try:
        ev = parse_event(token)
    except (FormatError, ValueError):
        return None
    return ev if ev.kind == "note" else None


def _tokens(body: str) -> list[str]:
    body = body.strip()
    return [t.strip() for t in body.split(" ; ")] if body else []


Blame = dict[int, list[tuple[str, str]]]  # measure -> [(note token, origin commit id)]


def _blame_blob(repo, blob_id, parent_states: list[tuple[Any, Blame]], commit_id: str) -> Blame:
    """The blame of a part file's new text, from its parents' (blob id, blame) pairs."""
    for pblob, pstate in parent_states:
        if pblob == blob_id:
            return pstate
    lines = measure_lines(repo[blob_id].data.decode())
    parent_lines = [(measure_lines(repo[pb].data.decode()) if pb is not None else {}, ps) for pb, ps in parent_states]
    out: Blame = {}
    for m, body in lines.items():
        notes = [t for t in _tokens(body) if _note(t) is not None]
        if not notes:
            continue
        same = next((ps.get(m, []) for pl, ps in parent_lines if pl.get(m) == body), None)
        if same is not None:
            out[m] = same
            continue
        pools = []  # per parent: token -> origins still unclaimed, in order
        for _, ps in parent_lines:
            pool: dict[str, list[str]] = {}
            for tok, origin in ps.get(m, []):
                pool.setdefault(tok, []).append(origin)
            pools.append(pool)
        row = []
        for tok in notes:
            origin = commit_id
            for pool in pools:
                if pool.get(tok):
                    origin = pool[tok].pop(0)
                    break
            row.append((tok, origin))
        out[m] = row
    return out


def blame(repo: pygit2.Repository, target: pygit2.Commit) -> dict[str, Blame]:
    """Every note of every part at ``target`` with the commit it comes from: ``{part id: {measure:
    [(token, commit id)]}}``. Walks the history once, oldest first; unchanged files cost nothing."""
    states: dict[str, dict[str, tuple[Any, Blame]]] = {}  # commit -> path -> (blob id, blame)
    order = list(repo.walk(target.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE))
    for c in order:
        cid = str(c.id)
        files: dict[str, tuple[Any, Blame]] = {}
        try:
            parts_tree = c.tree / PARTS_DIR
            entries = [(e.name, e.id) for e in repo[parts_tree.id]]
        except KeyError:
            entries = []
        parents = [states.get(str(p), {}) for p in c.parent_ids]
        for name, blob_id in entries:
            pstates = [p[name] if name in p else (None, {}) for p in parents]
            files[name] = (blob_id, _blame_blob(repo, blob_id, pstates, cid))
        states[cid] = files
    final = states[str(target.id)]
    return {name[:-4]: b for name, (_, b) in final.items() if name.endswith(".txt")}


# --------------------------------------------------------------------------- credits of a version

def _q(x: Fraction) -> str:
    return fmt_q(Fraction(x))


def compute(store: Store, band, comp_id: str, rev: str | None = None, with_notes: bool = False,
            weight: Fraction = ALGORITHMIC_WEIGHT) -> dict[str, Any]:
    """The credits of a version (no rights checked: callers do, see :func:`require_credits`)."""
    repo = store.repo(comp_id)
    target = store.resolve(repo, rev)
    meta = json.loads(repo[(target.tree / METADATA_FILE).id].data)
    parts = {p["id"]: p for p in meta.get("parts", [])}
    blamed = blame(repo, target)
    origins: dict[tuple[str, str], Origin] = {}

    def origin(cid: str, part: str) -> Origin:
        key = (cid, part)
        if key not in origins:
            origins[key] = origin_of(repo[cid], part)
        return origins[key]

    def display(member: str) -> str:
        m = band.members.get(member) if band is not None else None
        return m.name if m else member

    per_member: dict[str, dict[str, Any]] = {}
    per_commit: dict[str, dict[str, Any]] = {}
    per_part: dict[str, dict[str, Fraction]] = {}
    notes_out: list[dict[str, Any]] = []
    total = Fraction(0)
    for part in sorted(blamed):
        for m in sorted(blamed[part]):
            for tok, cid in blamed[part][m]:
                ev = _note(tok)
                o = origin(cid, part)
                dur = Fraction(0) if ev.grace else Fraction(ev.dur)
                w = dur * (weight if o.kind == "generated" else 1)
                total += w
                row = per_member.setdefault(o.member, {"member": o.member, "name": display(o.member),
                                                       "weight": Fraction(0), "quarters": Fraction(0),
                                                       "hand": Fraction(0), "generated": Fraction(0), "notes": 0,
                                                       "algorithms": set(), "parts": set()})
                row["weight"] += w
                row["quarters"] += dur
                row["hand" if o.kind == "hand" else "generated"] += dur
                row["notes"] += 1
                row["parts"].add(part)
                if o.algorithm:
                    row["algorithms"].add(o.algorithm)
                crow = per_commit.setdefault(cid, {**o.to_dict(), "algorithms": set(), "notes": 0,
                                                   "quarters": Fraction(0)})
                crow["notes"] += 1
                crow["quarters"] += dur
                if o.algorithm:
                    crow["algorithms"].add(o.algorithm)
                prow = per_part.setdefault(part, {})
                prow[o.member] = prow.get(o.member, Fraction(0)) + dur
                if with_notes:
                    notes_out.append({"part": part, "measure": m, "onset": _q(ev.onset), "pitch": ev.pitch,
                                      "duration": _q(ev.dur), "token": tok, **o.to_dict()})

    def share(w: Fraction) -> Fraction:
        return w / total if total else Fraction(0)

    shares = []
    for row in sorted(per_member.values(), key=lambda r: (-r["weight"], r["member"])):
        s = share(row["weight"])
        shares.append({"member": row["member"], "name": row["name"], "share": float(s), "share_exact": str(s),
                       "percent": round(float(s) * 100, 2), "weight": _q(row["weight"]),
                       "quarters": _q(row["quarters"]), "hand_quarters": _q(row["hand"]),
                       "generated_quarters": _q(row["generated"]), "notes": row["notes"],
                       "algorithms": sorted(row["algorithms"]), "parts": sorted(row["parts"])})
    performers = []
    for pid, p in parts.items():
        who = p.get("owner")
        if not who and per_part.get(pid):
            who = max(per_part[pid].items(), key=lambda kv: (kv[1], kv[0]))[0]
        if who:
            performers.append({"member": who, "name": display(who), "role": p.get("instrument") or p.get("name") or pid,
                               "part": pid})
    commits = sorted(({**c, "algorithms": sorted(c["algorithms"]), "quarters": _q(c["quarters"])}
                      for c in per_commit.values()), key=lambda c: c["time"])
    out = {"composition": comp_id, "title": meta.get("title", ""), "visibility": meta.get("visibility", "private"),
           "version": {"id": str(target.id), "short": str(target.id)[:10], "time": target.commit_time,
                       "revision": rev or "main"},
           "policy": {"weight": "sounding duration in quarter notes", "algorithmic_weight": str(weight),
                      "hand": "the commit's author", "generated": "the member whose algorithm wrote it"},
           "total_weight": _q(total), "notes": sum(r["notes"] for r in per_member.values()),
           "shares": shares, "performers": performers, "commits": commits}
    if with_notes:
        out["provenance"] = notes_out
    return out


def note_provenance(credits: dict, part: str, measure: int, onset: str | None = None,
                    pitch: str | None = None) -> list[dict]:
    """The provenance rows of :func:`compute` (with notes) that match a place in the score."""
    return [n for n in credits.get("provenance", []) if n["part"] == part and n["measure"] == measure
            and (onset is None or n["onset"] == onset) and (pitch is None or n["pitch"] == pitch)]


# --------------------------------------------------------------------------- who may read credits

def released_commits(session, comp_id: str) -> list[str]:
    """The commits of this composition that a released (public or premium) track sounds, newest track first."""
    import sqlalchemy as sa

    from ..catalog.models import Track

    rows = session.execute(sa.select(Track.composition_commit).where(
        Track.composition_id == comp_id, Track.release_state.in_(RELEASED),
        Track.composition_commit.is_not(None)).order_by(Track.id.desc())).scalars().all()
    return list(rows)


def readable_version(session, store: Store, ident, comp_id: str, rev: str | None) -> str:
    """The commit whose credits ``ident`` asks for, if they may read them (else 401/403/404).

    The band (``band.read_private``) and a guest whose invitation names the composition: any version.
    Anyone else (listeners, anonymous callers): only a released version (a public or premium track
    sounds it) of a public composition; without ``rev``, the newest released one."""
    from ..compositions.rights import _expired, _scope

    repo = store.repo(comp_id)
    head_meta = json.loads(repo[(store.resolve(repo, "main").tree / METADATA_FILE).id].data)
    live = ident is not None and ident.kind != "anonymous" and not _expired(ident)
    if live and (ident.has("band.read_private") if ident.kind != "guest"
                 else comp_id in (_scope(ident, "compositions") or [])):
        return str(store.resolve(repo, rev).id)
    anonymous = not live
    if head_meta.get("visibility") != "public":
        if anonymous:
            raise Unauthorized("sign in to read this composition's credits", details={"composition": comp_id})
        raise Forbidden(f"composition {comp_id!r} is private: its credits are the band's",
                        code="private_composition", details={"composition": comp_id})
    released = released_commits(session, comp_id)
    if rev is None:
        if not released:
            raise Forbidden(f"no version of {comp_id!r} is released yet: its credits are the band's",
                            code="credits_not_released", details={"composition": comp_id})
        return released[0]
    commit = str(store.resolve(repo, rev).id)
    if commit not in released:
        raise Forbidden(f"version {rev!r} of {comp_id!r} is not released: its credits are the band's",
                        code="credits_not_released", details={"composition": comp_id, "revision": rev})
    return commit


# --------------------------------------------------------------------------- tracks

def track_link(track) -> dict | None:
    """The composition version a track sounds, or None."""
    if not getattr(track, "composition_id", None) or not getattr(track, "composition_commit", None):
        return None
    return {"composition": track.composition_id, "commit": track.composition_commit}


def codes_of(session, comp_id: str | None) -> dict:
    from .models import CompositionCode

    row = session.get(CompositionCode, comp_id) if comp_id else None
    return {"iswc": row.iswc if row else None}


def set_composition_iswc(session, comp_id: str, iswc: str | None, by: str) -> dict:
    """Store (or clear) a composition's ISWC (already normalised); 409 if another composition has it."""
    import sqlalchemy as sa

    from ..errors import Conflict
    from .models import CompositionCode

    if iswc:
        other = session.execute(sa.select(CompositionCode.composition_id).where(
            CompositionCode.iswc == iswc, CompositionCode.composition_id != comp_id)).scalar()
        if other is not None:
            raise Conflict(f"ISWC {iswc} is already composition {other!r}'s", code="iswc_taken",
                           details={"composition": other})
    row = session.get(CompositionCode, comp_id)
    if row is None:
        row = CompositionCode(composition_id=comp_id)
        session.add(row)
    row.iswc, row.updated_by = iswc, by
    session.flush()
    return {"composition": comp_id, "iswc": iswc}


def track_credits(session, store: Store, band, track) -> dict[str, Any]:
    """A track's credits (shares and performers, no per-note detail) and codes; ``linked`` False with a
    message when the track sounds no composition version (an uploaded recording)."""
    link = track_link(track)
    iswc = track.iswc or codes_of(session, link["composition"] if link else None)["iswc"]
    out: dict[str, Any] = {"track": track.id, "title": track.title, "isrc": track.isrc,
                           "isrc_display": isrc_display(track.isrc), "iswc": iswc, "linked": link is not None}
    if link is None:
        out["message"] = ("this track is not linked to a composition version, so its credits cannot be "
                          "computed from history; link it (PUT /api/rights/tracks/<id>/codes with composition "
                          "and rev) or render it from a composition")
        out["credits"] = None
        return out
    out["composition"], out["commit"] = link["composition"], link["commit"]
    try:
        c = compute(store, band, link["composition"], link["commit"])
    except NotFound as exc:
        out["credits"] = None
        out["message"] = f"the linked composition version is gone: {exc.message}"
        return out
    out["credits"] = {k: c[k] for k in ("title", "version", "policy", "total_weight", "notes", "shares", "performers")}
    return out


def tag_credits(session, store: Store, band, track) -> dict[str, Any]:
    """What a track's files say about its credits: composers (by share), performers (role, name),
    ISRC, ISWC and a one-line summary (``SCRIPTHAMMER_CREDITS``). Empty lists when not linked."""
    info = track_credits(session, store, band, track)
    c = info.get("credits") or {}
    composers = tuple(s["name"] for s in c.get("shares", []) if Fraction(s["share_exact"]) > 0)
    performers = tuple((p["role"], p["name"]) for p in c.get("performers", []))
    summary = "; ".join(f"{s['name']} {s['percent']:g}%" for s in c.get("shares", []))
    if summary:
        summary = f"{summary} (version {c['version']['short']})"
    return {"composers": composers, "performers": performers, "isrc": info["isrc"], "iswc": info["iswc"],
            "summary": summary}


def credit_line(t: dict) -> str:
    """One readable line for a post from :func:`tag_credits`: composers with shares, then performers."""
    if not t["summary"]:
        return ""
    names: dict[str, list[str]] = {}
    for role, name in t["performers"]:
        names.setdefault(name, []).append(role)
    who = ", ".join(f"{name} ({', '.join(roles)})" for name, roles in names.items())
    return f"Written by {t['summary']}" + (f". Performed by {who}" if who else "")


# --------------------------------------------------------------------------- the split sheet

CSV_FIELDS = ("composition", "title", "version", "iswc", "member", "name", "share_percent", "share_exact",
              "weighted_quarters", "quarters", "hand_quarters", "generated_quarters", "notes", "algorithms", "roles")


def split_rows(credits: dict, iswc: str | None = None) -> list[dict[str, Any]]:
    roles: dict[str, list[str]] = {}
    for p in credits["performers"]:
        roles.setdefault(p["member"], []).append(p["role"])
    return [{"composition": credits["composition"], "title": credits["title"], "version": credits["version"]["id"],
             "iswc": iswc or "", "member": s["member"], "name": s["name"], "share_percent": f"{s['percent']:.2f}",
             "share_exact": s["share_exact"], "weighted_quarters": s["weight"], "quarters": s["quarters"],
             "hand_quarters": s["hand_quarters"], "generated_quarters": s["generated_quarters"],
             "notes": s["notes"], "algorithms": " ".join(s["algorithms"]),
             "roles": "; ".join(sorted(set(roles.get(s["member"], []))))} for s in credits["shares"]]


def split_csv(credits: dict, iswc: str | None = None) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    w.writeheader()
    for row in split_rows(credits, iswc):
        w.writerow(row)
    return buf.getvalue()


def split_html(credits: dict, iswc: str | None = None) -> str:
    """A printable split sheet (one page, signature lines)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['name'])}</td><td>{e(r['roles'])}</td><td class=n>{e(r['share_percent'])}%</td>"
        f"<td class=n>{e(r['weighted_quarters'])}</td><td class=n>{e(r['hand_quarters'])}</td>"
        f"<td class=n>{e(r['generated_quarters'])}</td><td>{e(r['algorithms'])}</td><td class=sig></td></tr>"
        for r in split_rows(credits, iswc))
    v = credits["version"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Split sheet: {e(credits['title'])}</title>
<style>
body{{font:11pt/1.4 system-ui,sans-serif;margin:2cm;color:#111}} h1{{font-size:18pt;margin:0 0 .2em}}
table{{border-collapse:collapse;width:100%;margin-top:1em}} th,td{{border:1px solid #999;padding:4px 6px;text-align:left}}
td.n{{text-align:right}} td.sig{{width:18%}} .meta{{color:#444}} @media print{{body{{margin:1cm}}}}
</style></head><body>
<h1>Split sheet: {e(credits['title'])}</h1>
<p class=meta>Composition <b>{e(credits['composition'])}</b>, version <code>{e(v['id'])}</code>
{('<br>ISWC <b>' + e(iswc) + '</b>') if iswc else ''}<br>
Shares by sounding duration of the notes that survive in this version (quarter notes); generated notes
weigh {e(credits['policy']['algorithmic_weight'])} and credit the member whose algorithm wrote them;
hand edits credit the editor. {credits['notes']} notes, {e(credits['total_weight'])} weighted quarter notes.</p>
<table><thead><tr><th>Writer</th><th>Roles</th><th>Share</th><th>Weighted quarters</th><th>Hand</th>
<th>Generated</th><th>Algorithms</th><th>Signature</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""


# --------------------------------------------------------------------------- credits in SHF bundles

#: Where a bundle carries its credits (docs/shf.md, "Credits"): covered by the manifest's hashes and
#: its signature like every other member.
BUNDLE_CREDITS = "credits/credits.json"
BUNDLE_SPLIT_SHEET = "credits/split-sheet.csv"


def provenance_summary(notes: list[dict]) -> list[dict[str, Any]]:
    """Per-note provenance (:func:`compute` with notes) folded into one row per (part, member, hand or
    algorithm and seed, commit): how many notes and quarter notes of the version each wrote."""
    rows: dict[tuple, dict[str, Any]] = {}
    for n in notes:
        k = (n["part"], n["member"], n["kind"], n.get("algorithm") or "", n.get("seed") or 0, n["commit"])
        row = rows.setdefault(k, {"part": n["part"], "member": n["member"], "name": n["name"], "kind": n["kind"],
                                  "algorithm": n.get("algorithm"), "seed": n.get("seed"), "commit": n["commit"],
                                  "notes": 0, "quarters": Fraction(0), "measures": set()})
        row["notes"] += 1
        ev = _note(n["token"])
        row["quarters"] += Fraction(0) if ev is None or ev.grace else Fraction(ev.dur)
        row["measures"].add(n["measure"])
    out = []
    for k in sorted(rows):
        r = rows[k]
        ms = sorted(r.pop("measures"))
        out.append({**r, "quarters": _q(r["quarters"]), "first_measure": ms[0], "last_measure": ms[-1]})
    return out


def bundle_credits(store: Store, band, comp_id: str, rev: str, iswc: str | None = None) -> dict[str, bytes]:
    """The credits members of a version's SHF bundle: ``credits/credits.json`` (shares, performers, the
    policy, and the per-note provenance folded per part, member and origin) and the split sheet as
    CSV. Deterministic for a version (a bundle built twice carries the same bytes)."""
    c = compute(store, band, comp_id, rev, with_notes=True)
    notes = c.pop("provenance")
    doc = {"format": "scripthammer-credits", "version": 1, "iswc": iswc, **c,
           "provenance_summary": provenance_summary(notes)}
    return {BUNDLE_CREDITS: (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(),
            BUNDLE_SPLIT_SHEET: split_csv(c, iswc).encode()}
