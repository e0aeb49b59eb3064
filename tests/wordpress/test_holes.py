"""The holes of issue 9 on the WordPress side, each tried the way an outsider or a band member would:

- hole 2: no premium or private URL in any meta WordPress shows (public REST, REST for editors,
  XML-RPC, the page), and what older versions stored is scrubbed;
- hole 8: the companion id (and every scripthammer_* meta) is written only by users with
  scripthammer_manage, over REST and XML-RPC, and never shows as a raw Custom Field;
- hole 6: a user who registers as "ivory" gets no band role; band roles go to the accounts the site
  owner mapped;
- the listener token rides in the player iframe's fragment for signed-in users only;
- "Test connection" is a signed ping that tells the owner when the shared secret does not match."""
from __future__ import annotations

import re
import time

import pytest
import requests

from companion.access.tokens import read_listener_token
from companion.band.signing import sign

from . import shop
from .conftest import ADMIN_PASS, ADMIN_USER, SECRET, publish_track


@pytest.fixture(scope="module")
def published(wordpress, companion, premium_recording) -> dict:
    result = publish_track(companion, premium_recording)
    return {"track_id": premium_recording, "post_id": result["wp_post_id"], "link": result["wp_link"]}


def _private_keys(companion, track_id: int) -> dict[str, list[str]]:
    """The object keys of a track that are not public (downloads, masters, HLS, manifest, original)."""
    from companion.catalog.models import Track

    with companion.svc.db.session() as s:
        t = s.get(Track, track_id)
        private = [r.key for r in t.renditions if r.kind != "preview"] + [k for k in (t.hls_key, t.manifest_key,
                                                                                       t.source_key) if k]
        public = [r.key for r in t.renditions if r.kind == "preview"] + [p["key"] for p in (t.peaks or [])]
        hashes = [r.sha256 for r in t.renditions if r.kind != "preview"]
    assert private and public
    return {"private": private, "public": public, "hashes": hashes}


def _app_password(wp, login: str) -> str:
    return wp.php(f"""$u = get_user_by( 'login', '{login}' );
return WP_Application_Passwords::create_new_application_password( $u->ID, array( 'name' => 'test ' . wp_generate_password( 6, false ) ) )[0];""")


def _no_private(text: str, keys: dict) -> None:
    for key in keys["private"]:
        assert key not in text, key
        assert key.rsplit("/", 1)[-1] not in text, key  # not even the file's name
    for sha in keys["hashes"]:
        assert sha not in text
    assert "hls_url" not in text and ".m3u8" not in text


def test_hole2_no_private_url_in_meta_anywhere(wordpress, companion, published):
    from wordpress_xmlrpc import Client
    from wordpress_xmlrpc.methods.posts import GetPost

    keys = _private_keys(companion, published["track_id"])
    post_id = published["post_id"]
    anon = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}"), timeout=30)
    assert anon.status_code == 200
    _no_private(anon.text, keys)
    meta = anon.json()["meta"]
    assert meta["scripthammer_release_state"] == "premium"
    previews = [r["url"] for r in meta["scripthammer_renditions"] if r["url"]]
    assert previews and all(any(k in u for k in keys["public"]) for u in previews)
    assert {r["kind"] for r in meta["scripthammer_renditions"] if r["url"]} == {"preview"}
    assert meta["scripthammer_embed_url"] == f"{companion.url}/embed/track/{published['track_id']}"
    # Editors' view (context=edit) holds nothing more: it was never stored.
    edit = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}?context=edit"), timeout=30,
                        auth=("companion", wordpress.app_password))
    assert edit.status_code == 200
    _no_private(edit.text, keys)
    # XML-RPC as the administrator (who may manage them, so they are listed): nothing private either.
    post = Client(f"{wordpress.url}/xmlrpc.php", ADMIN_USER, ADMIN_PASS).call(GetPost(post_id))
    assert [f for f in post.custom_fields if f["key"] == "scripthammer_renditions"]
    _no_private(repr(post.custom_fields), keys)
    # The page, anonymous and signed in.
    page = requests.get(published["link"], timeout=60).text
    _no_private(page, keys)
    assert f'{companion.url}/embed/track/{published["track_id"]}' in page


