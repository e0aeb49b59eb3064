"""The release job end to end on a real RQ worker: the domain call does the work, and a track
already published on WordPress is synced after a successful release, never after a failed one.

"WordPress" here is a real HTTP server on a local port that records every request, so a sync
that should not happen would be seen."""
from __future__ import annotations

import pytest

from tests.conftest import build_config, make_audio, prepare


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_audio(tmp_path_factory.mktemp("rec") / "take.wav", seconds=3.0)


@pytest.fixture
def site(tmp_path, redis_url, listener):
    """A companion whose WordPress is the recording HTTP server."""
    from companion import create_app
    from jobs import context

    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url, wp_url=listener.url,
                       wp_shared_secret="test-shared-secret")
    tokens = prepare(cfg)
    app = create_app(cfg)
    app.test_tokens = tokens
    yield app
    context.configure(None)
    app.extensions["scripthammer"].close()


def work(app) -> None:
    from rq import SimpleWorker

    svc = app.extensions["scripthammer"]
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)


def published_track(app, recording, title: str) -> tuple[int, str, str]:
    """A public track with a publication row (as after a publish to WordPress) and an upload queued:
    (track id, job url, the stored source key)."""
    from companion.wordpress.models import Publication

    client = app.test_client()
    auth = {"Authorization": f"Bearer {app.test_tokens['ivory']}"}
    t = client.post("/api/tracks", json={"title": title, "release_state": "public"}, headers=auth).get_json()
    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        s.add(Publication(kind="track", item_id=t["id"], wp_post_id=4242, wp_status="publish", state="published"))
    with open(recording, "rb") as fh:
        r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "take.wav")}, headers=auth,
                        content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    with svc.db.session() as s:
        from companion.catalog.models import Track

        key = s.get(Track, t["id"]).source_key
    return t["id"], r.get_json()["job_url"], key


def state(app, job_url: str, track_id: int) -> tuple[dict, dict]:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {app.test_tokens['ivory']}"}
    return (client.get(job_url, headers=auth).get_json(),
            client.get(f"/api/tracks/{track_id}", headers=auth).get_json())


def syncs(listener, track_id: int) -> list[tuple[str, str]]:
    return [h for h in listener.hits if h[0] == "POST" and h[1].endswith(f"/tracks/{track_id}/sync")]


def test_a_successful_release_syncs_the_published_post(site, recording, listener):
    track_id, job_url, _ = published_track(site, recording, "Synced")
    work(site)
    job, track = state(site, job_url, track_id)
    assert job["state"] == "finished" and job["progress"] == 100, job
    assert job["result"]["renditions"] >= 12 and job["result"]["cached"] is False
    assert track["status"] == "ready" and track["renditions"]
    assert len(syncs(listener, track_id)) == 1  # WordPress was told about the new renditions


def test_a_release_that_fails_for_good_does_not_sync(site, recording, listener):
    track_id, job_url, key = published_track(site, recording, "Broken")
    store = site.extensions["scripthammer"].store
    whole = store.get_bytes(key)
    store.put_bytes(key, whole[: len(whole) // 3])  # the stored recording is cut short before the worker runs
    work(site)
    job, track = state(site, job_url, track_id)
    assert job["state"] == "failed" and job["error"]["code"] == "truncated", job
    assert track["status"] == "failed" and track["error"]["code"] == "truncated"
    assert listener.hits == []  # no sync, no call of any kind


def test_a_release_that_fails_on_its_last_attempt_does_not_sync(site, recording, listener):
    track_id, job_url, key = published_track(site, recording, "Vanished")
    site.extensions["scripthammer"].store.delete(key)  # the recording vanished: not bad input, retried by RQ
    work(site)
    job, track = state(site, job_url, track_id)
    assert job["state"] == "failed" and job["error"]["message"], job
    assert track["status"] == "failed"
    assert listener.hits == []


def test_the_domain_call_runs_without_rq(site, recording):
    """companion.media.release.release_track is the job's one domain call; it needs no queue."""
    from companion.catalog.models import Track
    from companion.media.release import release_track

    track_id, _, _ = published_track(site, recording, "Inline")
    svc = site.extensions["scripthammer"]
    seen: list[tuple[int, str]] = []
    result = release_track(svc, track_id, progress=lambda pct, stage: seen.append((pct, stage)))
    assert result["renditions"] >= 12 and result["hls_variants"] == 3
    assert seen and seen[-1][0] == 100
    with svc.db.session() as s:
        track = s.get(Track, track_id)
        assert track.status == "ready" and track.manifest_key and svc.store.exists(track.manifest_key)
        assert len(track.renditions) == result["renditions"]
