"""A fan exports and erases their data through WordPress's personal-data tools (issue 14, Privacy).

A real WordPress on MariaDB runs its own machinery: a user request made with wp_create_user_request,
every registered exporter and eraser called page by page as wp-admin's AJAX handlers call them, and
the result passed through WordPress's page filters (which write the export's zip file, and mark an
erasure request completed). The ScriptHammer exporter and eraser ask the real companion.
"""
from __future__ import annotations

import json
import uuid
import zipfile

import pytest

from tests.privacy.test_privacy_api import _holdings, seed_fan

RUN = """
require_once ABSPATH . 'wp-admin/includes/admin.php';
add_filter( 'pre_wp_mail', '__return_false' );
%(unreachable)s
$email = %(email)s;
$action = %(action)s;
$req = %(request)s;
if ( ! $req ) {
  $req = wp_create_user_request( $email, $action, array(), 'confirmed' );
  if ( is_wp_error( $req ) ) { throw new Exception( $req->get_error_message() ); }
}
$is_export = 'export_personal_data' === $action;
$list = $is_export ? apply_filters( 'wp_privacy_personal_data_exporters', array() )
                   : apply_filters( 'wp_privacy_personal_data_erasers', array() );
$ours = array(); $error = null; $index = 0;
foreach ( $list as $key => $one ) {
  $index++; $page = 1;
  do {
    $r = call_user_func( $one['callback'], $email, $page );
    if ( is_wp_error( $r ) ) { $error = $r->get_error_message(); break 2; }  // wp_send_json_error: the run stops
    $r = $is_export
      ? apply_filters( 'wp_privacy_personal_data_export_page', $r, $index, $email, $page, $req, false, $key )
      : apply_filters( 'wp_privacy_personal_data_erasure_page', $r, $index, $email, $page, $req );
    if ( 'scripthammer' === $key ) { $ours[] = $r; }
    $page++;
  } while ( empty( $r['done'] ) && $page < 100 );
}
$file = get_post_meta( $req, '_export_file_name', true );
if ( $is_export ) { _wp_privacy_completed_request( $req ); }  // as the admin does once downloaded: a later export may be asked
return array( 'request' => $req, 'status' => get_post_status( $req ), 'ours' => $ours, 'error' => $error,
  'file' => $file ? wp_privacy_exports_dir() . $file : '' );
"""


def run_request(wordpress, email: str, action: str, request: int = 0, unreachable: bool = False) -> dict:
    dead = ("add_filter( 'option_scripthammer_settings', function ( $v ) { "
            "return array_merge( (array) $v, array( 'companion_url' => 'http://127.0.0.1:9' ) ); } );")
    return wordpress.php(RUN % {"unreachable": dead if unreachable else "", "email": json.dumps(email),
                                "action": json.dumps(action), "request": int(request)}, timeout=180)


def _user(wordpress, login: str, name: str) -> int:
    return int(wordpress.php(f"""
$id = wp_insert_user( array( 'user_login' => {json.dumps(login)}, 'user_pass' => wp_generate_password( 20 ),
  'user_email' => {json.dumps(login + '@fans.test')}, 'role' => 'subscriber', 'display_name' => {json.dumps(name)} ) );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
return $id;"""))


@pytest.fixture
def two_fans(wordpress, companion):
    from companion.catalog.models import Track
    from companion.rights.models import EditionSeries

    tag = uuid.uuid4().hex[:6]
    svc = companion.svc
    with svc.db.session() as s:
        track = Track(slug=f"privacy-{tag}", title=f"Privacy {tag}", release_state="released")
        series = EditionSeries(work=f"song-{tag}@abc", title="Song", count=100)
        s.add_all([track, series])
        s.flush()
        track_id, series_id = track.id, series.id
    fans = {}
    for who, name in (("ada", "Ada Fan"), ("bob", "Bob Fan")):
        login = f"{who}{tag}"
        uid = _user(wordpress, login, name)
        fans[who] = {"email": f"{login}@fans.test", "wp_user_id": uid,
                     **seed_fan(svc, uid, f"{name} {tag}", track_id, series_id)}
    return fans


