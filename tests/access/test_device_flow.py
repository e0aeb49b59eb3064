"""Apps sign in with the device authorization grant (RFC 8628): the companion's side, per the RFC.

WordPress's part is played here by signed requests (companion/band/signing.py, the plugin's scheme);
tests/wordpress/test_device_flow.py runs the same flow through a real WordPress.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from companion.access.device import GRANT_TYPE, MAX_WRONG_CODES, USER_CODE_ALPHABET
from companion.access.models import DeviceAuthorization
from companion.band.signing import sign

CLIENT = "scripthammer-app"


@pytest.fixture
def dev_app(app_with):
    return app_with(wp_url="http://wp.example.test")


@pytest.fixture
def dc(dev_app):
    return dev_app.test_client()


def _signed(dev_app, client, path: str, body: dict, secret: str | None = None):
    raw = json.dumps(body).encode()
    secret = dev_app.extensions["scripthammer"].config.wp_shared_secret if secret is None else secret
    headers = sign(secret, "POST", path, raw)
    headers["Content-Type"] = "application/json"
    return client.post(path, data=raw, headers=headers)


def _start(client):
    r = client.post("/api/auth/device", data={"client_id": CLIENT})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _poll(client, device_code, client_id=CLIENT, grant_type=GRANT_TYPE):
    return client.post("/api/auth/token", data={"grant_type": grant_type, "device_code": device_code,
                                                "client_id": client_id})


def _allow_poll(dev_app):
    """Let the next poll come after the interval (move the last poll back instead of sleeping)."""
    with dev_app.extensions["scripthammer"].db.session() as s:
        s.execute(sa.update(DeviceAuthorization).values(last_polled_at=dt.datetime(2000, 1, 1)))


def _approve(dev_app, client, user_code, wp_user_id=7, name="Ivy Fan", approve=True):
    return _signed(dev_app, client, "/api/auth/device/decision",
                   {"user_code": user_code, "wp_user_id": wp_user_id, "display_name": name, "approve": approve})


def test_the_device_authorization_response_follows_the_rfc(dev_app, dc):
    got = _start(dc)
    assert set(got) == {"device_code", "user_code", "verification_uri", "verification_uri_complete",
                        "expires_in", "interval"}
    assert len(got["device_code"]) >= 40
    assert len(got["user_code"]) == 9 and got["user_code"][4] == "-"
    assert all(ch in USER_CODE_ALPHABET for ch in got["user_code"].replace("-", ""))
    assert got["verification_uri"] == "http://wp.example.test/?scripthammer_device=1"
    assert got["verification_uri_complete"] == got["verification_uri"] + "&user_code=" + got["user_code"]
    assert got["expires_in"] == 600 and got["interval"] == 5
    # the device code is stored only as its hash
    with dev_app.extensions["scripthammer"].db.session() as s:
        row = s.scalar(sa.select(DeviceAuthorization))
        assert row.device_code_hash != got["device_code"] and got["device_code"] not in json.dumps(
            {c.name: str(getattr(row, c.name)) for c in DeviceAuthorization.__table__.columns})
    # unknown apps and missing ids
    for bad in ({"client_id": "evil-app"}, {}):
        r = dc.post("/api/auth/device", data=bad)
        assert r.status_code == 400 and r.get_json()["error"] == "invalid_client"


def test_without_a_wordpress_site_there_is_no_device_flow(app, client):
    r = client.post("/api/auth/device", data={"client_id": CLIENT})
    assert r.status_code == 503 and r.get_json()["code"] == "device_flow_unavailable"


def test_pending_slow_down_approval_single_use_and_the_token_works(dev_app, dc, auth):
    got = _start(dc)
    first = _poll(dc, got["device_code"])
    assert first.status_code == 400 and first.get_json()["error"] == "authorization_pending"
    quick = _poll(dc, got["device_code"])  # sooner than the interval
    assert quick.status_code == 400 and quick.get_json()["error"] == "slow_down"
    with dev_app.extensions["scripthammer"].db.session() as s:
        assert s.scalar(sa.select(DeviceAuthorization.interval)) == 10  # the RFC's 5 more seconds
    _allow_poll(dev_app)
    assert _poll(dc, got["device_code"]).get_json()["error"] == "authorization_pending"

    # WordPress shows which app asks (any case, with or without the dash), then the fan approves
    typed = got["user_code"].replace("-", "").lower()
    seen = _signed(dev_app, dc, "/api/auth/device/lookup", {"user_code": typed, "wp_user_id": 7})
    assert seen.status_code == 200 and seen.get_json()["client_name"] == "ScriptHammer app"
    r = _approve(dev_app, dc, got["user_code"].lower())
    assert r.status_code == 200 and r.get_json()["status"] == "approved"

    _allow_poll(dev_app)
    done = _poll(dc, got["device_code"])
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert done.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("shmls.") and body["listener"]["wp_user_id"] == 7
    fan = {"Authorization": f"Bearer {body['access_token']}"}
    assert dc.get("/api/me/entitlements", headers=fan).get_json() == []

    # the fan's subscription applies to the app's token
    g = dc.post("/api/entitlements", json={"wp_user_id": 7, "scope": "all"}, headers=auth("ivory"))
    assert g.status_code == 201, g.get_json()
    mine = dc.get("/api/me/entitlements", headers=fan).get_json()
    assert [e["scope"] for e in mine] == ["all"] and mine[0]["listener"]["display_name"] == "Ivy Fan"

    # single use: the same device code gives nothing more
    _allow_poll(dev_app)
    again = _poll(dc, got["device_code"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"

    # the refresh token gives a new listener token once, and rotates
    ref = dc.post("/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                           "client_id": CLIENT})
    assert ref.status_code == 200, ref.get_json()
    new = ref.get_json()
    assert new["access_token"] != body["access_token"] and new["refresh_token"] != body["refresh_token"]
    assert dc.get("/api/me/entitlements", headers={"Authorization": f"Bearer {new['access_token']}"}).status_code == 200
    old = dc.post("/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                           "client_id": CLIENT})
    assert old.status_code == 400 and old.get_json()["error"] == "invalid_grant"


def test_denied_expired_unknown_and_wrong_grant_type(dev_app, dc):
    denied = _start(dc)
    assert _approve(dev_app, dc, denied["user_code"], approve=False).get_json()["status"] == "denied"
    r = _poll(dc, denied["device_code"])
    assert r.status_code == 400 and r.get_json()["error"] == "access_denied"

    late = _start(dc)
    with dev_app.extensions["scripthammer"].db.session() as s:
        s.execute(sa.update(DeviceAuthorization).where(DeviceAuthorization.status == "pending").values(
            expires_at=dt.datetime(2000, 1, 1)))
    r = _poll(dc, late["device_code"])
    assert r.status_code == 400 and r.get_json()["error"] == "expired_token"
    # an expired code cannot be approved any more either
    r = _approve(dev_app, dc, late["user_code"])
    assert r.status_code == 404 and r.get_json()["code"] == "device_code_unknown"
    assert _poll(dc, late["device_code"]).get_json()["error"] == "expired_token"

    r = _poll(dc, "not-a-code-we-issued")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    fresh = _start(dc)
    r = _poll(dc, fresh["device_code"], grant_type="authorization_code")
    assert r.status_code == 400 and r.get_json()["error"] == "unsupported_grant_type"
    r = dc.post("/api/auth/token", data={"device_code": fresh["device_code"], "client_id": CLIENT})
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"
    r = _poll(dc, fresh["device_code"], client_id="other-app")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_client"
    # the same shape as every companion error, plus the RFC's fields
    assert {"status", "code", "message", "error", "error_description"} <= set(r.get_json())


def test_only_wordpress_signature_approves(dev_app, dc, auth):
    got = _start(dc)
    body = {"user_code": got["user_code"], "wp_user_id": 7, "display_name": "x", "approve": True}
    # a fan (or anyone) posting straight to the companion: no signature
    r = dc.post("/api/auth/device/decision", json=body)
    assert r.status_code == 401
    # a forged signature (another secret)
    r = _signed(dev_app, dc, "/api/auth/device/decision", body, secret="not-the-secret")
    assert r.status_code == 401
    # a band member's or a listener's token is not WordPress
    r = dc.post("/api/auth/device/decision", json=body, headers=auth("ivory"))
    assert r.status_code == 403 and r.get_json()["code"] == "missing_right"
    from companion.access.tokens import make_listener_token
    fan = make_listener_token(dev_app.extensions["scripthammer"].config.wp_shared_secret, 7)
    r = dc.post("/api/auth/device/lookup", json={"user_code": got["user_code"], "wp_user_id": 7},
                headers={"Authorization": f"Bearer {fan}"})
    assert r.status_code == 403
    # nothing was approved
    assert _poll(dc, got["device_code"]).get_json()["error"] == "authorization_pending"
    # bad input from WordPress: a clear 422, nothing written
    r = _signed(dev_app, dc, "/api/auth/device/decision", {"user_code": got["user_code"], "wp_user_id": 0,
                                                            "approve": True})
    assert r.status_code == 422
    _allow_poll(dev_app)
    assert _poll(dc, got["device_code"]).get_json()["error"] == "authorization_pending"


def test_another_fans_code_once_decided_cannot_be_taken_over(dev_app, dc):
    got = _start(dc)
    assert _approve(dev_app, dc, got["user_code"], wp_user_id=7).status_code == 200
    r = _approve(dev_app, dc, got["user_code"], wp_user_id=8, name="Mallory")
    assert r.status_code == 404 and r.get_json()["code"] == "device_code_unknown"
    r = _approve(dev_app, dc, got["user_code"], wp_user_id=8, approve=False)
    assert r.status_code == 404
    token = _poll(dc, got["device_code"]).get_json()
    assert token["listener"]["wp_user_id"] == 7


def test_guessing_codes_is_limited_per_fan(dev_app, dc):
    got = _start(dc)
    wrong = "BBBB-BBBB" if got["user_code"] != "BBBB-BBBB" else "CCCC-CCCC"
    for _ in range(MAX_WRONG_CODES):
        r = _signed(dev_app, dc, "/api/auth/device/lookup", {"user_code": wrong, "wp_user_id": 9})
        assert r.status_code == 404 and r.get_json()["code"] == "device_code_unknown"
    # now even the right code is refused for this fan, for a while
    r = _signed(dev_app, dc, "/api/auth/device/lookup", {"user_code": got["user_code"], "wp_user_id": 9})
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_wrong_codes"
    assert int(r.headers["Retry-After"]) > 0
    r = _approve(dev_app, dc, got["user_code"], wp_user_id=9)
    assert r.status_code == 429
    # another fan is not affected, and garbage is just a wrong code
    r = _signed(dev_app, dc, "/api/auth/device/lookup", {"user_code": "<script>", "wp_user_id": 10})
    assert r.status_code == 404
    r = _signed(dev_app, dc, "/api/auth/device/lookup", {"user_code": got["user_code"], "wp_user_id": 10})
    assert r.status_code == 200


def test_asking_for_codes_is_rate_limited_per_client(app_with):
    dev = app_with(wp_url="http://wp.example.test", device_rate_limit="3 per minute")
    c = dev.test_client()
    for _ in range(3):
        assert c.post("/api/auth/device", data={"client_id": CLIENT}).status_code == 200
    r = c.post("/api/auth/device", data={"client_id": CLIENT})
    assert r.status_code == 429 and r.get_json()["code"] == "too_many_device_requests"
    with dev.extensions["scripthammer"].db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(DeviceAuthorization)) == 3


@pytest.mark.parametrize("db_kind", ["postgresql", "mariadb"])
def test_the_flow_on_postgresql_and_mariadb(db_kind, dev_app, dc):
    got = _start(dc)
    assert _poll(dc, got["device_code"]).get_json()["error"] == "authorization_pending"
    assert _approve(dev_app, dc, got["user_code"].replace("-", " ")).status_code == 200
    body = _poll(dc, got["device_code"]).get_json()
    assert body["listener"] == {"wp_user_id": 7, "display_name": "Ivy Fan"}
    assert _poll(dc, got["device_code"]).get_json()["error"] == "invalid_grant"
    assert dc.get("/api/me/entitlements", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200


def test_wordpress_signs_a_fan_out_of_every_app(dev_app, dc, auth):
    first, second, other = _start(dc), _start(dc), _start(dc)
    for g, uid in ((first, 7), (second, 7), (other, 8)):
        assert _approve(dev_app, dc, g["user_code"], wp_user_id=uid).status_code == 200
    taken = _poll(dc, first["device_code"]).get_json()  # the second is approved but not taken yet
    mine = _poll(dc, other["device_code"]).get_json()
    # only WordPress may: unsigned 401, a member's token 403
    assert dc.post("/api/auth/device/revoke", json={"wp_user_id": 7}).status_code == 401
    assert dc.post("/api/auth/device/revoke", json={"wp_user_id": 7}, headers=auth("ivory")).status_code == 403
    r = _signed(dev_app, dc, "/api/auth/device/revoke", {"wp_user_id": 7})
    assert r.status_code == 200 and r.get_json() == {"revoked": 2}
    ref = dc.post("/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": taken["refresh_token"],
                                           "client_id": CLIENT})
    assert ref.status_code == 400 and ref.get_json()["error"] == "invalid_grant"
    assert _poll(dc, second["device_code"]).get_json()["error"] == "invalid_grant"
    # another fan's app stays signed in
    ref = dc.post("/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": mine["refresh_token"],
                                           "client_id": CLIENT})
    assert ref.status_code == 200 and ref.get_json()["listener"]["wp_user_id"] == 8
