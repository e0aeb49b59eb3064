"""A short generated piece (16 measures at 132 bpm, about 30 seconds, with a verse) to render in tests."""
from __future__ import annotations

import pytest

from companion.algorithms.base import Params
from companion.algorithms.generate import compose


@pytest.fixture(scope="session")
def short_piece():
    return compose(None, 3, Params(tempo=132), measures=16)