def _export_text(result) -> str:
    with zipfile.ZipFile(result["file"]) as z:
        names = z.namelist()
        return "\n".join(z.read(n).decode("utf-8", "replace") for n in names if n.endswith((".html", ".json")))


def test_a_fan_exports_and_erases_their_data_through_wordpress(wordpress, companion, two_fans):
    ada, bob = two_fans["ada"], two_fans["bob"]
    svc = companion.svc
    got = run_request(wordpress, ada["email"], "export_personal_data")
    assert got["error"] is None and got["ours"] and got["ours"][-1]["done"] is True
    text = _export_text(got)  # the zip WordPress made for the fan
    for needle in (ada["tag"] + " loves bar 3", "ScriptHammer reactions and comments", f"push.example.test/{ada['tag']}",
                   "scripthammer-app", "mp3-320", "ScriptHammer orders", "pseudonymous", "Ada Fan"):
        assert needle in text, needle
    assert bob["tag"] not in text and "Bob Fan" not in text

    before_bob = _holdings(svc, bob["wp_user_id"], bob["listener_id"])
    assert all(v >= 1 for v in before_bob.values())
    got = run_request(wordpress, ada["email"], "remove_personal_data")
    assert got["error"] is None
    ours = got["ours"][-1]
    assert ours["items_removed"] is True and ours["items_retained"] is True and ours["done"] is True
    assert any("ownership log" in m for m in ours["messages"])
    assert got["status"] == "request-completed"
    # the companion holds nothing of Ada's (database and API), and Bob is untouched
    assert _holdings(svc, ada["wp_user_id"], ada["listener_id"]) == dict.fromkeys(before_bob, 0)
    assert _holdings(svc, bob["wp_user_id"], bob["listener_id"]) == before_bob
    again = run_request(wordpress, ada["email"], "export_personal_data")
    text = _export_text(again)
    assert ada["tag"] not in text and "ScriptHammer reactions and comments" not in text
    assert "pseudonymous" in text  # the statistics note is always there
    assert bob["tag"] + " loves bar 3" in _export_text(run_request(wordpress, bob["email"], "export_personal_data"))


def test_the_companion_unreachable_keeps_the_erasure_open_and_stops_the_export(wordpress, companion, two_fans):
    ada = two_fans["ada"]
    svc = companion.svc
    got = run_request(wordpress, ada["email"], "export_personal_data", unreachable=True)
    assert got["error"] and "could not be made" in got["error"] and "cannot be reached" in got["error"]
    assert got["file"] == ""  # no silently partial export

    got = run_request(wordpress, ada["email"], "remove_personal_data", unreachable=True)
    ours = got["ours"][-1]
    assert ours["items_removed"] is False and ours["items_retained"] is True
    assert "NOT erased" in ours["messages"][0] and "cannot be reached" in ours["messages"][0]
    assert got["status"] == "request-confirmed"  # not marked completed
    assert _holdings(svc, ada["wp_user_id"], ada["listener_id"])["feedback"] == 1
    # run again once the companion answers: erased, and the request completes
    again = run_request(wordpress, ada["email"], "remove_personal_data", request=got["request"])
    assert again["ours"][-1]["items_removed"] is True and again["status"] == "request-completed"
    assert _holdings(svc, ada["wp_user_id"], ada["listener_id"])["feedback"] == 0


def test_an_address_without_a_user_has_nothing_on_the_companion(wordpress, two_fans):
    got = run_request(wordpress, f"nobody{uuid.uuid4().hex[:6]}@fans.test", "remove_personal_data")
    assert got["ours"][-1] == {"items_removed": False, "items_retained": False, "messages": [], "done": True}


def test_the_privacy_policy_guide_has_the_companions_text(wordpress):
    page = wordpress.admin_session().get(f"{wordpress.url}/wp-admin/privacy-policy-guide.php", timeout=60)
    assert page.status_code == 200
    text = page.text
    assert "ScriptHammer music companion" in text
    assert "pseudonymous" in text and "Do-Not-Track" in text and "Erase Personal Data" in text