def test_hole2_what_older_versions_stored_is_scrubbed(wordpress, companion, published):
    keys = _private_keys(companion, published["track_id"])
    post_id = published["post_id"]
    leaked = f"{companion.url}/media/{keys['private'][0]}"
    wordpress.php(f"""update_post_meta( {post_id}, 'scripthammer_renditions', array(
  array( 'name' => 'flac', 'kind' => 'download', 'url' => '{leaked}', 'size' => 5 ),
  array( 'name' => 'preview', 'kind' => 'preview', 'url' => '{companion.url}/media/{keys['public'][0]}', 'size' => 5 ) ) );
update_post_meta( {post_id}, 'scripthammer_hls_url', '{companion.url}/media/{keys['private'][-1]}' );
update_option( 'scripthammer_meta_version', '1' ); return true;""")
    # Shown nowhere even before the upgrade ran (REST strips on the way out).
    anon = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}"), timeout=30)
    _no_private(anon.text, keys)
    assert [r["url"] for r in anon.json()["meta"]["scripthammer_renditions"]] == [
        None, f"{companion.url}/media/{keys['public'][0]}"]
    wordpress.admin_session().get(f"{wordpress.url}/wp-admin/", timeout=60)  # admin_init: the upgrade
    stored = wordpress.php(f"return array( get_post_meta( {post_id}, 'scripthammer_renditions', true ), metadata_exists( 'post', {post_id}, 'scripthammer_hls_url' ), get_option( 'scripthammer_meta_version' ) );")
    assert [r["url"] for r in stored[0]] == [None, f"{companion.url}/media/{keys['public'][0]}"]
    assert stored[1] is False and stored[2] == "2"


def test_hole8_companion_id_needs_scripthammer_manage(wordpress, companion, published):
    from wordpress_xmlrpc import Client
    from wordpress_xmlrpc.methods.posts import EditPost, GetPost, NewPost
    from wordpress_xmlrpc import WordPressPost

    editor = shop.user(wordpress, "copy-editor", "editor")
    author = shop.user(wordpress, "band-author", "scripthammer_member")
    own = wordpress.php(f"""$id = wp_insert_post( array( 'post_type' => 'sh_track', 'post_title' => 'Own track', 'post_status' => 'draft',
  'post_author' => {author} ) ); update_post_meta( $id, 'scripthammer_companion_id', 5 ); return $id;""")
    target = published["track_id"]
    for login, post_id in (("copy-editor", own), ("band-author", own)):
        password = _app_password(wordpress, login)
        r = requests.post(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}"), auth=(login, password), timeout=30,
                          json={"meta": {"scripthammer_companion_id": target}})
        assert r.status_code == 403 and r.json()["code"] == "rest_cannot_update", (login, r.text[:300])
        r = requests.post(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}"), auth=(login, password), timeout=30,
                          json={"meta": {"scripthammer_release_state": "public"}})
        assert r.status_code == 403, (login, r.text[:300])
        # XML-RPC: as a new custom field, and as an edit of the existing one (by its meta id).
        client = Client(f"{wordpress.url}/xmlrpc.php", login, password)
        mid = wordpress.php(f"global $wpdb; return (int) $wpdb->get_var( \"SELECT meta_id FROM $wpdb->postmeta WHERE post_id = {post_id} AND meta_key = 'scripthammer_companion_id'\" );")
        p = WordPressPost()
        p.post_type = "sh_track"
        p.custom_fields = [{"key": "scripthammer_companion_id", "value": str(target)},
                           {"id": str(mid), "key": "scripthammer_companion_id", "value": str(target)}]
        client.call(EditPost(post_id, p))
        fields = client.call(GetPost(post_id)).custom_fields
        assert not [f for f in fields if f["key"].startswith("scripthammer_")]
        # A new post with the meta: the post may be made, the meta is not set.
        fresh = WordPressPost()
        fresh.post_type, fresh.title, fresh.post_status = "sh_track", "Sneaky", "draft"
        fresh.custom_fields = [{"key": "scripthammer_companion_id", "value": str(target)}]
        new_id = int(client.call(NewPost(fresh)))
        assert wordpress.php(f"return metadata_exists( 'post', {new_id}, 'scripthammer_companion_id' );") is False
        r = requests.post(wordpress.rest_url("/wp/v2/sh-tracks"), auth=(login, password), timeout=30,
                          json={"title": "Sneaky REST", "status": "draft", "meta": {"scripthammer_companion_id": target}})
        assert r.status_code == 403
    assert wordpress.php(f"return get_post_meta( {own}, 'scripthammer_companion_id' );") == ["5"]
    # The track editor's Release box (nonce and all) writes the release state for managers only.
    save = f"""$_POST['scripthammer_release_nonce'] = wp_create_nonce( 'scripthammer_release_{own}' );
$_POST['scripthammer_release_state'] = 'public';
( new \\ScriptHammer\\TrackEditor() )->save( {own} );
return get_post_meta( {own}, 'scripthammer_release_state', true );"""
    assert wordpress.php(save, user=author) in ("", "draft")
    assert wordpress.php(save, user=editor) in ("", "draft")
    assert wordpress.php(save) == "public"  # the administrator
    # The Custom Fields box shows none of them as raw fields (nor offers their keys).
    s = requests.Session()
    s.post(f"{wordpress.url}/wp-login.php", data={"log": "copy-editor", "pwd": "copy-editor-pass-1", "testcookie": "1"},
           timeout=60)
    screen = s.get(f"{wordpress.url}/wp-admin/post.php?post={own}&action=edit", timeout=60)
    assert screen.status_code == 200 and 'id="postcustom"' in screen.text
    assert not re.search(r'value="scripthammer_', screen.text)
    # The leader's account (scripthammer_manage) may: that is how the companion publishes.
    r = requests.post(wordpress.rest_url(f"/wp/v2/sh-tracks/{own}"), auth=("companion", wordpress.app_password),
                      timeout=30, json={"meta": {"scripthammer_companion_id": 6}})
    assert r.status_code == 200 and r.json()["meta"]["scripthammer_companion_id"] == 6


