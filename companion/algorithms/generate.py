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
                      + ", ".join(f"{s.name} ({s.measures})" for s in sections), touches_global=True), comp)
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
            touches_global=True, touches_metadata=True), comp)

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
        emit(Step(member, f"{message} ({names}, seed {seed})", parts=[i.part for i in mine]), comp)
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
             branch: str | None = None, visibility: str = "private") -> dict[str, Any]:
    """Generate into a new branch of a composition (created when ``comp_id`` is new or None).

    The requester (``ident``) creates the composition and the branch; every musical step is then
    committed as the member who wrote it (their rights apply, as for human commits).
    Returns the composition id, branch, head and one entry per commit.
    """
    from ..compositions import service as S
    from ..compositions.rights import member_actor
    from ..compositions.store import MAIN
    from ..errors import InvalidInput

    params = params or Params()
    members = tuple(members or WRITING_ORDER)
    unknown = [m for m in members if m not in band.members]
    if unknown:
        raise InvalidInput(f"not band members: {', '.join(unknown)}", code="unknown_member")
    created = False
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

    def commit(step: Step, c: Composition) -> None:
        nonlocal head
        actor = member_actor(band, step.member)
        new_files = c.to_files()
        if new_files == store.read_files(repo, repo[head]):
            return
        res = S.commit_change(store, band, actor, comp_id, branch, head, step.message, files=new_files)
        head = res["id"]
        commits.append({"member": step.member, "id": res["id"], "message": step.message, "touched": res["touched"]})

    compose(comp, seed, params, measures=measures, members=members, on_step=commit)
    return {"composition": comp_id, "branch": branch, "head": head, "created": created, "seed": seed,
            "params": params.to_dict(), "commits": commits,
            "sections": [s.marker() for s in sections_of(comp)]}
