"""Fixtures of the fault tests: an app whose jobs retry at once and whose workers notice a dead worker
within seconds (RQ's abandoned-job handling with a short heartbeat grace), real worker processes."""
from __future__ import annotations

import pytest

from tests.conftest import build_config, make_database_url

#: retries and RQ's abandoned-job handling, tuned so that a killed worker's job is retried in seconds.
FAST_RECOVERY = dict(job_retries=2, job_retry_intervals="0", worker_monitor_seconds=1, worker_heartbeat_grace=4,
                     worker_maintenance_seconds=2)


@pytest.fixture
def config(tmp_path, redis_url, request):
    kind = getattr(request, "param", None) or "sqlite"
    if "db_kind" in request.fixturenames:
        kind = request.getfixturevalue("db_kind")
    return build_config(tmp_path, make_database_url(kind, tmp_path, request), redis_url, **FAST_RECOVERY)


@pytest.fixture
def svc(app):
    return app.extensions["scripthammer"]


class OwnRedis:
    """A redis-server of one test's own, with append-only persistence (fsync always), that the test may
    crash (SIGKILL) and start again on the same port and data folder."""

    def __init__(self, folder, *extra: str):
        import shutil

        from tests.conftest import free_port

        self.exe = shutil.which("redis-server")
        self.port, self.folder, self.extra = free_port(), folder, list(extra)
        self.proc = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from tests.conftest import start_server, wait_for_port

        self.proc = start_server([self.exe, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
                                  "--appendonly", "yes", "--appendfsync", "always", "--save", "", *self.extra],
                                 stdout=open(self.folder / "redis.log", "ab"))
        wait_for_port(self.port)

    def crash(self) -> None:
        import os
        import signal

        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        from tests.conftest import stop_group

        stop_group(self.proc)


@pytest.fixture
def own_redis(tmp_path):
    r = OwnRedis(tmp_path / "redis")
    r.start()
    yield r
    r.stop()
