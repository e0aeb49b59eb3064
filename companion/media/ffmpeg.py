"""Running ffmpeg and ffprobe: one place that builds command lines and counts runs.

Every process runs with ``-nostdin -hide_banner -v error`` and one thread (the
pipeline runs several processes side by side instead). :data:`RUNS` counts the
processes started, per tool, so tests and the bench can check that a cached run
started none.

Inputs are hostile until proven otherwise: every file ffmpeg or ffprobe reads is opened with
:func:`input_args`, which allows the ``file`` protocol only (no URLs, no ``subfile:``,
``data:``, ``concat:``...), names the file as a ``file:`` URL (so no name is read as a protocol
or an image2 pattern) and pins the demuxer, so no content can make ffmpeg pick a playlist or
list demuxer (HLS, concat, SDP...) that reads other files. Errors never carry this machine's
folders: they are cut out of the tool's message (:func:`scrub_paths`).
"""
from __future__ import annotations

import collections
import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

from companion.errors import ScriptHammerError

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
#: The only protocol an input may use.
PROTOCOL_WHITELIST = "file"

RUNS: collections.Counter[str] = collections.Counter()
_RUNS_LOCK = threading.Lock()


class MediaToolError(ScriptHammerError):
    """ffmpeg or ffprobe failed; ``stderr`` holds its last words (with this machine's folders cut out).

    Permanent: the same command on the same file fails the same way, so a job does not retry it."""

    status = 500
    code = "media_tool_failed"

    def __init__(self, message: str, *, argv: Sequence[str] = (), stderr: str = "", returncode: int | None = None):
        super().__init__(message, details={"tool_message": stderr[-300:], "returncode": returncode})
        self.argv = list(argv)
        self.stderr = stderr
        self.returncode = returncode


def _count(tool: str) -> None:
    with _RUNS_LOCK:
        RUNS[tool] += 1


def file_url(path: str | Path) -> str:
    """``file:/abs/path``: ffmpeg reads it as a plain file whatever its name looks like."""
    return "file:" + str(Path(path).absolute())


def input_args(path: str | Path, demuxer: str | None = None) -> list[str]:
    """``-protocol_whitelist file [-f demuxer] -i file:<path>``: the only way we open an input.

    Args:
        path: a file on this machine.
        demuxer: the ffmpeg demuxer to read it with (``wav``, ``aiff``, ``flac``, ``mp3``, ``ogg``,
            ``mov``); None lets ffmpeg guess, for files the companion made itself.
    """
    args = ["-protocol_whitelist", PROTOCOL_WHITELIST]
    if demuxer:
        args += ["-f", demuxer]
    return args + ["-i", file_url(path)]


def _folders(argv: Iterable[str]) -> list[str]:
    """The folders named by the paths in a command line, longest first."""
    folders = set()
    for arg in argv:
        text = str(arg)
        text = text[len("file:"):] if text.startswith("file:") else text
        if "/" in text and "://" not in text:
            parent = str(Path(text).parent)
            if parent not in ("", ".", "/"):
                folders.add(parent)
                folders.add(str(Path(parent).resolve()))
    return sorted(folders, key=len, reverse=True)


def scrub_paths(text: str, argv: Iterable[str]) -> str:
    """``text`` without the folders of the paths in ``argv`` (only file names remain)."""
    for folder in _folders(argv):
        text = text.replace("file:" + folder + "/", "").replace(folder + "/", "").replace(folder, "")
    return text


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
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        err = scrub_paths(proc.stderr.decode("utf-8", "replace").strip(), argv)
        raise MediaToolError(
            f"ffmpeg failed ({proc.returncode}): {err[-500:] or 'no message'}",
            argv=argv, stderr=err, returncode=proc.returncode,
        )
    return proc


def ffprobe_json(path: str | Path, demuxer: str | None = None, *extra: str) -> dict[str, Any]:
    """``ffprobe -show_format -show_streams`` of one file as a dict (raises MediaToolError).

    ``demuxer`` pins the format ffprobe reads the file as (see :func:`input_args`)."""
    opened = input_args(path, demuxer)
    opened.remove("-i")  # ffprobe takes the input as its last argument
    argv = [FFPROBE, "-v", "error", "-hide_banner", "-print_format", "json",
            "-show_format", "-show_streams", *extra, *opened]
    _count("ffprobe")
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    err = scrub_paths(proc.stderr.decode("utf-8", "replace").strip(), argv)
    if proc.returncode != 0:
        raise MediaToolError(f"ffprobe failed: {err[-500:] or 'no message'}", argv=argv, stderr=err,
                             returncode=proc.returncode)
    try:
        return json.loads(proc.stdout or b"{}")
    except ValueError as exc:  # pragma: no cover - ffprobe always prints JSON
        raise MediaToolError(f"ffprobe printed no JSON: {exc}", argv=argv, stderr=err) from exc
