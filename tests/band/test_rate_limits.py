"""Failing credentials are rate-limited per client: repeated 401s lead to 429 with Retry-After."""
from __future__ import annotations

import json

import pytest

from companion.band.signing import sign

SECRET = "test-shared-secret"
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
BYSTANDER = {"REMOTE_ADDR": "198.51.100.20"}


@pytest.fixture
def limited(app_with):
    return app_with(auth_failure_limit="3 per minute")


def test_guessing_tokens_is_stopped_with_429_and_others_are_unaffected(limited):
    client = limited.test_client()
    good = {"Authorization": f"Bearer {limited.test_tokens['ivory']}"}
    for i in range(3):
        r = client.get("/api/me", headers={"Authorization": f"Bearer shm_guess{i}"}, environ_base=ATTACKER)
        assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"
    r = client.get("/api/me", headers={"Authorization": "Bearer shm_guess4"}, environ_base=ATTACKER)
    assert r.status_code == 429
    err = r.get_json()
    assert set(err) == {"status", "code", "message", "details"}
    assert err["status"] == 429 and err["code"] == "too_many_failures" and "3 per 1 minute" in err["message"]
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60 and err["details"]["retry_after_seconds"] == retry
    # while blocked, even a right token from that client is not looked at...
    assert client.get("/api/me", headers=good, environ_base=ATTACKER).status_code == 429
    # ...but anonymous reading from it goes on, and another client is unaffected
    assert client.get("/api/members", environ_base=ATTACKER).status_code == 200
    r = client.get("/api/me", headers=good, environ_base=BYSTANDER)
    assert r.status_code == 200 and r.get_json()["member_id"] == "ivory"
    r = client.get("/api/me", headers={"Authorization": "Bearer shm_nope"}, environ_base=BYSTANDER)
    assert r.status_code == 401


def test_with_no_public_limit_reads_skip_the_limiter_but_not_the_credential_or_write_limits(app_with):
    """No public limit configured (the load bench, a site behind a CDN's own limits): anonymous reads go
    straight to their view, but a GET with credentials still counts its 401s and is refused once blocked,
    and the public writes keep their own limits (device sign-in: POST)."""
    app = app_with(auth_failure_limit="2 per minute", public_rate_limit="", device_rate_limit="2 per minute")
    client = app.test_client()
    for _ in range(50):
        assert client.get("/api/members", environ_base=ATTACKER).status_code == 200
    for i in range(2):
        r = client.get("/api/me", headers={"Authorization": f"Bearer shm_guess{i}"}, environ_base=ATTACKER)
        assert r.status_code == 401
    good = {"Authorization": f"Bearer {app.test_tokens['ivory']}"}
    r = client.get("/api/me", headers=good, environ_base=ATTACKER)
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_failures"
    assert client.get("/api/me", headers=good, environ_base=BYSTANDER).status_code == 200
    codes = [client.post("/api/auth/device", data={"client_id": "app"}, environ_base=BYSTANDER).status_code
             for _ in range(3)]
    assert codes[2] == 429 and 429 not in codes[:2], codes


def test_successes_and_anonymous_401s_do_not_count(limited):
    client = limited.test_client()
    good = {"Authorization": f"Bearer {limited.test_tokens['crash']}"}
    for _ in range(6):
        assert client.get("/api/me", headers=good, environ_base=ATTACKER).status_code == 200
        # an anonymous write is 401 (sign in first) but presents no credentials: not a failed guess
        assert client.post("/api/tokens", json={}, environ_base=ATTACKER).status_code == 401
    assert client.get("/api/me", headers=good, environ_base=ATTACKER).status_code == 200


def test_forged_signed_requests_are_rate_limited_too(limited):
    client = limited.test_client()
    body = json.dumps({"title": "x"}).encode()
    for _ in range(3):
        h = sign("not-the-secret", "POST", "/api/albums", body)
        r = client.post("/api/albums", data=body, headers={**h, "Content-Type": "application/json"},
                        environ_base=ATTACKER)
        assert r.status_code == 401 and r.get_json()["code"] == "signature_invalid"
    h = sign(SECRET, "POST", "/api/albums", body)  # even a right one: the client is blocked
    r = client.post("/api/albums", data=body, headers={**h, "Content-Type": "application/json"},
                    environ_base=ATTACKER)
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_failures"
    h = sign(SECRET, "POST", "/api/albums", body)
    r = client.post("/api/albums", data=body, headers={**h, "Content-Type": "application/json"},
                    environ_base=BYSTANDER)
    assert r.status_code == 201, r.get_json()


def test_forged_upload_tokens_are_rate_limited(limited):
    from companion.band.signing import make_upload_token

    client = limited.test_client()
    forged = make_upload_token("wrong-secret", 1)
    for _ in range(3):
        r = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"}, environ_base=ATTACKER)
        assert r.status_code == 401 and r.get_json()["code"] == "upload_token_invalid"
    r = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"}, environ_base=ATTACKER)
    assert r.status_code == 429


def test_without_redis_the_limits_step_aside_and_tokens_still_work(app_with):
    """Rate limits never take the API down: with Redis unreachable a bad token is still a plain 401
    and a good one still works (signed requests fail closed on their own: nonces need Redis)."""
    application = app_with(redis_url="redis://127.0.0.1:9/0", auth_failure_limit="1 per minute")
    client = application.test_client()
    for _ in range(3):
        r = client.get("/api/me", headers={"Authorization": "Bearer shm_nope"}, environ_base=ATTACKER)
        assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"
    good = {"Authorization": f"Bearer {application.test_tokens['ivory']}"}
    assert client.get("/api/me", headers=good, environ_base=ATTACKER).status_code == 200
    body = json.dumps({"title": "x"}).encode()
    h = sign(SECRET, "POST", "/api/albums", body)
    r = client.post("/api/albums", data=body, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 503 and r.get_json()["code"] == "nonce_store_down"