def test_hole6_registering_as_a_member_id_gives_no_band_role(wordpress, companion):
    from companion.wordpress import callbacks

    wordpress.php("update_option( 'users_can_register', 1 ); update_option( 'default_role', 'subscriber' ); return true;")
    try:
        r = requests.post(f"{wordpress.url}/wp-login.php?action=register", timeout=60,
                          data={"user_login": "ivory", "user_email": "someone@example.test", "wp-submit": "Register"})
        assert r.status_code == 200
        ivory = wordpress.php("$u = get_user_by( 'login', 'ivory' ); return $u ? $u->ID : 0;")
        assert ivory > 0  # anyone could take the name
        sent = callbacks.sync_band(companion.svc)
        assert sent["status"] == 200
        assert wordpress.php(f"return array_values( get_userdata( {ivory} )->roles );") == ["subscriber"]
        leaders = wordpress.php("return get_users( array( 'role' => 'scripthammer_leader', 'fields' => 'user_login' ) );")
        assert "ivory" not in leaders
        # Only the site owner's mapping makes someone the leader, and only an administrator may set it.
        fan = requests.Session()
        fan.post(f"{wordpress.url}/wp-login.php", timeout=60,
                 data={"log": "mapper-fan", "pwd": "mapper-fan-pass-1", "testcookie": "1"})
        shop.user(wordpress, "mapper-fan", "subscriber")
        fan.post(f"{wordpress.url}/wp-login.php", timeout=60,
                 data={"log": "mapper-fan", "pwd": "mapper-fan-pass-1", "testcookie": "1"})
        denied = fan.post(f"{wordpress.url}/wp-admin/admin-post.php", timeout=60,
                          data={"action": "scripthammer_band_accounts", "scripthammer_band_map[ivory]": ivory})
        assert denied.status_code == 403
        admin = wordpress.admin_session()
        no_nonce = admin.post(f"{wordpress.url}/wp-admin/admin-post.php", timeout=60,
                              data={"action": "scripthammer_band_accounts", "scripthammer_band_map[ivory]": ivory})
        assert no_nonce.status_code == 403
        assert wordpress.php(f"return array_values( get_userdata( {ivory} )->roles );") == ["subscriber"]
        from .test_commerce import _map_band

        keys = shop.user(wordpress, "piano-robot", "subscriber")
        _map_band(wordpress, {"ivory": keys})
        assert wordpress.php(f"return array_values( get_userdata( {keys} )->roles );") == ["scripthammer_leader"]
        assert wordpress.php(f"return array_values( get_userdata( {ivory} )->roles );") == ["subscriber"]
    finally:
        wordpress.php("update_option( 'users_can_register', 0 ); update_option( 'scripthammer_band_map', array() ); return true;")


