"""Generating music with the band: each member's algorithm writes its part, committed as that member.

:func:`compose` is pure (a Composition in, the same Composition with the band's parts out) and
is what SHF regeneration runs. :func:`generate` does the same through the compositions' git
store: it creates (or reuses) a composition, starts a branch, and commits each step authored by
the member who wrote it, so generated music goes through the same history, rights and merge
as human work:

1. Form lays out the sections (tempo, meter, key, a marker per section) — if none exist yet;
2. Ivory, as leader and arranger, writes the arrangement into the markers (who is featured,
   who doubles the melody, who lays out) and records the seed and parameters;
3. Chops, Crash, Ivory, Reed, Brass and Verse write their parts in that order (harmony first,
   so the others play over the changes);
4. Form shapes the dynamics and the mix (its ``form`` part) last.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from ..compositions.model import Composition, GlobalEvent, Part
from .base import Params, Request, sections_of
from .instruments import Instrument, load_instruments
from .members import form as form_mod
from .members.ivory import arrange
from .registry import ALGORITHMS_VERSION, WRITING_ORDER, algorithm_for

DEFAULT_MEASURES = 32


@dataclass
class Step:
    member: str
    message: str
    parts: list[str] = field(default_factory=list)
    touches_global: bool = False
    touches_metadata: bool = False
    #: machine-readable provenance for the commit message (``Generated-by`` trailers, see credits)
    trailers: list[tuple[str, str]] = field(default_factory=list)


def generated_by(member: str, algorithm: str, seed: int, part: str | None = None) -> tuple[str, str]:
    """The ``Generated-by`` trailer of a commit an algorithm wrote: who, which algorithm (the
    instrument id the registry plays it for, or a step such as ``layout``), the part and the seed."""
    where = f" part={part}" if part else ""
    return ("Generated-by", f"{member}/{algorithm}{where} seed={int(seed)} version={ALGORITHMS_VERSION}")


def part_for(inst: Instrument) -> Part:
    return Part(id=inst.part, name=inst.name, instrument=inst.name,
                program=None if inst.percussion else inst.program, channel=inst.channel, kind=inst.part_kind,
                owner=inst.member)


def instruments_for(members, instruments: dict[str, Instrument] | None = None) -> list[Instrument]:
    instruments = instruments or load_instruments()
    return [i for i in instruments.values() if i.member in members]


def _ensure_parts(comp: Composition, insts: list[Instrument]) -> list[str]:
    have = {p.id for p in comp.parts}
    added = []
    for inst in insts:
        if inst.part not in have:
            comp.parts.append(part_for(inst))
            added.append(inst.part)
    return added


def _write_part(comp: Composition, req_base: dict, inst: Instrument, sections) -> None:
    alg = algorithm_for(inst.id)
    for m in range(1, comp.measures + 1):
        comp.set_events(inst.part, m, [])
    for sec in sections:
        req = Request(composition=comp, section=sec, instrument=inst, sections=sections, **req_base)
        result = alg.generate(req)
        for m, evs in result.measures.items():
            if sec.start <= m <= sec.end:
                comp.set_events(inst.part, m, evs)


def compose(comp: Composition | None, seed: int, params: Params, measures: int | None = None,
            members=None, instruments: dict[str, Instrument] | None = None,
            on_step: Callable[[Step, Composition], None] | None = None) -> Composition:
    """Have the band (or ``members`` of it) write into ``comp`` (a new piece when None).

    ``on_step(step, comp)`` is called after each member's step with the composition as it then
    is (the git-backed :func:`generate` commits there). Deterministic for (comp, seed, params).
    """
    instruments = instruments or load_instruments()
    members = tuple(members or WRITING_ORDER)
    comp = comp if comp is not None else Composition(title="Untitled")
    measures = int(measures or comp.measures or DEFAULT_MEASURES)
    comp.measures = max(comp.measures, measures)
    insts = instruments_for(members, instruments)
    emit = on_step or (lambda step, c: None)
    req_base = {"seed": seed, "params": params}

    has_markers = any(g.kind == "marker" for g in comp.global_events)
    if not has_markers:
        sections = form_mod.layout(comp.measures, seed, params)
        if "form" in members:
            comp.global_events = [g for g in comp.global_events if g.kind not in ("marker", "tempo", "meter", "key")]
            comp.global_events += form_mod.global_events(sections, params)
            emit(Step("form", f"Form lays out {len(sections)} sections: "
                      + ", ".join(f"{s.name} ({s.measures})" for s in sections), touches_global=True,
                      trailers=[generated_by("form", "layout", seed)]), comp)
    sections = sections_of(comp) if any(g.kind == "marker" for g in comp.global_events) else \
        form_mod.layout(comp.measures, seed, params)
    if "ivory" in members:
        present = {i.member for i in instruments.values()}
        sections = arrange(sections, seed, present)
        comp.global_events = [g for g in comp.global_events if not (g.kind == "marker" and g.onset == 0)]
        comp.global_events += [GlobalEvent(s.start, Fraction(0), "marker", s.marker()) for s in sections]
        comp.meta_extra["generation"] = {"seed": seed, "params": params.to_dict(), "members": list(members),
                                         "algorithms_version": ALGORITHMS_VERSION}
        emit(Step("ivory", "Ivory arranges: " + "; ".join(
            f"{s.name}: {('feature ' + s.feature) if s.feature else 'ensemble'}" for s in sections),
            touches_global=True, touches_metadata=True, trailers=[generated_by("ivory", "arrange", seed)]), comp)

    for member in WRITING_ORDER:
        if member not in members:
            continue
        mine = [i for i in insts if i.member == member]
        if member == "form":
            mine = [i for i in mine if i.part_kind == "form"]
        if not mine:
            continue
        _ensure_parts(comp, mine)
        for inst in mine:
            _write_part(comp, req_base, inst, sections)
        names = ", ".join(i.part for i in mine)
        message = {"form": "Form shapes the dynamics and the mix", "chops": "Chops writes the changes",
                   "crash": "Crash lays down the groove and the bass", "ivory": "Ivory writes the melody",
                   "reed": "Reed takes his solo", "brass": "Brass takes the spotlight",
                   "verse": "Verse sets the lyrics"}.get(member, f"{member} writes")
        emit(Step(member, f"{message} ({names}, seed {seed})", parts=[i.part for i in mine],
                  trailers=[generated_by(member, i.id, seed, i.part) for i in mine]), comp)
    return comp


# --------------------------------------------------------------------------- through the git store

def _branch_name(store, comp_id: str, seed: int) -> str:
    repo = store.repo(comp_id)
    base = f"generated-{seed}"
    name, n = base, 2
    while store.head(repo, name) is not None:
        name, n = f"{base}-{n}", n + 1
    return name


def generate(store, band, ident, *, comp_id: str | None = None, title: str = "", seed: int = 0,
             params: Params | None = None, measures: int | None = None, members=None, base: str = "main",
             branch: str | None = None, visibility: str = "private", selection: list[int] | None = None,
             progress: Callable[[int, str], None] | None = None) -> dict[str, Any]:
    """Generate into a new branch of a composition (created when ``comp_id`` is new or None).

    The requester (``ident``) creates the composition and the branch; every musical step is then
    committed as the member who wrote it (their rights apply, as for human commits).
    ``progress(percent, stage)`` hears of each step. Returns the composition id, branch, head and one
    entry per commit.

    ``selection`` ([first, last] measure, of an existing composition): the members write only those
    measures of their parts; everything else (the other measures, the global track, the metadata) is
    committed as it is at ``base`` (see :func:`confine`).
    """
    from ..compositions import service as S
    from ..compositions.rights import member_actor
    from ..compositions.store import MAIN
    from ..errors import InvalidInput

    params = params or Params()
    members = tuple(members or WRITING_ORDER)
    report = progress or (lambda pct, stage: None)
    unknown = [m for m in members if m not in band.members]
    if unknown:
        raise InvalidInput(f"not band members: {', '.join(unknown)}", code="unknown_member")
    created = False
    if selection:  # checked before anything is written
        have = int(S.get_composition(store, band, ident, comp_id, rev=base)["measures"]) \
            if comp_id and store.exists(comp_id) else 0
        if not 1 <= selection[0] <= selection[1] <= have:
            raise InvalidInput(f"measures {selection[0]}-{selection[1]} are not in the piece ({have} measures)",
                               code="bad_selection")
    if not comp_id or not store.exists(comp_id):
        res = S.create_composition(store, band, ident, title or "Untitled", comp_id=comp_id or None,
                                   visibility=visibility, measures=int(measures or DEFAULT_MEASURES),
                                   message=f"Start a new piece for the band (seed {seed})")
        comp_id, created = res["id"], True
    repo = store.repo(comp_id)
    branch = branch or _branch_name(store, comp_id, seed)
    S.create_branch(store, band, ident, comp_id, branch, base if not created else MAIN)
    head = store.head(repo, branch)
    files = store.read_files(repo, repo[head])
    comp = Composition.from_files(files)
    comp.parse_all()
    commits: list[dict] = []
    steps = len(members) + 2  # about: Form's layout, Ivory's arrangement, then each member's part
    report(10, "composing")

    def commit(step: Step, c: Composition) -> None:
        nonlocal head
        actor = member_actor(band, step.member)
        new_files = confine(c, files, *selection) if selection else c.to_files()
        if new_files == store.read_files(repo, repo[head]):
            return
        res = S.commit_change(store, band, actor, comp_id, branch, head, step.message, files=new_files,
                              trailers=step.trailers)
        head = res["id"]
        commits.append({"member": step.member, "id": res["id"], "message": step.message, "touched": res["touched"]})
        report(min(95, 10 + 85 * len(commits) // steps), f"{step.member} committed")

    compose(comp, seed, params, measures=measures, members=members, on_step=commit)
    return {"composition": comp_id, "branch": branch, "head": head, "created": created, "seed": seed,
            "params": params.to_dict(), "commits": commits, "selection": selection,
            "sections": [s.marker() for s in sections_of(comp)]}


def confine(written: Composition, base_files: dict[str, bytes], first: int, last: int) -> dict[str, bytes]:
    """The files of ``base_files`` with measures ``first``..``last`` of every part taken from
    ``written`` (what the members wrote): the global track, the metadata and the other measures stay
    as they were (a part a member adds is added, its notes in the selection). A tie cannot reach into or out of the new measures (the note it joined is gone),
    so ties across the selection's edges end at the edge, on both sides."""
    out = Composition.from_files(base_files)
    out.parse_all()

    lengths = [length for _, length, _ in out.grid()]

    def cut(m: int, events, keep_stop: bool, keep_start: bool):
        """The measure's events with the ties across its start (unless keep_stop) or its end (unless
        keep_start) ended there: a tie across the start is on a note at onset 0, one across the end on
        a note that reaches the bar line."""
        new = []
        for e in events:
            tie = e.tie
            if not keep_stop and tie in ("stop", "continue") and e.onset == 0:
                tie = "start" if tie == "continue" else ""
            if not keep_start and tie in ("start", "continue") and e.onset + e.dur >= lengths[m - 1]:
                tie = "stop" if tie == "continue" else ""
            new.append(e if tie == e.tie else dataclasses.replace(e, tie=tie))
        return new

    have = {p.id for p in out.parts}
    out.parts += [p for p in written.parts if p.id not in have]  # a member's new part: notes only in the selection
    for p in out.parts:
        if p.id not in {q.id for q in written.parts}:
            continue
        for m in range(first, last + 1):
            out.set_events(p.id, m, cut(m, written.events(p.id, m), keep_stop=m != first, keep_start=m != last))
        if first > 1:
            out.set_events(p.id, first - 1, cut(first - 1, out.events(p.id, first - 1), True, False))
        if last < out.measures:
            out.set_events(p.id, last + 1, cut(last + 1, out.events(p.id, last + 1), False, True))
    return out.to_files()
