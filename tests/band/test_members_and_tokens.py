"""The band through the API: members, identities, tokens, and 401/403 on writes."""
from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.usefixtures("db_kind")


def test_members_lists_the_whole_band_leader_first(client):
    r = client.get("/api/members")
    assert r.status_code == 200
    members = r.get_json()
    assert [m["id"] for m in members] == ["ivory", "crash", "chops", "reed", "brass", "verse", "form"]
    ivory = members[0]
    assert ivory["role"] == "leader" and ivory["title"] == "Melody Master"
    assert "piano" in ivory["instrument"]
    crash = members[1]
    assert crash["owns"] == ["rhythm"] and crash["instrument"] == "full drum kit"
    pic = client.get(crash["picture_url"])
    assert pic.status_code == 200 and pic.mimetype == "image/svg+xml" and b"Crash" in pic.data


def test_unknown_member_is_a_json_404(client):
    r = client.get("/api/members/ringo")
    assert r.status_code == 404
    assert r.get_json() == {"status": 404, "code": "member_not_found", "message": "no band member 'ringo'",
                            "details": {}}


def test_me_shows_role_and_rights(client, auth):
    me = client.get("/api/me", headers=auth("crash")).get_json()
    assert me["member_id"] == "crash" and me["role"] == "member"
    assert "catalog.upload" in me["rights"] and "tokens.manage" not in me["rights"]
    assert client.get("/api/me").get_json()["kind"] == "anonymous"


def test_tokens_are_hashed_at_rest(app, member_tokens):
    from companion.band.models import ApiToken
    import sqlalchemy as sa

    with app.extensions["scripthammer"].db.session() as s:
        stored = {row.token_hash for row in s.scalars(sa.select(ApiToken))}
    for token in member_tokens.values():
        assert token not in stored
        assert all(token not in h for h in stored)


def test_writes_need_credentials_then_the_right(client, auth):
    body = {"title": "Fractal Funk"}
    r = client.post("/api/albums", json=body)
    assert r.status_code == 401 and r.get_json()["code"] == "auth_required"
    r = client.post("/api/albums", json=body, headers={"Authorization": "Bearer shm_nope"})
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"
    r = client.post("/api/albums", json=body, headers=auth("listener"))
    assert r.status_code == 403
    err = r.get_json()
    assert err["code"] == "missing_right" and err["details"]["right"] == "catalog.write"
    assert client.get("/api/albums", headers=auth("ivory")).get_json() == []  # nothing changed
    r = client.post("/api/albums", json=body, headers=auth("chops"))
    assert r.status_code == 201 and r.get_json()["title"] == "Fractal Funk"


def test_leader_creates_and_revokes_tokens_members_may_not(client, auth):
    r = client.post("/api/tokens", json={"role": "listener", "label": "fan"}, headers=auth("reed"))
    assert r.status_code == 403 and r.get_json()["details"]["right"] == "tokens.manage"
    r = client.post("/api/tokens", json={"role": "listener", "label": "fan"}, headers=auth("ivory"))
    assert r.status_code == 201
    made = r.get_json()
    token = made["token"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).get_json()["role"] == "listener"
    listed = client.get("/api/tokens", headers=auth("ivory")).get_json()
    assert all("token" not in t for t in listed) and made["id"] in [t["id"] for t in listed]
    assert client.delete(f"/api/tokens/{made['id']}", headers=auth("ivory")).status_code == 200
    r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_guest_tokens_must_expire_and_do_expire(client, auth, app):
    r = client.post("/api/tokens", json={"role": "guest", "label": "sax guest"}, headers=auth("ivory"))
    assert r.status_code == 400 and r.get_json()["code"] == "guest_needs_expiry"
    r = client.post("/api/tokens", json={"role": "guest", "expires_in_minutes": 5,
                                         "scopes": {"parts": ["sax"], "branches": ["guest-solo"]}},
                    headers=auth("ivory"))
    assert r.status_code == 201
    guest = r.get_json()
    me = client.get("/api/me", headers={"Authorization": f"Bearer {guest['token']}"}).get_json()
    assert me["role"] == "guest" and me["scopes"]["parts"] == ["sax"]
    # time passes: the token's expiry is now in the past
    from companion.band.models import ApiToken

    with app.extensions["scripthammer"].db.session() as s:
        s.get(ApiToken, guest["id"]).expires_at = dt.datetime.utcnow() - dt.timedelta(seconds=1)
    r = client.get("/api/me", headers={"Authorization": f"Bearer {guest['token']}"})
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"


def test_openapi_document_lists_the_domains(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for p in ("/api/members", "/api/tracks", "/api/tracks/{track_id}/upload", "/api/albums", "/api/jobs/{job_id}",
              "/api/health"):
        assert p in paths, p
