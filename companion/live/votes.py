"""What the audience may steer, and how a round's votes become the robots' next parameters.

Each votable parameter maps the choices a listener sees to a value of the algorithms' parameters
(companion/algorithms/base.py ``Params``). A round is one bar: the votes cast while bar ``n`` plays
are tallied when bar ``n + 1`` is prepared, and each parameter voted on takes its most-voted value
(ties: the value voted first) from bar ``n + 1``'s line on.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from companion.algorithms.base import TEMPO_FEELS, Params
from companion.algorithms.theory import MOODS
from companion.errors import InvalidInput

#: parameter -> {choice: the Params value it sets}
PARAMETERS: dict[str, dict[str, Any]] = {
    "key": {k: k for k in ("D minor", "E major", "A minor", "F major", "G minor", "C major")},
    "density": {"sparse": 0.15, "medium": 0.5, "busy": 0.9},
    "mood": {m: m for m in MOODS},
    "tempo_feel": {f: f for f in TEMPO_FEELS},
    "tempo": {"90": 90, "104": 104, "120": 120, "140": 140},
}


def check(parameter: Any, value: Any) -> tuple[str, str]:
    """The vote as (parameter, choice), or InvalidInput naming what may be voted on."""
    if not isinstance(parameter, str) or parameter not in PARAMETERS:
        raise InvalidInput("No such parameter to vote on.", code="unknown_parameter",
                           details={"parameter": str(parameter)[:40], "parameters": sorted(PARAMETERS)})
    choices = PARAMETERS[parameter]
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(f"{parameter} has no such choice.", code="unknown_choice",
                           details={"parameter": parameter, "choices": list(choices)})
    return parameter, value


def tally(votes: list[tuple[str, str]]) -> dict[str, tuple[str, int]]:
    """votes [(parameter, choice)] in the order cast -> {parameter: (winning choice, its votes)}."""
    out: dict[str, tuple[str, int]] = {}
    for parameter in dict.fromkeys(p for p, _ in votes):
        counts = Counter(v for p, v in votes if p == parameter)
        best = max(counts.values())
        winner = next(v for p, v in votes if p == parameter and counts[v] == best)
        out[parameter] = (winner, best)
    return out


def apply(params: Params, winners: dict[str, tuple[str, int]]) -> Params:
    changes = {p: PARAMETERS[p][choice] for p, (choice, _) in winners.items()}
    return dataclasses.replace(params, **changes)


def ballot() -> dict[str, list[str]]:
    return {p: list(c) for p, c in PARAMETERS.items()}
