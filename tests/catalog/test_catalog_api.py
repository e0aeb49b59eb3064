"""Albums and tracks through the API, visibility of drafts, and uploads refused before storing."""
from __future__ import annotations

import io
import math
import struct
import wave

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.usefixtures("db_kind")


def make_wav(seconds: float = 1.0, rate: int = 44100) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            v = int(8000 * math.sin(2 * math.pi * 440 * i / rate))
            frames += struct.pack("<hh", v, v)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def store_keys(app) -> list[str]:
    return list(app.extensions["scripthammer"].store.list(""))


def job_count(app) -> int:
    from companion.tasks.models import Job

    with app.extensions["scripthammer"].db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Job))


def test_album_with_tracks_in_order_and_drafts_hidden_from_fans(client, auth):
    a = client.post("/api/albums", json={"title": "Blue Dot Matrix", "year": 2026, "release_state": "public"},
                    headers=auth("ivory")).get_json()
    t2 = client.post("/api/tracks", json={"title": "Second", "album_id": a["id"], "track_number": 2,
                                          "release_state": "public"}, headers=auth("ivory"))
    t1 = client.post("/api/tracks", json={"title": "First", "album_id": a["id"], "track_number": 1,
                                          "release_state": "public"}, headers=auth("ivory"))
    draft = client.post("/api/tracks", json={"title": "Secret", "album_id": a["id"], "track_number": 3},
                        headers=auth("ivory"))
    assert t1.status_code == t2.status_code == draft.status_code == 201
    fan_view = client.get(f"/api/albums/{a['id']}").get_json()
    assert [t["title"] for t in fan_view["tracks"]] == ["First", "Second"]
    band_view = client.get(f"/api/albums/{a['id']}", headers=auth("crash")).get_json()
    assert [t["title"] for t in band_view["tracks"]] == ["First", "Second", "Secret"]
    assert client.get(f"/api/tracks/{draft.get_json()['id']}").status_code == 404
    dup = client.post("/api/tracks", json={"title": "Clash", "album_id": a["id"], "track_number": 1},
                      headers=auth("ivory"))
    assert dup.status_code == 409 and dup.get_json()["code"] == "track_number_taken"


def test_bad_fields_get_a_stable_json_error(client, auth):
    r = client.post("/api/tracks", json={"title": "", "release_state": "leaked"}, headers=auth("ivory"))
    assert r.status_code == 422
    body = r.get_json()
    assert set(body) == {"status", "code", "message", "details"}
    assert body["code"] == "invalid_input"
    assert set(body["details"]["fields"]["json"]) == {"title", "release_state"}
    r = client.patch("/api/tracks/999", json={"title": "x"}, headers=auth("ivory"))
    assert r.status_code == 404 and r.get_json()["code"] == "track_not_found"


@pytest.mark.parametrize("payload,name,status,code", [
    (b"this is not audio at all, just words\n" * 50, "notes.wav", 415, "not_audio"),
    (b"", "empty.wav", 422, "empty"),
    (make_wav(1.0)[: 44 + 20000], "cut.wav", 422, "truncated"),
    (make_wav(0.5), "liar.mp3", 415, "extension_mismatch"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(client, auth, app, payload, name, status, code):
    t = client.post("/api/tracks", json={"title": "Upload target"}, headers=auth("ivory")).get_json()
    before = store_keys(app)
    r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (io.BytesIO(payload), name)},
                    headers=auth("ivory"), content_type="multipart/form-data")
    assert r.status_code == status, r.get_json()
    assert r.get_json()["code"] == code
    assert r.get_json()["message"]
    assert store_keys(app) == before
    assert job_count(app) == 0
    again = client.get(f"/api/tracks/{t['id']}", headers=auth("ivory")).get_json()
    assert again["status"] == "empty" and again["renditions"] == []


def test_upload_over_the_size_limit_is_413(tmp_path, redis_url):
    from companion import create_app
    from tests.conftest import build_config, prepare

    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url, max_upload_mb=1)
    tokens = prepare(cfg)
    app = create_app(cfg)
    client = app.test_client()
    t = client.post("/api/tracks", json={"title": "Big"}, headers={"Authorization": f"Bearer {tokens['ivory']}"})
    r = client.post(f"/api/tracks/{t.get_json()['id']}/upload?filename=big.wav", data=make_wav(13.0),
                    headers={"Authorization": f"Bearer {tokens['ivory']}"}, content_type="application/octet-stream")
    assert r.status_code == 413
    assert r.get_json()["code"] == "payload_too_large"
    app.extensions["scripthammer"].close()


def test_upload_needs_the_upload_right(client, auth):
    t = client.post("/api/tracks", json={"title": "Guarded"}, headers=auth("ivory")).get_json()
    r = client.post(f"/api/tracks/{t['id']}/upload?filename=a.wav", data=make_wav(0.2), headers=auth("listener"),
                    content_type="application/octet-stream")
    assert r.status_code == 403 and r.get_json()["details"]["right"] == "catalog.upload"
    r = client.post(f"/api/tracks/{t['id']}/upload?filename=a.wav", data=make_wav(0.2),
                    content_type="application/octet-stream")
    assert r.status_code == 401


def test_buy_urls_are_http_links_and_reach_the_track_json(client, auth):
    h = auth("ivory")
    for bad in ("javascript:alert(1)", "data:text/html,<b>x</b>", "shop", "ftp://band.example/x"):
        r = client.post("/api/tracks", json={"title": "X", "buy_url": bad}, headers=h)
        assert r.status_code == 422 and "buy_url" in r.get_json()["details"]["fields"]["json"], bad
    album = client.post("/api/albums", json={"title": "Paid", "release_state": "premium",
                                             "buy_url": "https://band.example/product/paid/"}, headers=h).get_json()
    t = client.post("/api/tracks", json={"title": "Paid One", "album_id": album["id"], "release_state": "premium"},
                    headers=h).get_json()
    fan = client.get(f"/api/tracks/{t['id']}").get_json()
    assert fan["buy_url"] == fan["access"]["buy_url"] == "https://band.example/product/paid/"  # the album's
    r = client.patch(f"/api/tracks/{t['id']}", json={"buy_url": "https://band.example/product/paid-one/"}, headers=h)
    assert r.status_code == 200
    assert client.get(f"/api/tracks/{t['id']}").get_json()["access"]["buy_url"] == "https://band.example/product/paid-one/"
    assert client.patch(f"/api/tracks/{t['id']}", json={"buy_url": "https://x.example/"},
                        headers=auth("listener")).status_code == 403
