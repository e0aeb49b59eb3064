"""Listener identity and the entitlements API: who may read, grant and revoke, checked before the body."""
from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from companion.access.models import Listener
from companion.access.tokens import make_listener_token
from companion.band.signing import sign, make_upload_token

SECRET = "test-shared-secret"


def fan(wp_user_id: int, name: str = "", secret: str = SECRET, **kw) -> dict:
    return {"Authorization": f"Bearer {make_listener_token(secret, wp_user_id, display_name=name, **kw)}"}


@pytest.fixture
def premium(client, auth):
    h = auth("ivory")
    album = client.post("/api/albums", json={"title": "Members Only", "release_state": "premium",
                                             "buy_url": "https://band.example/product/members-only/"},
                        headers=h).get_json()
    t = client.post("/api/tracks", json={"title": "Gold", "release_state": "premium", "album_id": album["id"]},
                    headers=h).get_json()
    return {"album": album["id"], "track": t["id"]}


@pytest.mark.usefixtures("db_kind")
def test_a_listener_token_names_a_listener_made_on_first_sight(app, client):
    me = client.get("/api/me", headers=fan(77, "Nova")).get_json()
    assert me["kind"] == "listener" and me["role"] == "listener" and me["name"] == "Nova"
    listener_id = me["scopes"]["listener_id"]
    assert me["scopes"]["wp_user_id"] == 77 and me["rights"] == []
    again = client.get("/api/me", headers=fan(77, "Nova Prime")).get_json()
    assert again["scopes"]["listener_id"] == listener_id and again["name"] == "Nova Prime"
    with app.extensions["scripthammer"].db.session() as s:
        rows = s.scalars(sa.select(Listener)).all()
        assert [(r.wp_user_id, r.display_name) for r in rows] == [(77, "Nova Prime")]
        assert rows[0].last_seen_at is not None
    assert client.get("/api/me").get_json()["kind"] == "anonymous"


@pytest.mark.parametrize("headers,code", [
    (fan(5, now=time.time() - 4000), "listener_token_expired"),
    (fan(5, secret="another-site-secret"), "listener_token_invalid"),
    ({"Authorization": "Bearer shmls.bm90IGpzb24.00"}, "listener_token_invalid"),
    ({"Authorization": "Bearer shmls.garbage"}, "listener_token_malformed"),
])
def test_expired_forged_and_malformed_listener_tokens_are_401(app, client, premium, headers, code):
    for path in ("/api/me", f"/api/tracks/{premium['track']}", "/api/me/entitlements"):
        r = client.get(path, headers=headers)
        assert r.status_code == 401 and r.get_json()["code"] == code, (path, r.get_json())
    with app.extensions["scripthammer"].db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Listener)) == 0


def test_a_token_made_by_a_site_without_the_secret_is_refused(tmp_path, redis_url):
    from companion import create_app
    from tests.conftest import build_config, prepare

    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url, wp_shared_secret="")
    prepare(cfg)
    client = create_app(cfg).test_client()
    r = client.get("/api/me", headers=fan(5, secret="whatever"))
    assert r.status_code == 401 and r.get_json()["code"] == "signing_disabled"


def grant(client, auth, who="ivory", **body):
    return client.post("/api/entitlements", json=body, headers=auth(who) if who else {})


def test_writes_are_refused_before_the_body_is_read(client, auth, make_guest_token):
    for method, path in (("post", "/api/entitlements"), ("delete", "/api/entitlements/1"),
                         ("post", "/api/albums"), ("post", "/api/tracks"), ("patch", "/api/tracks/1"),
                         ("patch", "/api/albums/1"), ("post", "/api/tracks/1/upload")):
        r = getattr(client, method)(path, json={})
        assert r.status_code == 401 and r.get_json()["code"] == "auth_required", (method, path, r.get_json())
    r = client.post("/api/entitlements", json={}, headers=auth("crash"))
    assert r.status_code == 403 and r.get_json()["details"]["right"] == "access.grant"
    guest = {"Authorization": f"Bearer {make_guest_token()}"}
    for headers in (fan(9), auth("listener"), guest):
        assert client.post("/api/entitlements", json={}, headers=headers).status_code == 403
        assert client.post("/api/tracks", json={}, headers=headers).status_code == 403
        assert client.delete("/api/entitlements/1", headers=headers).status_code == 403
    r = client.post("/api/entitlements", json={}, headers=auth("ivory"))
    assert r.status_code == 422 and set(r.get_json()["details"]["fields"]["json"]) == {"wp_user_id", "scope"}


