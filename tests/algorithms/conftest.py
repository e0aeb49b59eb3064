"""Pieces generated once per test session (short ones: the suite runs on two cores)."""
from __future__ import annotations

import pytest

from companion.algorithms.base import Params
from companion.algorithms.generate import compose


@pytest.fixture(scope="session")
def piece():
    """A 32-measure piece by the whole band (seed 11, straight feel)."""
    return compose(None, 11, Params(), measures=32)


@pytest.fixture(scope="session")
def swing_piece():
    return compose(None, 5, Params(tempo_feel="swing", mood="dark", key="Bb major", density=0.8), measures=24)
