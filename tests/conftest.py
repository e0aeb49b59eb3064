"""Fixtures shared by the whole suite: real Redis, SQLite and PostgreSQL databases, the app.

Servers are started once per session. Each test app gets its own SQLite file or PostgreSQL
database, its own Redis queue name and its own object-store folder.

Nothing is left behind: every server the suite starts runs in a process group of its own
(:func:`start_server`) and is stopped with its group (:func:`stop_group`), children included (PHP's
built-in server forks PHP_CLI_SERVER_WORKERS children that outlive their master). The session marks
its processes (``SHM_TEST_SESSION`` in their environment) and, when it ends, fails if any process it
started is still running (:func:`leftover_processes`), naming and then killing them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from companion.config import Config

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The servers the suite starts (gunicorn: companion/wsgi.py) start with cold render engines: warming
# each would cost the suite a render per worker. tests/render/test_preview_window.py tests the warm-up.
os.environ.setdefault("SCRIPTHAMMER_RENDER_WARM_UP", "0")
MARIADB_URL = os.environ.get("SCRIPTHAMMER_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")
PG_ADMIN_URL = os.environ.get("SCRIPTHAMMER_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


#: marks every process this test session starts (children inherit the environment).
SESSION_MARK = "SHM_TEST_SESSION"


def start_server(cmd: list[str], **popen) -> subprocess.Popen:
    """Start a server in a process group of its own: :func:`stop_group` stops it with its children."""
    return subprocess.Popen(cmd, start_new_session=True, **popen)


def stop_group(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM the process group ``proc`` leads, SIGKILL it after ``timeout``, and reap ``proc``.

    The whole group, not only ``proc``: a master's workers (PHP's built-in server, gunicorn, an RQ
    worker's work horse) would otherwise keep running, and listening, after it."""
    if proc is None:
        return
    others = descendants(proc.pid)  # e.g. RQ's work horse, which puts itself in a group of its own
    _killpg(proc.pid, signal.SIGTERM)
    deadline = time.time() + timeout
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    while (group_members(proc.pid) or any(_live(p) for p in others)) and time.time() < deadline:
        time.sleep(0.05)
    _killpg(proc.pid, signal.SIGKILL)
    for pid in others:
        if _live(pid):
            _killpg(os.getpgid(pid), signal.SIGKILL) if _proc_stat(pid)[2] == pid else os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(5)