@pytest.mark.usefixtures("db_kind")
def test_the_leader_grants_and_revokes_and_the_fan_hears_it_at_once(client, auth, premium):
    track = f"/api/tracks/{premium['track']}"
    locked = client.get(track, headers=fan(42)).get_json()
    assert locked["access"] == {"stream": "preview", "download": False, "why": "locked", "expires_at": None,
                                "buy_url": "https://band.example/product/members-only/"}
    r = grant(client, auth, wp_user_id=42, scope=f"album:{premium['album']}", display_name="Fan 42")
    assert r.status_code == 201, r.get_json()
    ent = r.get_json()
    assert ent["source"] == "grant" and ent["granted_by"] == "ivory" and ent["active"] is True
    assert ent["listener"]["wp_user_id"] == 42 and ent["scope"] == f"album:{premium['album']}"
    now = client.get(track, headers=fan(42)).get_json()
    assert now["access"]["why"] == "entitled" and now["access"]["stream"] == "full"
    assert client.get(track, headers=fan(43)).get_json()["access"]["why"] == "locked"
    mine = client.get("/api/me/entitlements", headers=fan(42)).get_json()
    assert [e["id"] for e in mine] == [ent["id"]]
    assert client.get("/api/me/entitlements", headers=fan(43)).get_json() == []
    # Revocation: by the leader only; at once.
    assert client.delete(f"/api/entitlements/{ent['id']}", headers=auth("crash")).status_code == 403
    r = client.delete(f"/api/entitlements/{ent['id']}?reason=chargeback", headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["active"] is False and r.get_json()["revoked_reason"] == "chargeback"
    assert client.get(track, headers=fan(42)).get_json()["access"]["why"] == "locked"
    assert client.delete("/api/entitlements/99999", headers=auth("ivory")).get_json()["code"] == "entitlement_not_found"


def test_grants_are_checked(client, auth, premium):
    r = grant(client, auth, wp_user_id=42, scope="track:99999")
    assert r.status_code == 400 and r.get_json()["code"] == "bad_scope"
    r = grant(client, auth, wp_user_id=42, scope="everything")
    assert r.status_code == 422 and "scope" in r.get_json()["details"]["fields"]["json"]
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()
    r = grant(client, auth, wp_user_id=42, scope="all", ends_at=past)
    assert r.status_code == 400 and r.get_json()["code"] == "bad_ends_at"
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)).isoformat()
    a = grant(client, auth, wp_user_id=42, scope="all", ends_at=soon, ref="press-2026").get_json()
    b = grant(client, auth, wp_user_id=42, scope="all", ref="press-2026").get_json()
    assert a["id"] == b["id"] and a["ends_at"] and b["ends_at"] is None  # the same grant, now open-ended


def test_the_band_and_wordpress_read_listeners_others_do_not(client, auth, premium, make_guest_token):
    grant(client, auth, wp_user_id=42, scope=f"track:{premium['track']}")
    client.get("/api/me", headers=fan(43))  # seen, never entitled
    for path in ("/api/listeners", "/api/listeners/42/entitlements"):
        assert client.get(path).status_code == 401
        for headers in (fan(42), auth("listener"), {"Authorization": f"Bearer {make_guest_token()}"},
                        {"Authorization": f"Bearer {make_upload_token(SECRET, premium['track'], user='editor')}"}):
            r = client.get(path, headers=headers)
            assert r.status_code == 403 and r.get_json()["code"] == "missing_right", (path, headers)
    band = client.get("/api/listeners", headers=auth("crash")).get_json()
    assert sorted(x["wp_user_id"] for x in band) == [42, 43]
    signed = client.get("/api/listeners/42/entitlements", headers=sign(SECRET, "GET", "/api/listeners/42/entitlements"))
    assert signed.status_code == 200 and [e["scope"] for e in signed.get_json()] == [f"track:{premium['track']}"]
    assert client.get("/api/listeners/43/entitlements", headers=auth("crash")).get_json() == []
    r = client.get("/api/listeners/44/entitlements", headers=auth("crash"))
    assert r.status_code == 404 and r.get_json()["code"] == "listener_not_found"
    assert client.get("/api/me/entitlements", headers=auth("crash")).get_json()["code"] == "not_a_listener"
    assert client.get("/api/me/entitlements").status_code == 401
