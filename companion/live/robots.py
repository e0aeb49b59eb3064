"""Who plays live: the robots a live session starts (a module of its own, so that the API knows them
without loading the band module, which loads supriya and the algorithms)."""
from __future__ import annotations

ROBOTS = ("ivory", "chops", "crash")
