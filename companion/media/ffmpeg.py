"""Running ffmpeg and ffprobe: one place that builds command lines and counts runs.

Every process runs with ``-nostdin -hide_banner -v error`` and one thread (the
pipeline runs several processes side by side instead). :data:`RUNS` counts the
processes started, per tool, so tests and the bench can check that a cached run
started none.
"""
from __future__ import annotations

import collections
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Sequence

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

RUNS: collections.Counter[str] = collections.Counter()
_RUNS_LOCK = threading.Lock()


class MediaToolError(RuntimeError):
    """ffmpeg or ffprobe failed; ``stderr`` holds its last words."""

    def __init__(self, message: str, *, argv: Sequence[str] = (), stderr: str = "", returncode: int | None = None):
        super().__init__(message)
        self.argv = list(argv)
        self.stderr = stderr
        self.returncode = returncode


def _count(tool: str) -> None:
    with _RUNS_LOCK:
        RUNS[tool] += 1


def require_tools() -> None:
    """Raise when ffmpeg or ffprobe is not installed."""
    for tool in (FFMPEG, FFPROBE):
        if shutil.which(tool) is None:
            raise MediaToolError(f"{tool} is not installed (apt-get install ffmpeg)")


def ffmpeg(args: Sequence[str], *, check: bool = True, capture_stdout: bool = False,
           timeout: float | None = None, loglevel: str = "error") -> subprocess.CompletedProcess:
    """Run ``ffmpeg -nostdin -hide_banner -v error <args>``.

    Args:
        args: everything after the common options (inputs, filters, outputs).
        check: raise :class:`MediaToolError` on a non-zero exit.
        capture_stdout: keep stdout (bytes) instead of discarding it.
        timeout: seconds before the process is killed.
        loglevel: ``error`` unless a filter reports at info level (ebur128's summary).
    """
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-v", loglevel, *map(str, args)]
    _count("ffmpeg")
    proc = subprocess.run(
        argv,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise MediaToolError(
            f"ffmpeg failed ({proc.returncode}): {err[-500:] or 'no message'}",
            argv=argv, stderr=err, returncode=proc.returncode,
        )
    return proc


def ffprobe_json(path: str | Path, *extra: str) -> dict[str, Any]:
    """``ffprobe -show_format -show_streams`` as a dict (raises MediaToolError)."""
    argv = [FFPROBE, "-v", "error", "-hide_banner", "-print_format", "json",
            "-show_format", "-show_streams", *extra, str(path)]
    _count("ffprobe")
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise MediaToolError(f"ffprobe failed: {err[-500:] or 'no message'}", argv=argv, stderr=err,
                             returncode=proc.returncode)
    try:
        return json.loads(proc.stdout or b"{}")
    except ValueError as exc:  # pragma: no cover - ffprobe always prints JSON
        raise MediaToolError(f"ffprobe printed no JSON: {exc}", argv=argv, stderr=err) from exc
