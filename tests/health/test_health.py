"""Health shows database, Redis, storage, ffmpeg and workers, and says 503 when something is down."""
from __future__ import annotations

from rq import Worker

from companion import create_app
from tests.conftest import build_config, free_port, prepare


def test_health_needs_a_worker_and_reports_queue_depth(client, app):
    r = client.get("/api/health")
    assert r.status_code == 503
    body = r.get_json()
    assert body["ok"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"] and body["checks"]["storage"]["ok"]
    assert body["checks"]["ffmpeg"]["ok"]
    assert not body["checks"]["workers"]["ok"] and "no RQ worker" in body["checks"]["workers"]["detail"]
    svc = app.extensions["scripthammer"]
    w = svc.worker(Worker)
    w.register_birth()
    try:
        r = client.get("/api/health")
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["queue"]["workers"] >= 1 and r.get_json()["queue"]["depth"] == 0
    finally:
        w.register_death()


def test_health_names_redis_when_it_is_down(tmp_path):
    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", f"redis://127.0.0.1:{free_port()}/0")
    prepare(cfg)
    body = create_app(cfg).test_client().get("/api/health").get_json()
    assert body["ok"] is False and body["checks"]["redis"]["ok"] is False
    assert body["checks"]["workers"]["detail"] == "Redis is down"
    assert body["checks"]["database"]["ok"] is True


def test_upload_with_redis_down_queues_nothing_and_changes_nothing(tmp_path):
    import io

    from tests.catalog.test_catalog_api import make_wav

    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", f"redis://127.0.0.1:{free_port()}/0")
    tokens = prepare(cfg)
    client = create_app(cfg).test_client()
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    t = client.post("/api/tracks", json={"title": "Offline"}, headers=h).get_json()
    r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (io.BytesIO(make_wav(0.5)), "a.wav")}, headers=h,
                    content_type="multipart/form-data")
    assert r.status_code == 503 and r.get_json()["code"] == "queue_unavailable"
    again = client.get(f"/api/tracks/{t['id']}", headers=h).get_json()
    assert again["status"] == "empty"
