"""PostgreSQL restarted under the companion: requests in between fail cleanly (503 database_unavailable,
never a 500), the pool's pre-ping recovers the next request by itself, and no transaction is half-applied."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from companion import create_app
from companion.catalog.models import Track
from companion.tasks.models import Job
from tests.conftest import build_config, prepare
from tests.faults.pg import own_postgres  # noqa: F401 - the fixture


@pytest.fixture
def pg_app(tmp_path, redis_url, own_postgres):
    cfg = build_config(tmp_path, own_postgres.create_database("companion"), redis_url)
    tokens = prepare(cfg)
    app = create_app(cfg)
    app.test_tokens = tokens
    yield app
    app.extensions["scripthammer"].close()


def _titles(svc) -> list[str]:
    with svc.db.session() as s:
        return sorted(s.scalars(sa.select(Track.title)))


def test_a_restart_is_invisible_to_the_next_request(pg_app, own_postgres):
    client, svc = pg_app.test_client(), pg_app.extensions["scripthammer"]
    h = {"Authorization": f"Bearer {pg_app.test_tokens['ivory']}"}
    for i in range(4):  # several pooled connections, all of which the restart kills
        assert client.post("/api/tracks", json={"title": f"Before {i}"}, headers=h).status_code == 201
    own_postgres.restart("fast")
    first = client.get("/api/tracks", headers=h)  # pre-ping finds the dead connections and replaces them
    assert first.status_code == 200 and len(first.get_json()) == 4
    assert client.post("/api/tracks", json={"title": "After"}, headers=h).status_code == 201


def test_while_postgres_is_down_requests_fail_cleanly_and_recover_by_themselves(pg_app, own_postgres):
    client, svc = pg_app.test_client(), pg_app.extensions["scripthammer"]
    h = {"Authorization": f"Bearer {pg_app.test_tokens['ivory']}"}
    assert client.post("/api/tracks", json={"title": "Kept"}, headers=h).status_code == 201
    own_postgres.stop("immediate")  # a crash: no goodbye to the clients
    for call in (lambda: client.get("/api/tracks", headers=h),
                 lambda: client.post("/api/tracks", json={"title": "Lost"}, headers=h),
                 lambda: client.get("/api/tracks/1", headers=h)):
        r = call()
        assert r.status_code == 503, (r.status_code, r.get_json())
        assert r.get_json()["code"] == "database_unavailable" and "Try again" in r.get_json()["message"]
    health = client.get("/api/health")
    assert health.status_code == 503 and health.get_json()["checks"]["database"]["ok"] is False
    own_postgres.start()
    started = time.time()
    r = client.post("/api/tracks", json={"title": "After"}, headers=h)
    assert r.status_code == 201 and time.time() - started < 5
    assert _titles(svc) == ["After", "Kept"]  # the request made while it was down wrote nothing


def test_a_transaction_cut_by_a_crash_is_not_half_applied(pg_app, own_postgres):
    """A job row and its track written in one transaction; the database crashes before the commit:
    after the restart neither exists (the companion's session raises, and nothing is kept)."""
    svc = pg_app.extensions["scripthammer"]
    with pytest.raises(sa.exc.OperationalError):
        with svc.db.session() as s:
            track = Track(title="Half", slug="half")
            s.add(track)
            s.flush()
            s.add(Job(kind="release", track_id=track.id, params={}))
            s.flush()
            own_postgres.stop("immediate")
    own_postgres.start()
    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Track).where(Track.title == "Half")) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.kind == "release")) == 0
