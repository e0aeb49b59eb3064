"""Fixtures shared by the whole suite: real Redis, SQLite and PostgreSQL databases, the app.

Servers are started once per session. Each test app gets its own SQLite file or PostgreSQL
database, its own Redis queue name and its own object-store folder.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa

from companion.config import Config

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
MARIADB_URL = os.environ.get("SCRIPTHAMMER_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")
PG_ADMIN_URL = os.environ.get("SCRIPTHAMMER_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(d)], stdout=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


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
                  testing=True, job_retries=0, encode_workers=2)
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
        SimpleWorker([svc.queue()], connection=svc.redis).work(burst=True, with_scheduler=False)

    return run


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> str:
    """A real S3 API server (moto's standalone server) on a free local port."""
    import sys

    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
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
