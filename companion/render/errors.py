"""The render room's errors: one root under the companion's (companion/errors.py).

A failed render is permanent for the job that asked for it (the same input renders the same way,
so a retry would fail again), and so is a missing engine program: both are ScriptHammerErrors,
which the job runner records at once instead of retrying.
"""
from __future__ import annotations

from ..errors import ScriptHammerError


class EngineError(ScriptHammerError):
    """A render that failed (the message says which engine and why)."""

    status = 500
    code = "render_failed"


class EngineMissing(EngineError):
    """A program or library an engine needs is not installed (the message names the package)."""

    status = 503
    code = "engine_missing"
