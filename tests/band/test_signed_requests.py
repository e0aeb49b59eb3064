"""WordPress's service identity: HMAC-signed requests, a five-minute window, no replays."""
from __future__ import annotations

import json
import time

from companion.band.signing import sign

SECRET = "test-shared-secret"


def _post(client, path, body: dict, headers: dict):
    return client.post(path, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"})


def test_signed_request_is_the_service_and_may_write(client):
    body = {"title": "From WordPress"}
    h = sign(SECRET, "POST", "/api/albums", json.dumps(body).encode())
    r = _post(client, "/api/albums", body, h)
    assert r.status_code == 201, r.get_json()
    h = sign(SECRET, "GET", "/api/me")
    assert client.get("/api/me", headers=h).get_json()["role"] == "service"


def test_replayed_forged_and_stale_signatures_are_refused(client, auth):
    body = {"title": "Once"}
    raw = json.dumps(body).encode()
    h = sign(SECRET, "POST", "/api/albums", raw)
    assert _post(client, "/api/albums", body, h).status_code == 201
    r = _post(client, "/api/albums", body, h)
    assert r.status_code == 401 and r.get_json()["code"] == "signature_replayed"
    forged = sign("not-the-secret", "POST", "/api/albums", raw)
    r = _post(client, "/api/albums", body, forged)
    assert r.status_code == 401 and r.get_json()["code"] == "signature_invalid"
    tampered = sign(SECRET, "POST", "/api/albums", raw)
    r = _post(client, "/api/albums", {"title": "Twice"}, tampered)  # body changed after signing
    assert r.status_code == 401 and r.get_json()["code"] == "signature_invalid"
    stale = sign(SECRET, "POST", "/api/albums", raw, timestamp=int(time.time()) - 301)
    r = _post(client, "/api/albums", body, stale)
    assert r.status_code == 401 and r.get_json()["code"] == "signature_expired"
    titles = [a["title"] for a in client.get("/api/albums", headers=auth("ivory")).get_json()]
    assert titles == ["Once"]


def test_upload_tokens_allow_one_track_for_a_few_minutes(client, auth):
    from companion.band.signing import make_upload_token
    from tests.catalog.test_catalog_api import make_wav

    a = client.post("/api/tracks", json={"title": "A"}, headers=auth("ivory")).get_json()["id"]
    b = client.post("/api/tracks", json={"title": "B"}, headers=auth("ivory")).get_json()["id"]
    tok = make_upload_token(SECRET, a, ttl=300, user="editor")
    h = {"Authorization": f"Bearer {tok}"}
    wav = make_wav(0.5)
    r = client.post(f"/api/tracks/{b}/upload?filename=x.wav", data=wav, headers=h,
                    content_type="application/octet-stream")
    assert r.status_code == 403 and r.get_json()["code"] == "wrong_track"
    r = client.post("/api/albums", json={"title": "nope"}, headers=h)
    assert r.status_code == 403 and r.get_json()["details"]["right"] == "catalog.write"
    forged = make_upload_token("wrong-secret", a)
    r = client.post(f"/api/tracks/{a}/upload?filename=x.wav", data=wav, headers={"Authorization": f"Bearer {forged}"},
                    content_type="application/octet-stream")
    assert r.status_code == 401 and r.get_json()["code"] == "upload_token_invalid"
    old = make_upload_token(SECRET, a, ttl=60, now=time.time() - 120)
    r = client.post(f"/api/tracks/{a}/upload?filename=x.wav", data=wav, headers={"Authorization": f"Bearer {old}"},
                    content_type="application/octet-stream")
    assert r.status_code == 401 and r.get_json()["code"] == "upload_token_expired"
    pre = client.options(f"/api/tracks/{a}/upload", headers={
        "Origin": "http://wp.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert pre.headers.get("Access-Control-Allow-Origin") in ("*", "http://wp.example")
    assert "authorization" in pre.headers.get("Access-Control-Allow-Headers", "").lower()
    r = client.post(f"/api/tracks/{a}/upload?filename=x.wav", data=wav, headers=h,
                    content_type="application/octet-stream")
    assert r.status_code == 202, r.get_json()
