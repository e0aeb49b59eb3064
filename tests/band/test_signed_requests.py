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
