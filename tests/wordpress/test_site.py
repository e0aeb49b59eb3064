"""The plugin on a real WordPress: post types and meta over XML-RPC and REST, the signed namespace,
the settings page, and the "absent" path (no WooCommerce, no BuddyPress)."""
from __future__ import annotations

import json
import time

import requests

from companion.band.signing import sign

from .conftest import ADMIN_PASS, ADMIN_USER, SECRET

TYPES = {"sh_album": "sh-albums", "sh_track": "sh-tracks", "sh_performance": "sh-performances",
         "sh_composition": "sh-compositions"}


def test_runs_on_the_core_it_names(wordpress, wp_core):
    """Each session part really runs its core: Debian's 6.1.x, or 6.5.x from the npm package."""
    assert wordpress.version.split(".")[:2] == wp_core.branch.split("."), wordpress.version
    assert wordpress.php("global $wp_version; return $wp_version;") == wordpress.version
    generator = requests.get(f"{wordpress.url}/?feed=rss2", timeout=30).text
    assert f"?v={wordpress.version}</generator>" in generator
    assert wordpress.php("return is_plugin_active( 'scripthammer/scripthammer.php' );") is True
    # The static files came with the core (the npm build keeps them apart from its PHP zip).
    css = requests.get(f"{wordpress.url}/wp-admin/css/common.min.css", timeout=30)
    assert css.status_code == 200 and len(css.content) > 10000


def test_post_types_over_xmlrpc(wordpress):
    from wordpress_xmlrpc import Client
    from wordpress_xmlrpc.methods.posts import GetPostTypes

    client = Client(f"{wordpress.url}/xmlrpc.php", ADMIN_USER, ADMIN_PASS)
    types = client.call(GetPostTypes())
    for name in TYPES:
        assert name in types, sorted(types)
    assert types["sh_track"].labels["singular_name"] == "Track"


def test_post_types_and_meta_over_rest(wordpress):
    auth = ("companion", wordpress.app_password)
    listed = requests.get(wordpress.rest_url("/wp/v2/types"), auth=auth, timeout=30).json()
    for name, base in TYPES.items():
        assert listed[name]["rest_base"] == base
    schema = requests.options(wordpress.rest_url("/wp/v2/sh-tracks"), auth=auth, timeout=30).json()
    meta = schema["schema"]["properties"]["meta"]["properties"]
    for key in ("companion_id", "duration", "renditions", "peaks_url", "embed_url", "release_state", "album",
                "track_number"):
        assert f"scripthammer_{key}" in meta, sorted(meta)
    assert "scripthammer_hls_url" not in meta  # premium HLS is never in WordPress
    assert meta["scripthammer_release_state"]["enum"] == ["draft", "unreleased", "public", "premium"]
    assert meta["scripthammer_renditions"]["type"] == "array"
    # A post written over REST keeps its meta, and ?companion_id= finds it.
    created = requests.post(wordpress.rest_url("/wp/v2/sh-tracks"), auth=auth, timeout=30, json={
        "title": "Meta check", "status": "draft", "meta": {
            "scripthammer_companion_id": 9901, "scripthammer_duration": 12.5, "scripthammer_release_state": "premium",
            "scripthammer_renditions": [{"name": "mp3-320", "kind": "download", "format": "mp3", "codec": "mp3",
                                         "mime": "audio/mpeg", "bitrate": 320000, "size": 1234, "duration": 12.5,
                                         "url": None}]}})
    assert created.status_code == 201, created.text
    found = requests.get(wordpress.rest_url("/wp/v2/sh-tracks?companion_id=9901&status=draft&context=edit"),
                         auth=auth, timeout=30).json()
    assert [p["id"] for p in found] == [created.json()["id"]]
    assert found[0]["meta"]["scripthammer_renditions"][0]["bitrate"] == 320000
    assert found[0]["meta"]["scripthammer_release_state"] == "premium"
    bad = requests.post(wordpress.rest_url(f"/wp/v2/sh-tracks/{created.json()['id']}"), auth=auth, timeout=30,
                        json={"meta": {"scripthammer_release_state": "free-for-all"}})
    assert bad.status_code == 400
    requests.delete(wordpress.rest_url(f"/wp/v2/sh-tracks/{created.json()['id']}?force=true"), auth=auth, timeout=30)


def _signed(wordpress, method: str, route: str, payload=None, secret: str = SECRET, **kw):
    body = b"" if payload is None else json.dumps(payload).encode()
    path = f"/?rest_route=/scripthammer/v1{route}"
    headers = sign(secret, method, path, body, **kw)
    if body:
        headers["Content-Type"] = "application/json"
    return requests.request(method, wordpress.url + path, data=body or None, headers=headers, timeout=30), headers