def _live(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"


def descendants(pid: int) -> list[int]:
    """Live processes descending from ``pid`` (whatever their process group)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st and st[0] != "Z":
                parents[int(entry)] = st[1]
    out = []
    for child in parents:
        p, hops = child, 0
        while p in parents and hops < 64:
            p, hops = parents[p], hops + 1
            if p == pid:
                out.append(child)
                break
    return out


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st and st[2] == pgid and st[0] != "Z":
                out.append(int(entry))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def leftover_processes(mark: str, *, ignore: set[int] = frozenset()) -> dict[int, str]:
    """Live processes (not zombies) other than this one and ``ignore`` that carry ``SHM_TEST_SESSION=mark``
    in their environment, or descend from this process: pid -> command line."""
    me = os.getpid()
    token = f"{SESSION_MARK}={mark}".encode()
    parents: dict[int, int] = {}
    marked: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me or int(entry) in ignore:
            continue
        pid = int(entry)
        st = _proc_stat(pid)
        if st is None or st[0] == "Z":
            continue
        parents[pid] = st[1]
        try:
            if token in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                marked.add(pid)
        except OSError:
            pass
    descendants = set()
    for pid in parents:
        p, seen = pid, 0
        while p in parents and seen < 64:
            p, seen = parents[p], seen + 1
            if p == me:
                descendants.add(pid)
                break
    return {pid: _cmdline(pid) for pid in sorted(marked | descendants)}


def pytest_configure(config) -> None:
    config._shm_mark = uuid.uuid4().hex
    os.environ[SESSION_MARK] = config._shm_mark


def pytest_terminal_summary(terminalreporter) -> None:
    """Say how many tests ran against the stand-ins of WooCommerce, Subscriptions and BuddyPress."""
    ran = [r for outcome in ("passed", "failed") for r in terminalreporter.stats.get(outcome, [])
           if getattr(r, "when", "") == "call" and "standin-plugins" in r.nodeid]
    if ran:
        terminalreporter.write_sep("-", "stand-ins")
        terminalreporter.write_line(
            f"{len(ran)} tests ran against the labelled stand-ins of WooCommerce, WooCommerce Subscriptions and "
            "BuddyPress (ids [...-standin-plugins]), not the real plugins: see docs/wordpress.md, "
            "SCRIPTHAMMER_WP_EXTRA_PLUGINS")


def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the session if a process it started is still running once every fixture has stopped."""
    mark = getattr(session.config, "_shm_mark", None)
    if not mark:
        return
    deadline = time.time() + 10
    left = leftover_processes(mark)
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = leftover_processes(mark)
    if not left:
        return
    lines = "\n".join(f"  {pid}  {cmd[:200]}" for pid, cmd in left.items())
    sys.stderr.write(f"\nprocesses left behind by the test session (now killed):\n{lines}\n")
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app):
    """``app`` served by werkzeug on a free local port, in a thread (for a browser): yields its base URL."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A Redis of the suite's own: a redis-server on a free port (real, not a fake)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed: run scripts/setup.sh")
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = start_server([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                         "--dir", str(d)], stdout=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/0"
    stop_group(proc)


def _pg_available() -> bool:
    try:
        eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_admin():
    if not _pg_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable (scripts/test.sh starts it)")
    eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []
    yield eng, created
    with eng.connect() as c:
        for name in created:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture(scope="session")
def mariadb_admin():
    try:
        eng = sa.create_engine(MARIADB_URL + "/")
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception:
        if IN_CI:
            pytest.fail(f"MariaDB is not reachable at {MARIADB_URL}")
        pytest.skip("MariaDB is not reachable (scripts/test.sh starts it)")
    created: list[str] = []
    yield eng, created
    with eng.connect() as c:
        for name in created:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    eng.dispose()


def make_database_url(kind: str, tmp_path: Path, request) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'companion.db'}"
    if kind == "mariadb":
        eng, created = request.getfixturevalue("mariadb_admin")
        name = f"shm_test_{uuid.uuid4().hex[:12]}"
        with eng.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        created.append(name)
        return f"{MARIADB_URL}/{name}?charset=utf8mb4"
    eng, created = request.getfixturevalue("pg_admin")
    name = f"shm_test_{uuid.uuid4().hex[:12]}"
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    created.append(name)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def build_config(tmp_path: Path, database_url: str, redis_url: str, **overrides) -> Config:
    values = dict(var_dir=tmp_path / "var", database_url=database_url, redis_url=redis_url,
                  queue_name=f"shm-test-{uuid.uuid4().hex[:8]}", wp_shared_secret="test-shared-secret",
                  testing=True, job_retries=0, encode_workers=2,
                  # premium releases make A/B stream variants, which need the (secret) stream-mark key
                  stream_mark_key="test-stream-mark-key-not-a-secret",
                  # the public limit on every route has its own tests (tests/hostile); elsewhere a quick test
                  # client makes hundreds of requests a second to one route (/media/<key>) from one address
                  public_rate_limit="100000 per minute;10000 per second")
    values.update(overrides)
    return Config(**values)


def prepare(config: Config) -> dict[str, str]:
    """Migrate, seed the band and make one token per member; returns member id -> token."""
    from companion.band.service import seed_members
    from companion.band.tokens import create_token
    from companion.db import upgrade
    from jobs import context

    upgrade(config.database_url)
    context.configure(config)
    svc = context.services()
    tokens = {}
    with svc.db.session() as s:
        seed_members(s, svc.band)
        for mid in svc.band.members:
            _, tokens[mid] = create_token(s, role="member", member_id=mid, label="test")
        _, tokens["listener"] = create_token(s, role="listener", label="fan")
    return tokens


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_kind(request):
    return request.param


@pytest.fixture
def config(tmp_path, redis_url, request) -> Config:
    kind = getattr(request, "param", None) or "sqlite"
    if "db_kind" in request.fixturenames:
        kind = request.getfixturevalue("db_kind")
    return build_config(tmp_path, make_database_url(kind, tmp_path, request), redis_url)


@pytest.fixture(autouse=True)
def _close_services_made_by_the_test():
    """Jobs run in the test's process keep one Services per configuration (companion.services
    .services_for); those a test's configuration made are closed after it, or their database and
    Redis connections would pile up over the run (past select()'s FD_SETSIZE in some children)."""
    from companion import services

    before = set(services._cache)
    yield
    for key in set(services._cache) - before:
        services._cache.pop(key).close()


@pytest.fixture
def app(config):
    from companion import create_app
    from jobs import context

    tokens = prepare(config)
    application = create_app(config)
    application.test_tokens = tokens
    yield application
    context.configure(None)
    application.extensions["scripthammer"].close()


@pytest.fixture
def app_with(config):
    """app_with(beacon_rate_limit="5 per minute", ...) -> an app like ``app`` with these settings changed
    (migrated, band seeded, member tokens on ``.test_tokens``)."""
    import dataclasses

    from companion import create_app
    from jobs import context

    made = []

    def make(**overrides):
        cfg = dataclasses.replace(config, **overrides)
        tokens = prepare(cfg)
        application = create_app(cfg)
        application.test_tokens = tokens
        made.append(application)
        return application

    yield make
    context.configure(None)
    for application in made:
        application.extensions["scripthammer"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def member_tokens(app) -> dict[str, str]:
    return app.test_tokens


@pytest.fixture
def auth(member_tokens):
    """auth("ivory") -> headers carrying that member's (or 'listener') token."""
    return lambda who: {"Authorization": f"Bearer {member_tokens[who]}"}


@pytest.fixture
def make_guest_token(app):
    def make(parts=(), branches=(), compositions=(), minutes=60, label="guest"):
        from companion.band.tokens import create_token

        with app.extensions["scripthammer"].db.session() as s:
            _, secret = create_token(s, role="guest", label=label, expires_in=dt.timedelta(minutes=minutes),
                                     scopes={"parts": list(parts), "branches": list(branches),
                                             "compositions": list(compositions)})
        return secret

    return make


@pytest.fixture
def run_jobs(app):
    """Work the app's queue in this process until it is empty (a real RQ worker, burst mode)."""
    from rq import SimpleWorker

    def run() -> None:
        svc = app.extensions["scripthammer"]
        svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)

    return run


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> str:
    """A real S3 API server (moto's standalone server) on a free local port."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = start_server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                        stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    stop_group(proc)
    log.close()


@pytest.fixture
def s3_settings(s3_endpoint) -> dict:
    """Config overrides for an S3 object store in a bucket of the test's own."""
    return dict(storage="s3", s3_endpoint_url=s3_endpoint, s3_bucket=f"shm-{uuid.uuid4().hex[:10]}",
                s3_access_key_id="testing", s3_secret_access_key="testing", s3_region="us-east-1")


def make_audio(path: Path, seconds: float = 6.0, *, codec_args: tuple = ("-c:a", "pcm_s16le"),
               volume_db: float = 0.0, rate: int = 44100) -> Path:
    """A short stereo test recording (a chord with a pulse and some noise), made with ffmpeg."""
    graph = (f"sine=f=220:r={rate}:d={seconds}[a];sine=f=277.18:r={rate}:d={seconds}[b];"
             f"sine=f=329.63:r={rate}:d={seconds}[c];anoisesrc=d={seconds}:r={rate}:a=0.02[n];"
             f"[a][b][c][n]amix=inputs=4,volume={volume_db}dB,"
             f"apulsator=hz=2,aformat=channel_layouts=stereo[out]")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-filter_complex", graph, "-map", "[out]",
                    *codec_args, str(path)], check=True)
    return path


# Playwright's sync API holds an event loop in this thread: close it when the module is done
# (module scope: a folder without __init__.py has no package scope of its own)
@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (tests/browser.py); missing, it fails in CI and skips elsewhere."""
    from tests.browser import BrowserMissing, chromium

    try:
        with chromium() as b:
            yield b
    except BrowserMissing as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
