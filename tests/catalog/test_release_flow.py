"""Upload -> RQ worker -> renditions, HLS, preview and peaks, served with Range; on SQLite, PostgreSQL and S3."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import make_audio

EXPECTED = {"master-wav", "master-flac", "mp3-320", "mp3-v0", "flac", "aac-256", "vorbis-q6", "alac", "wav", "aiff",
            "opus-160"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_audio(tmp_path_factory.mktemp("rec") / "take.wav", seconds=6.0, volume_db=6)


def upload(client, auth, track_id, path, name=None):
    with open(path, "rb") as fh:
        return client.post(f"/api/tracks/{track_id}/upload", data={"file": (fh, name or path.name)},
                           headers=auth("ivory"), content_type="multipart/form-data")


def release(client, auth, run_jobs, recording, title="Cosmic Cycle"):
    t = client.post("/api/tracks", json={"title": title, "release_state": "public"}, headers=auth("ivory")).get_json()
    r = upload(client, auth, t["id"], recording)
    assert r.status_code == 202, r.get_json()
    accepted = r.get_json()
    assert accepted["track"]["status"] == "processing"
    run_jobs()
    job = client.get(accepted["job_url"], headers=auth("ivory")).get_json()
    assert job["state"] == "finished", job
    assert job["progress"] == 100
    return client.get(f"/api/tracks/{t['id']}", headers=auth("ivory")).get_json(), job


@pytest.mark.usefixtures("db_kind")
def test_upload_produces_every_rendition_and_serves_them(client, auth, run_jobs, recording):
    track, job = release(client, auth, run_jobs, recording)
    assert track["status"] == "ready" and track["error"] is None
    names = {r["name"] for r in track["renditions"]}
    assert EXPECTED <= names, EXPECTED - names
    assert any(r["kind"] == "preview" for r in track["renditions"])
    for r in track["renditions"]:
        assert r["size"] > 0 and r["url"] and r["duration"] > 0
        # The band gets the masters signed for it; the public downloads plainly.
        assert ("sig=" in r["url"]) == (r["kind"] == "master"), r
    fan = client.get(f"/api/tracks/{track['id']}").get_json()
    assert {r["name"] for r in fan["renditions"]} == names - {"master-wav", "master-flac"}
    assert abs(track["duration"] - 6.0) < 0.1
    loud = track["loudness"]
    assert -30 < loud["integrated_lufs"] < -20 and loud["true_peak_dbtp"] < 0
    assert loud["stream_gain_db"] > 5  # a quiet take is raised towards -14 LUFS for streaming

    mp3 = next(r for r in track["renditions"] if r["name"] == "mp3-320")
    path = mp3["url"].split("/media/", 1)[1]
    full = client.get(f"/media/{path}")
    assert full.status_code == 200 and len(full.data) == mp3["size"]
    part = client.get(f"/media/{path}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == full.data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{mp3['size']}"

    master = client.get("/media/" + track["hls_url"].split("/media/", 1)[1]).data.decode()
    assert master.startswith("#EXTM3U") and master.count("#EXT-X-STREAM-INF") >= 3
    assert 'CODECS="mp4a.40.2"' in master and "BANDWIDTH=" in master
    peaks = [json.loads(client.get("/media/" + p["url"].split("/media/", 1)[1]).data) for p in track["peaks"]]
    assert len(peaks) >= 2 and all(p["version"] == 2 and p["bits"] == 8 for p in peaks)


def test_reupload_of_the_same_file_does_no_encoding(client, auth, run_jobs, recording):
    track, job = release(client, auth, run_jobs, recording)
    assert job["result"]["cached"] is False
    r = upload(client, auth, track["id"], recording)
    run_jobs()
    job2 = client.get(r.get_json()["job_url"], headers=auth("ivory")).get_json()
    assert job2["state"] == "finished" and job2["result"]["cached"] is True
    again = client.get(f"/api/tracks/{track['id']}", headers=auth("ivory")).get_json()
    assert {(r["name"], r["sha256"]) for r in again["renditions"]} == {
        (r["name"], r["sha256"]) for r in track["renditions"]}


def test_a_failing_job_is_recorded_on_the_track(client, auth, run_jobs, recording, app):
    t = client.post("/api/tracks", json={"title": "Lost"}, headers=auth("ivory")).get_json()
    r = upload(client, auth, t["id"], recording, name="lost.wav")
    store = app.extensions["scripthammer"].store
    for key in list(store.list("uploads/")):
        store.delete(key)  # the original vanished before the worker got to it
    run_jobs()
    job = client.get(r.get_json()["job_url"], headers=auth("ivory")).get_json()
    assert job["state"] == "failed" and job["error"]["message"]
    track = client.get(f"/api/tracks/{t['id']}", headers=auth("ivory")).get_json()
    assert track["status"] == "failed" and track["error"]["message"] == job["error"]["message"]
    assert track["renditions"] == []


def test_s3_store_serves_renditions_by_presigned_redirect(tmp_path, redis_url, s3_settings, recording):
    import requests
    from rq import SimpleWorker

    from companion import create_app
    from tests.conftest import build_config, prepare

    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url, **s3_settings)
    tokens = prepare(cfg)
    app = create_app(cfg)
    client = app.test_client()
    auth = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # noqa: E731
    svc = app.extensions["scripthammer"]
    track, _ = release(client, auth, lambda: svc.worker(SimpleWorker).work(burst=True),
                       recording)
    assert track["status"] == "ready"
    assert svc.store.name == "s3" and all(k.startswith(("uploads/", "renditions/", "hls/", "peaks/", "manifests/",
                                                         "encodes/", "previews/"))
                                          for k in svc.store.list(""))
    flac = next(r for r in track["renditions"] if r["name"] == "flac")
    r = client.get("/media/" + flac["url"].split("/media/", 1)[1])
    assert r.status_code == 302
    got = requests.get(r.headers["Location"], headers={"Range": "bytes=0-3"}, timeout=10)
    assert got.status_code == 206 and got.content == b"fLaC"
    master = client.get("/media/" + track["hls_url"].split("/media/", 1)[1])
    assert master.status_code == 200 and b"#EXT-X-STREAM-INF" in master.data
    svc.close()


def test_renditions_decode_and_carry_tags(client, auth, run_jobs, recording, tmp_path):
    import mutagen

    track, _ = release(client, auth, run_jobs, recording, title="Tagged Take")
    for r in track["renditions"]:
        if r["kind"] not in ("download", "master"):
            continue
        f = tmp_path / f"x.{r['extension']}"
        f.write_bytes(client.get("/media/" + r["url"].split("/media/", 1)[1]).data)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(f), "-f", "null", "-"], check=True)
        tags = mutagen.File(f)
        assert tags is not None and tags.tags is not None, r["name"]
        text = repr(tags.tags)
        assert "Tagged Take" in text, r["name"]


def test_renaming_a_track_retags_its_files_without_reencoding(client, auth, run_jobs, recording, tmp_path):
    import mutagen

    from companion.media.ffmpeg import RUNS

    track, _ = release(client, auth, run_jobs, recording, title="Working Title")
    r = client.patch(f"/api/tracks/{track['id']}", json={"title": "Final Title"}, headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["status"] == "processing"
    before = RUNS.copy()
    run_jobs()
    assert (RUNS - before).get("ffmpeg", 0) == 0  # tags only: no encoder ran
    renamed = client.get(f"/api/tracks/{track['id']}").get_json()
    assert renamed["status"] == "ready" and renamed["title"] == "Final Title"
    mp3 = next(r for r in renamed["renditions"] if r["name"] == "mp3-320")
    f = tmp_path / "renamed.mp3"
    f.write_bytes(client.get("/media/" + mp3["url"].split("/media/", 1)[1]).data)
    assert str(mutagen.File(f)["TIT2"]) == "Final Title"
    old = {r["name"]: r["sha256"] for r in track["renditions"]}
    assert all(old[r["name"]] != r["sha256"] for r in renamed["renditions"] if r["kind"] == "download")