def test_signed_callbacks_accepted_forged_and_replayed_refused(wordpress):
    ok, headers = _signed(wordpress, "GET", "/ping")
    assert ok.status_code == 200, ok.text
    assert ok.json()["ok"] is True
    # The same signed request again: a replay.
    again = requests.get(wordpress.url + "/?rest_route=/scripthammer/v1/ping", headers=headers, timeout=30)
    assert again.status_code == 401 and again.json()["code"] == "signature_replayed"
    # Missing, forged (other secret), stale, tampered path.
    missing = requests.get(wordpress.url + "/?rest_route=/scripthammer/v1/ping", timeout=30)
    assert missing.status_code == 401 and missing.json()["code"] == "signature_missing"
    forged, _ = _signed(wordpress, "GET", "/ping", secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["code"] == "signature_invalid"
    stale, _ = _signed(wordpress, "GET", "/ping", timestamp=int(time.time()) - 301)
    assert stale.status_code == 401 and stale.json()["code"] == "signature_expired"


def test_forged_sync_changes_nothing(wordpress):
    post_id = wordpress.php("""
$id = wp_insert_post( array( 'post_type' => 'sh_track', 'post_title' => 'Forgery target', 'post_status' => 'draft' ) );
update_post_meta( $id, 'scripthammer_companion_id', 9902 );
return $id;""")
    payload = {"status": "ready", "duration": 99.0, "hls_url": "http://evil.example/x.m3u8", "renditions": []}
    forged, _ = _signed(wordpress, "POST", "/tracks/9902/sync", payload, secret="wrong")
    assert forged.status_code == 401
    # Signed for another body: the body hash does not match.
    path = "/?rest_route=/scripthammer/v1/tracks/9902/sync"
    headers = sign(SECRET, "POST", path, b'{"status": "empty"}')
    swapped = requests.post(wordpress.url + path, data=json.dumps(payload), timeout=30,
                            headers={**headers, "Content-Type": "application/json"})
    assert swapped.status_code == 401 and swapped.json()["code"] == "signature_invalid"
    meta = wordpress.php(f"return get_post_meta( {post_id} );")
    assert "scripthammer_hls_url" not in meta and "scripthammer_duration" not in meta
    ok, headers = _signed(wordpress, "POST", "/tracks/9902/sync", payload)
    assert ok.status_code == 200 and ok.json()["post_id"] == post_id
    assert float(wordpress.php(f"return get_post_meta( {post_id}, 'scripthammer_duration', true );")) == 99.0
    replay = requests.post(wordpress.url + path, data=json.dumps(payload), timeout=30,
                           headers={**headers, "Content-Type": "application/json"})
    assert replay.status_code == 401 and replay.json()["code"] == "signature_replayed"


def test_settings_page_test_connection(wordpress, companion):
    s = wordpress.admin_session()
    page = s.get(f"{wordpress.url}/wp-admin/options-general.php?page=scripthammer", timeout=60)
    assert page.status_code == 200 and "Test connection" in page.text
    assert SECRET not in page.text  # the secret is never echoed back
    import re

    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', page.text.split("admin-post.php", 1)[1]).group(1)
    # Without the nonce: refused, nothing happens.
    refused = s.post(f"{wordpress.url}/wp-admin/admin-post.php", data={"action": "scripthammer_test_connection"},
                     timeout=60)
    assert refused.status_code in (403, 200) and "scripthammer-connection" not in refused.text
    done = s.post(f"{wordpress.url}/wp-admin/admin-post.php", timeout=60, data={
        "action": "scripthammer_test_connection", "_wpnonce": nonce,
        "_wp_http_referer": "/wp-admin/options-general.php?page=scripthammer"})
    assert done.status_code == 200
    assert 'id="scripthammer-connection"' in done.text
    assert "database: ok" in done.text and "redis: ok" in done.text
    assert "Jobs waiting in the queue:" in done.text
    # A listener may not even see the page.
    wordpress.php("""if ( ! get_user_by( 'login', 'fan' ) ) { wp_insert_user( array( 'user_login' => 'fan',
  'user_pass' => 'fan-password-1', 'user_email' => 'fan@scripthammer.test', 'role' => 'scripthammer_listener' ) ); }
return true;""")
    fan = wordpress.admin_session("fan", "fan-password-1") if False else requests.Session()
    fan.post(f"{wordpress.url}/wp-login.php", data={"log": "fan", "pwd": "fan-password-1", "testcookie": "1"},
             timeout=60)
    denied = fan.get(f"{wordpress.url}/wp-admin/options-general.php?page=scripthammer", timeout=60)
    assert denied.status_code == 403
    forged = fan.post(f"{wordpress.url}/wp-admin/admin-post.php", timeout=60, data={
        "action": "scripthammer_test_connection", "_wpnonce": nonce})
    assert forged.status_code == 403


def test_roles_match_the_band_file(wordpress):
    caps = wordpress.php("""$out = array();
foreach ( array( 'scripthammer_leader', 'scripthammer_member', 'scripthammer_guest', 'scripthammer_listener' ) as $r ) {
  $role = get_role( $r ); $out[ $r ] = $role ? array_keys( array_filter( $role->capabilities ) ) : null; }
return $out;""")
    assert "scripthammer_publish" in caps["scripthammer_leader"]
    assert "scripthammer_upload" in caps["scripthammer_member"] and "scripthammer_publish" not in caps["scripthammer_member"]
    assert caps["scripthammer_guest"] == ["read", "scripthammer_collaborate"]
    assert caps["scripthammer_listener"] == ["read"]


def test_absent_woocommerce_and_buddypress(wordpress):
    """Without WooCommerce and BuddyPress: a notice in wp-admin, the tip jar says tipping is unavailable."""
    active = wordpress.active_plugins()
    assert active == ["scripthammer/scripthammer.php"], active
    s = wordpress.admin_session()
    dash = s.get(f"{wordpress.url}/wp-admin/", timeout=60)
    assert "scripthammer-notice-woocommerce" in dash.text
    page = wordpress.php("""return wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish',
  'post_title' => 'Tips', 'post_content' => '<!-- wp:scripthammer/tip-jar /-->' . "\\n" . '[scripthammer_tipjar]' ) );""")
    html = requests.get(f"{wordpress.url}/?page_id={page}", timeout=60).text
    assert html.count("Tipping is unavailable right now.") == 2
    assert "scripthammer-tipjar--unavailable" in html
    assert wordpress.php("return \\ScriptHammer\\Commerce::ensure_products();") == {"tip": 0, "subscription": 0}
    assert wordpress.php("return \\ScriptHammer\\BuddyPress::ensure_band_group();") == 0
    assert wordpress.plugin_problems() == []
