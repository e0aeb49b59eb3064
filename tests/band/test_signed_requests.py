"""WordPress's service identity: HMAC-signed requests, a five-minute window, no replays."""
from __future__ import annotations

import json
import time

import pytest

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


class CountingStream:
    """A request body of ``size`` bytes that counts how much of it the server reads."""

    def __init__(self, size: int):
        self.size, self.pos, self.read_bytes = size, 0, 0

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = self.size + offset if whence == 2 else offset
        return self.pos

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        n = left if n is None or n < 0 else min(n, left)
        self.pos += n
        self.read_bytes += n
        return b"x" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)


def _stream_post(client, stream, headers, **environ):
    return client.post("/api/albums", input_stream=stream, headers={**headers, "Content-Type": "application/json"},
                       environ_overrides=environ)


def test_a_large_signed_body_is_refused_before_it_is_read(client, app):
    """Hole 5: a signature header made the companion read up to the global 1 GiB before checking it."""
    cap = app.config["SCRIPTHAMMER"].signed_body_max_bytes
    assert cap == 1024 * 1024
    big = CountingStream(64 * 1024 * 1024)
    h = sign(SECRET, "POST", "/api/albums", b"{}")
    r = _stream_post(client, big, h)
    assert r.status_code == 413
    err = r.get_json()
    assert err["code"] == "signed_body_too_large"
    assert err["details"]["limit_bytes"] == cap and "1 MiB" in err["message"]
    assert big.read_bytes == 0


@pytest.mark.parametrize("headers, code", [
    (lambda: sign(SECRET, "POST", "/api/albums", b"{}", timestamp=int(time.time()) - 3600), "signature_expired"),
    (lambda: sign(SECRET, "POST", "/api/albums", b"{}", nonce="short"), "signature_malformed"),
    (lambda: {**sign(SECRET, "POST", "/api/albums", b"{}"), "X-ScriptHammer-Signature": "zz" * 32},
     "signature_malformed"),
    (lambda: {"X-ScriptHammer-Signature": "ab" * 32}, "signature_missing"),
])
def test_bad_signature_headers_are_refused_before_the_body_is_read(client, headers, code):
    body = CountingStream(512 * 1024)  # under the cap: only the header checks stop it
    r = _stream_post(client, body, headers())
    assert r.status_code == 401 and r.get_json()["code"] == code
    assert body.read_bytes == 0


def test_a_chunked_signed_body_is_cut_at_the_cap(client, app):
    """Without a Content-Length the body is read only up to the cap, then refused with 413."""
    cap = app.config["SCRIPTHAMMER"].signed_body_max_bytes
    big = CountingStream(16 * 1024 * 1024)
    h = sign(SECRET, "POST", "/api/albums", b"{}")
    r = _stream_post(client, big, {**h, "Transfer-Encoding": "chunked"}, **{"wsgi.input_terminated": True})
    assert r.status_code == 413
    assert r.get_json()["details"]["limit_bytes"] == cap
    assert big.read_bytes <= cap + 64 * 1024


def test_signing_disabled_refuses_without_reading(app_with):
    application = app_with(wp_shared_secret="")
    body = CountingStream(4096)
    h = sign("anything", "POST", "/api/albums", b"{}")
    r = _stream_post(application.test_client(), body, h)
    assert r.status_code == 401 and r.get_json()["code"] == "signing_disabled"
    assert body.read_bytes == 0
