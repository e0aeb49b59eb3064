"""Slicing a composition for the engines: the parts one engine process renders, as a composition
of their own, and the split of parts between processes.

The split is part of what the output bits are (a synth's voices and the order of its sums depend on
which parts share it), so it depends only on the piece and a fixed number of groups, never on the
machine or how many processes run at once.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable, TypeVar

from ...compositions.model import Composition

T = TypeVar("T")


def ensemble_composition(comp: Composition, parts: list[tuple[str, int | None]], upto_measure: int | None = None
                         ) -> Composition:
    """The composition with only ``parts`` (notes only, and the global tracks), their programs set."""
    solo = Composition(title=comp.title, measures=comp.measures, global_events=list(comp.global_events),
                       visibility=comp.visibility)
    last = min(comp.measures, upto_measure or comp.measures)
    solo.parts = []
    for part, program in parts:
        p = copy.copy(comp.part(part))
        p.program = program
        solo.parts.append(p)
    for part, _ in parts:
        for m in range(1, last + 1):
            solo.set_events(part, m, [e for e in comp.events(part, m) if e.kind == "note"])
    if upto_measure:
        solo.measures = last
        solo.global_events = [g for g in solo.global_events if g.measure <= last]
    return solo


def window_composition(comp: Composition, upto_measure: int) -> Composition:
    """Measures 1..``upto_measure`` of ``comp`` as a composition of their own: every part and every event
    of those measures (notes keep their written lengths, so a note held past the window sounds on in the
    render's tail as in a whole render), the global events up to there. Only those measures are parsed:
    a quick preview of the opening of a long piece does not read the rest."""
    last = max(1, min(comp.measures, upto_measure))
    win = Composition(title=comp.title, measures=last, visibility=comp.visibility,
                      global_events=[g for g in comp.global_events if g.measure <= last])
    win.parts = [copy.copy(p) for p in comp.parts]
    for p in comp.parts:
        for m in range(1, last + 1):
            evs = comp.events(p.id, m)
            if evs:
                win.set_events(p.id, m, list(evs))
    return win


def solo_composition(comp: Composition, part: str, program: int | None, upto_measure: int | None = None
                     ) -> Composition:
    """The composition with only ``part`` (and the global tracks), its program set."""
    return ensemble_composition(comp, [(part, program)], upto_measure)


def split_balanced(items: list[T], cost: Callable[[T], float], n: int) -> list[list[T]]:
    """``items`` in at most ``n`` groups of about equal total ``cost`` (largest first, to the lightest
    group), each group in the items' order."""
    n = max(1, min(n, len(items)))
    groups: list[list[T]] = [[] for _ in range(n)]
    loads = [0.0] * n
    for it in sorted(items, key=cost, reverse=True):
        i = loads.index(min(loads))
        groups[i].append(it)
        loads[i] += cost(it)
    order = {id(it): k for k, it in enumerate(items)}
    return [sorted(g, key=lambda it: order[id(it)]) for g in groups if g]


def first_fit(items: Iterable[T], fits: Callable[[list[T], T], bool]) -> list[list[T]]:
    """``items`` in groups, each going into the first group it ``fits`` (a new group when none)."""
    groups: list[list[T]] = []
    for it in items:
        for g in groups:
            if fits(g, it):
                g.append(it)
                break
        else:
            groups.append([it])
    return groups