def test_listener_token_rides_in_the_iframe_fragment_for_signed_in_users(wordpress, companion, published):
    anon = requests.get(published["link"], timeout=60).text
    src = re.search(r'<iframe src="([^"]+)"', anon).group(1)
    assert src == f"{companion.url}/embed/track/{published['track_id']}"  # anonymous: no token at all
    assert "shmls." not in anon
    uid = shop.user(wordpress, "fragment-fan", "subscriber")
    s = requests.Session()
    s.post(f"{wordpress.url}/wp-login.php", data={"log": "fragment-fan", "pwd": "fragment-fan-pass-1",
                                                  "testcookie": "1"}, timeout=60)
    page = s.get(published["link"], timeout=60).text
    src = re.search(r'<iframe src="([^"]+)"', page).group(1)
    base, _, fragment = src.partition("#")
    assert base == f"{companion.url}/embed/track/{published['track_id']}"  # nothing in the query
    assert fragment.startswith("shl=shmls.")
    token = fragment[len("shl="):]
    assert page.count(token) == 1  # nowhere else on the page
    claims = read_listener_token(SECRET, token)
    assert claims["wp_user_id"] == uid and claims["display_name"] == "Fragment-Fan"
    assert 1700 < claims["exp"] - time.time() <= 1800
    # Another page view mints another token.
    again = re.search(r'<iframe src="[^"#]+#shl=([^"]+)"', s.get(published["link"], timeout=60).text).group(1)
    assert again != token


def test_test_connection_is_signed_and_names_a_wrong_secret(wordpress, companion):
    hello = f"{companion.url}/api/wordpress/hello"
    assert requests.get(hello, timeout=30).json()["code"] == "signature_missing"
    bad = requests.get(hello, headers=sign("not-the-secret", "GET", "/api/wordpress/hello"), timeout=30)
    assert bad.status_code == 401 and bad.json()["code"] == "signature_invalid"
    good = requests.get(hello, headers=sign(SECRET, "GET", "/api/wordpress/hello"), timeout=30)
    assert good.status_code == 200 and good.json()["signature"] == "valid"

    def run() -> str:
        s = wordpress.admin_session()
        page = s.get(f"{wordpress.url}/wp-admin/options-general.php?page=scripthammer", timeout=60).text
        nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', page.split('value="scripthammer_test_connection"', 1)[1]).group(1)
        return s.post(f"{wordpress.url}/wp-admin/admin-post.php", timeout=60, data={
            "action": "scripthammer_test_connection", "_wpnonce": nonce,
            "_wp_http_referer": "/wp-admin/options-general.php?page=scripthammer"}).text

    done = run()
    assert 'data-secret="matches"' in done, done.split('id="scripthammer-connection"', 1)[-1][:1500] and "notice-success" in done.split('id="scripthammer-connection"')[0][-200:]
    wordpress.php("""$s = get_option( 'scripthammer_settings' ); $s['shared_secret'] = 'a-wrong-secret'; update_option( 'scripthammer_settings', $s ); return true;""")
    try:
        done = run()
        block = done.split('id="scripthammer-connection"', 1)[1][:1500]
        assert 'notice-error" data-secret="mismatch"' in block and "does not match the companion" in block
    finally:
        wordpress.php(f"""$s = get_option( 'scripthammer_settings' ); $s['shared_secret'] = '{SECRET}'; update_option( 'scripthammer_settings', $s ); return true;""")
