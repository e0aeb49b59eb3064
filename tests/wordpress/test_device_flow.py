"""The device flow works end to end against a real WordPress (issue 14): an app asks the companion for
a code, a fan signed in to WordPress types it on the plugin's page (/?scripthammer_device=1) and
approves, the polling app gets a listener token for that fan, and the fan's entitlements apply to it.
"""
from __future__ import annotations

import html
import json
import re
import uuid

import pytest
import requests

from companion.access.device import GRANT_TYPE

CLIENT = "scripthammer-app"


def _fan(wordpress, login: str, name: str) -> tuple[int, str]:
    password = "pw-" + uuid.uuid4().hex[:12]
    uid = wordpress.php(f"""
$id = wp_insert_user( array( 'user_login' => {json.dumps(login)}, 'user_pass' => {json.dumps(password)},
  'user_email' => {json.dumps(login + '@fans.test')}, 'role' => 'subscriber', 'display_name' => {json.dumps(name)} ) );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
return $id;""")
    return int(uid), password


def _login(wordpress, login: str, password: str, redirect_to: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    s.get(f"{wordpress.url}/wp-login.php", timeout=30)
    r = s.post(f"{wordpress.url}/wp-login.php", data={"log": login, "pwd": password, "wp-submit": "Log In",
                                                      "redirect_to": redirect_to, "testcookie": "1"}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.url)
    return s, r


def _field(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, page[:3000]
    return html.unescape(m.group(1))


def _poll(companion, device_code):
    return requests.post(f"{companion.url}/api/auth/token", timeout=30,
                         data={"grant_type": GRANT_TYPE, "device_code": device_code, "client_id": CLIENT})


def _let_poll(companion):
    import datetime as dt

    import sqlalchemy as sa

    from companion.access.models import DeviceAuthorization
    with companion.svc.db.session() as s:  # as if the app waited its interval
        s.execute(sa.update(DeviceAuthorization).values(last_polled_at=dt.datetime(2000, 1, 1)))


@pytest.fixture(scope="module")
def premium_track(companion) -> int:
    from companion.catalog import service as catalog

    with companion.svc.db.session() as s:
        return catalog.create_track(s, title="Device Orbit", release_state="premium").id


def test_the_device_flow_works_end_to_end_against_a_real_wordpress(wordpress, companion, premium_track):
    tag = uuid.uuid4().hex[:6]
    fan_id, fan_pw = _fan(wordpress, f"devfan{tag}", "Dev Fan")
    other_id, other_pw = _fan(wordpress, f"mallory{tag}", "Mallory")

    # the app asks for a code; the page it names is this WordPress
    r = requests.post(f"{companion.url}/api/auth/device", data={"client_id": CLIENT}, timeout=30)
    assert r.status_code == 200, r.text
    grant = r.json()
    assert grant["verification_uri"] == f"{wordpress.url}/?scripthammer_device=1"
    assert _poll(companion, grant["device_code"]).json()["error"] == "authorization_pending"

    # not signed in: the page sends the fan to wp-login.php and back
    r = requests.get(grant["verification_uri_complete"], timeout=30, allow_redirects=False)
    assert r.status_code == 302 and "wp-login.php" in r.headers["Location"]
    assert "scripthammer_device" in requests.utils.unquote(r.headers["Location"])

    # the fan signs in and lands on the page with the code filled in
    fan, page = _login(wordpress, f"devfan{tag}", fan_pw, grant["verification_uri_complete"])
    assert "scripthammer-device-code" in page.text, page.text[:2000]
    assert _field(page.text, "user_code") == grant["user_code"]
    assert page.headers.get("X-Frame-Options", "").upper() == "SAMEORIGIN"

    # a wrong code: told so, nothing approved
    wrong = "BBBBBBBB" if grant["user_code"] != "BBBB-BBBB" else "CCCCCCCC"
    r = fan.post(grant["verification_uri"], timeout=30, data={
        "step": "check", "_wpnonce": _field(page.text, "_wpnonce"), "user_code": wrong})
    assert r.status_code == 404 and "No app is waiting for this code" in r.text

    # typed in lower case without the dash: the page names the app and the fan
    r = fan.post(grant["verification_uri"], timeout=30, data={
        "step": "check", "_wpnonce": _field(page.text, "_wpnonce"),
        "user_code": grant["user_code"].replace("-", "").lower()})
    assert r.status_code == 200, r.text[:2000]
    assert "ScriptHammer app asks to sign in as Dev Fan" in r.text
    decide_nonce = _field(r.text, "_wpnonce")

    # another signed-in user cannot use the fan's form (the nonce is the fan's)
    mallory, _ = _login(wordpress, f"mallory{tag}", other_pw, f"{wordpress.url}/wp-admin/")
    r = mallory.post(grant["verification_uri"], timeout=30, data={
        "step": "decide", "_wpnonce": decide_nonce, "user_code": grant["user_code"], "decision": "approve"})
    assert r.status_code == 403 and "scripthammer-device-done" not in r.text
    # nor can anyone sign in to the companion's confirmation route without WordPress's signature
    r = requests.post(f"{companion.url}/api/auth/device/decision", timeout=30, json={
        "user_code": grant["user_code"], "wp_user_id": other_id, "display_name": "Mallory", "approve": True})
    assert r.status_code == 401
    _let_poll(companion)
    assert _poll(companion, grant["device_code"]).json()["error"] == "authorization_pending"

    # the fan approves; a wp_user_id smuggled into the form is ignored (WordPress names the signed-in user)
    r = fan.post(grant["verification_uri"], timeout=30, data={
        "step": "decide", "_wpnonce": decide_nonce, "user_code": grant["user_code"], "decision": "approve",
        "wp_user_id": str(other_id)})
    assert r.status_code == 200 and 'data-status="approved"' in r.text, r.text[:2000]

    # the code is spent: Mallory typing it now finds nothing
    mpage = mallory.get(grant["verification_uri_complete"], timeout=30)
    r = mallory.post(grant["verification_uri"], timeout=30, data={
        "step": "check", "_wpnonce": _field(mpage.text, "_wpnonce"), "user_code": grant["user_code"]})
    assert r.status_code == 404

    # the polling app gets a listener token for the fan, once
    r = _poll(companion, grant["device_code"])
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["listener"] == {"wp_user_id": fan_id, "display_name": "Dev Fan"}
    assert _poll(companion, grant["device_code"]).json()["error"] == "invalid_grant"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    # the token works on the companion: not subscribed, the premium track is the preview ...
    track = requests.get(f"{companion.url}/api/tracks/{premium_track}", headers=bearer, timeout=30).json()
    assert track["access"]["stream"] == "preview" and track["access"]["why"] == "locked"
    # ... subscribed (the leader's grant, as WooCommerce would), in full
    g = requests.post(f"{companion.url}/api/entitlements", timeout=30, json={"wp_user_id": fan_id, "scope": "all"},
                      headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
    assert g.status_code == 201, g.text
    track = requests.get(f"{companion.url}/api/tracks/{premium_track}", headers=bearer, timeout=30).json()
    assert track["access"]["stream"] == "full"
    mine = requests.get(f"{companion.url}/api/me/entitlements", headers=bearer, timeout=30).json()
    assert [e["scope"] for e in mine] == ["all"] and mine[0]["listener"]["wp_user_id"] == fan_id
    assert wordpress.plugin_problems() == []


def test_a_denied_and_an_expired_code_give_the_app_nothing(wordpress, companion):
    tag = uuid.uuid4().hex[:6]
    _, fan_pw = _fan(wordpress, f"denyfan{tag}", "Deny Fan")
    grant = requests.post(f"{companion.url}/api/auth/device", data={"client_id": CLIENT}, timeout=30).json()
    fan, page = _login(wordpress, f"denyfan{tag}", fan_pw, grant["verification_uri_complete"])
    r = fan.post(grant["verification_uri"], timeout=30, data={
        "step": "check", "_wpnonce": _field(page.text, "_wpnonce"), "user_code": grant["user_code"]})
    r = fan.post(grant["verification_uri"], timeout=30, data={
        "step": "decide", "_wpnonce": _field(r.text, "_wpnonce"), "user_code": grant["user_code"], "decision": "deny"})
    assert r.status_code == 200 and 'data-status="denied"' in r.text
    assert _poll(companion, grant["device_code"]).json()["error"] == "access_denied"

    # an expired code: the page says nothing waits for it, the app is told it expired
    import datetime as dt

    import sqlalchemy as sa

    from companion.access.models import DeviceAuthorization
    late = requests.post(f"{companion.url}/api/auth/device", data={"client_id": CLIENT}, timeout=30).json()
    with companion.svc.db.session() as s:
        s.execute(sa.update(DeviceAuthorization).where(DeviceAuthorization.status == "pending").values(
            expires_at=dt.datetime(2000, 1, 1)))
    page = fan.get(late["verification_uri_complete"], timeout=30)
    r = fan.post(late["verification_uri"], timeout=30, data={
        "step": "check", "_wpnonce": _field(page.text, "_wpnonce"), "user_code": late["user_code"]})
    assert r.status_code == 404 and "No app is waiting for this code" in r.text
    assert _poll(companion, late["device_code"]).json()["error"] == "expired_token"
    assert wordpress.plugin_problems() == []


def test_a_fan_approves_in_chromium_through_wp_login(wordpress, companion, browser, artifacts):
    """The way a fan does it: the app's link opens wp-login, then the page with the code filled in."""
    tag = uuid.uuid4().hex[:6]
    fan_id, fan_pw = _fan(wordpress, f"chromefan{tag}", "Chrome Fan")
    grant = requests.post(f"{companion.url}/api/auth/device", data={"client_id": CLIENT}, timeout=30).json()
    context = browser.new_context(viewport={"width": 800, "height": 700})
    try:
        page = context.new_page()
        page.goto(grant["verification_uri_complete"])
        page.wait_for_url("**/wp-login.php**")
        page.fill("#user_login", f"chromefan{tag}")
        page.fill("#user_pass", fan_pw)
        page.click("#wp-submit")
        page.wait_for_selector("#scripthammer-device-code")
        assert page.input_value("#scripthammer-device-code") == grant["user_code"]
        page.click("#scripthammer-device-continue")
        ask = page.wait_for_selector("#scripthammer-device-ask").inner_text()
        assert "ScriptHammer app asks to sign in as Chrome Fan" in ask
        page.screenshot(path=str(artifacts / "device-approve.png"))
        page.click("#scripthammer-device-approve")
        done = page.wait_for_selector("#scripthammer-device-done")
        assert done.get_attribute("data-status") == "approved" and "is signed in" in done.inner_text()
    finally:
        context.close()
    token = _poll(companion, grant["device_code"]).json()
    assert token["listener"]["wp_user_id"] == fan_id
    me = requests.get(f"{companion.url}/api/me/entitlements", timeout=30,
                      headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.json() == []


def _signed_in_app(companion, wp_user_id: int, name: str) -> dict:
    """An app the fan approved (the approval as WordPress signs it; the page itself is tested above)."""
    from companion.band.signing import sign

    grant = requests.post(f"{companion.url}/api/auth/device", data={"client_id": CLIENT}, timeout=30).json()
    raw = json.dumps({"user_code": grant["user_code"], "wp_user_id": wp_user_id, "display_name": name,
                      "approve": True}).encode()
    headers = {**sign(companion.config.wp_shared_secret, "POST", "/api/auth/device/decision", raw),
               "Content-Type": "application/json"}
    assert requests.post(f"{companion.url}/api/auth/device/decision", data=raw, headers=headers,
                         timeout=30).status_code == 200
    return _poll(companion, grant["device_code"]).json()


def _refresh(companion, token: dict):
    return requests.post(f"{companion.url}/api/auth/token", timeout=30, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": CLIENT})


def test_a_deleted_fan_or_a_password_reset_signs_the_apps_out(wordpress, companion):
    tag = uuid.uuid4().hex[:6]
    gone_id, _ = _fan(wordpress, f"gone{tag}", "Gone Fan")
    reset_id, _ = _fan(wordpress, f"reset{tag}", "Reset Fan")
    stay_id, _ = _fan(wordpress, f"stay{tag}", "Stay Fan")
    gone, reset, stay = (_signed_in_app(companion, gone_id, "Gone Fan"),
                         _signed_in_app(companion, reset_id, "Reset Fan"),
                         _signed_in_app(companion, stay_id, "Stay Fan"))
    wordpress.php(f"wp_delete_user( {gone_id} ); return true;")
    wordpress.php(f"reset_password( get_user_by( 'id', {reset_id} ), 'new-pw-{tag}' ); return true;")
    for token in (gone, reset):
        r = _refresh(companion, token)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = _refresh(companion, stay)
    assert r.status_code == 200 and r.json()["listener"]["wp_user_id"] == stay_id
    assert "could not sign user" not in wordpress.debug_log()
    assert wordpress.plugin_problems() == []
