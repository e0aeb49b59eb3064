"""Helpers of the fault tests: real worker processes in process groups of their own, waiting for jobs."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tests.conftest import descendants, group_members, start_server, stop_group

REPO = Path(__file__).resolve().parents[2]


def config_env(config, **extra: str) -> dict[str, str]:
    """The environment of a process that rebuilds ``config`` (SCRIPTHAMMER_* variables)."""
    env = dict(os.environ)
    for f in dataclasses.fields(config):
        env["SCRIPTHAMMER_" + f.name.upper()] = str(getattr(config, f.name))
    env.update(extra)
    return env


def start_worker(config, kinds: str | None, log: Path, *, name: str | None = None) -> subprocess.Popen:
    """``scripthammer worker --queues kinds`` as a real process (its own process group)."""
    cmd = [sys.executable, "-m", "companion.cli", "worker"]
    if kinds:
        cmd += ["--queues", kinds]
    if name:
        cmd += ["--name", name]
    return start_server(cmd, cwd=REPO, env=config_env(config), stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def sigkill_group(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a worker and everything it started at once (a machine dying under it), including RQ's
    work horse (which runs in a process group of its own); returns the pids killed."""
    pids = sorted(set(group_members(proc.pid)) | set(descendants(proc.pid)))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)
    deadline = time.time() + 10
    while any(Path(f"/proc/{p}").exists() and _state(p) != "Z" for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    return pids


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def wait_until(check: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll ``check()`` until it returns something truthy; TimeoutError names ``what``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached in {timeout}s")


def job_row(svc, job_id: str) -> dict:
    from companion.tasks.models import Job

    with svc.db.session() as s:
        j = s.get(Job, job_id)
        return {"state": j.state, "progress": j.progress, "stage": j.stage, "attempts": j.attempts,
                "error_code": j.error_code, "error_message": j.error_message, "result": dict(j.result or {})}


def wait_job(svc, job_id: str, timeout: float = 300, states=("finished", "failed")) -> dict:
    return wait_until(lambda: (lambda r: r if r["state"] in states else None)(job_row(svc, job_id)), timeout,
                      what=f"job {job_id} in {states}")


__all__ = ["config_env", "start_worker", "sigkill_group", "stop_group", "wait_until", "job_row", "wait_job"]
