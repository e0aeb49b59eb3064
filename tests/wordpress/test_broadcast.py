"""A scheduled broadcast in a real WordPress: an editor schedules it from the performance post's
"Scheduled broadcast" box in wp-admin (the same HTTP the edit form posts: post.php, the post's nonce and
the box's own), the companion schedules it (signed request), the post's page counts down
(/embed/broadcast/<id>); at the start RQ's scheduler starts the session (real workers: the live queue's
hosts it on jackd, scsynth, ffmpeg and Janus), the companion writes the session into the post's
``scripthammer_live_session`` meta through WordPress' REST API, and the page embeds the live player.
Also: rescheduling and cancelling from the box, and who may not (a contributor, a forged nonce, a past
time)."""
from __future__ import annotations

import datetime as dt
import json
import re
import time
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import stop_group
from tests.faults.procs import start_worker

pytestmark = pytest.mark.slow

ZONE = "Europe/Berlin"


def _user(wordpress, login, role) -> int:
    return wordpress.php(f"""
$u = get_user_by( 'login', {json.dumps(login)} );
if ( $u ) {{ return $u->ID; }}
$id = wp_insert_user( array( 'user_login' => {json.dumps(login)}, 'user_pass' => {json.dumps(login + '-pass-1')},
  'user_email' => {json.dumps(login + '@scripthammer.test')}, 'role' => {json.dumps(role)} ) );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
return $id;""")


def _session(wordpress, login) -> requests.Session:
    s = requests.Session()
    s.get(f"{wordpress.url}/wp-login.php", timeout=30)
    r = s.post(f"{wordpress.url}/wp-login.php", timeout=60, data={
        "log": login, "pwd": login + "-pass-1", "wp-submit": "Log In", "redirect_to": f"{wordpress.url}/wp-admin/",
        "testcookie": "1"})
    assert "wp-admin" in r.url, r.url
    return s


def _performance(wordpress, author: int, title: str, status: str = "publish") -> int:
    return wordpress.php(f"""
$id = wp_insert_post( array( 'post_type' => 'sh_performance', 'post_status' => {json.dumps(status)},
  'post_title' => {json.dumps(title)}, 'post_author' => {author},
  'post_content' => '<!-- wp:scripthammer/live /-->' ), true );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
return $id;""")


def _local(when_utc: dt.datetime) -> str:
    """``when_utc`` as an editor types it in the site's timezone (datetime-local, with seconds)."""
    return when_utc.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:%S")


def _save_box(s: requests.Session, wordpress, post_id: int, *, start: str = "", cancel: bool = False,
              box_nonce: str | None = None) -> requests.Response:
    """What the edit screen's form posts for the box: post.php action=editpost with the post's nonce and the box's."""
    screen = s.get(f"{wordpress.url}/wp-admin/post.php?post={post_id}&action=edit", timeout=60)
    assert screen.status_code == 200
    assert "Scheduled broadcast" in screen.text and 'id="scripthammer-broadcast-box"' in screen.text
    post_nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', screen.text).group(1)
    own = re.search(r'name="scripthammer_broadcast_nonce" value="([0-9a-f]+)"', screen.text).group(1)
    data = {"action": "editpost", "originalaction": "editpost", "post_ID": str(post_id), "post_type": "sh_performance",
            "_wpnonce": post_nonce, "scripthammer_broadcast_nonce": box_nonce or own,
            "scripthammer_broadcast_start": start}
    if cancel:
        data["scripthammer_broadcast_cancel"] = "1"
    r = s.post(f"{wordpress.url}/wp-admin/post.php", data=data, timeout=120)
    assert r.status_code == 200, r.text[-2000:]
    return r


def _meta(wordpress, post_id: int, key: str) -> int:
    """An integer meta of the post (0 when unset: the registered default)."""
    return int(wordpress.php(f"return get_post_meta( {post_id}, {json.dumps(key)}, true );") or 0)


def _iframe(wordpress, post_id: int) -> str:
    link = wordpress.php(f"return get_permalink( {post_id} );")
    page = requests.get(link, timeout=60)
    assert page.status_code == 200
    m = re.search(r'<figure class="scripthammer-player scripthammer-live[^"]*" data-kind="(\w+)"[^>]*><iframe src="([^"]+)"',
                  page.text)
    assert m, page.text[-3000:]
    return m.group(2)


def _broadcasts(companion, post_id: int) -> list[dict]:
    r = requests.get(f"{companion.url}/api/live/broadcasts?wp_post_id={post_id}", timeout=30,
                     headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
    assert r.status_code == 200
    return r.json()


def _wait(fn, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}")


@pytest.fixture
def berlin(wordpress):
    before = wordpress.php("return array( get_option( 'timezone_string' ), get_option( 'gmt_offset' ) );")
    wordpress.php(f"update_option( 'timezone_string', {json.dumps(ZONE)} ); return true;")
    yield
    wordpress.php(f"update_option( 'timezone_string', {json.dumps(before[0])} ); "
                  f"update_option( 'gmt_offset', {json.dumps(before[1])} ); return true;")


def test_an_editor_schedules_a_broadcast_the_page_counts_down_then_plays_it_live(wordpress, companion, berlin,
                                                                                tmp_path):
    editor = _user(wordpress, "bc-editor", "editor")
    post = _performance(wordpress, editor, "Robots at dawn")
    cfg = companion.config
    workers = [start_worker(cfg, "publish,commerce,default", tmp_path / "default.log"),
               start_worker(cfg, "live", tmp_path / "live.log")]
    sid = None
    try:
        s = _session(wordpress, "bc-editor")
        starts = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=40)).replace(microsecond=0, tzinfo=None)
        _save_box(s, wordpress, post, start=_local(starts))
        bid = _meta(wordpress, post, "scripthammer_broadcast")
        (b,) = _broadcasts(companion, post)
        assert b["id"] == bid and b["state"] == "scheduled" and b["created_by"] == "wordpress"
        assert b["title"] == "Robots at dawn" and b["starts_at"] == starts.isoformat() + "Z"  # site time -> UTC
        # the box shows it, in the site's time
        screen = s.get(f"{wordpress.url}/wp-admin/post.php?post={post}&action=edit", timeout=60).text
        assert 'data-state="scheduled"' in screen
        assert f'value="{_local(starts)[:16]}"' in screen
        # the public page counts down
        src = _iframe(wordpress, post)
        assert src == f"{companion.url}/embed/broadcast/{bid}"
        # the broadcast is public on the REST API too (its id is no secret: the countdown page is public)
        r = requests.get(wordpress.rest_url(f"/wp/v2/sh-performances/{post}"), timeout=30)
        assert r.json()["meta"]["scripthammer_broadcast"] == bid and r.json()["meta"]["scripthammer_live_session"] == 0

        # at the start: live in the companion, the session written into the post, the page plays it
        live = _wait(lambda: (x := _broadcasts(companion, post)[0])["state"] == "live" and x, 150,
                     "the broadcast going live:\n" + (tmp_path / "live.log").read_text()[-2000:]
                     if (tmp_path / "live.log").exists() else "")
        sid = live["session_id"]
        _wait(lambda: _meta(wordpress, post, "scripthammer_live_session") == sid, 60,
              "the session in the post's meta: " + json.dumps(_broadcasts(companion, post)[0]))
        assert _broadcasts(companion, post)[0]["wp_linked"] is True
        assert _iframe(wordpress, post) == f"{companion.url}/embed/live/{sid}"
        st = requests.get(f"{companion.url}/api/live/sessions/{sid}", timeout=30).json()
        assert st["status"] == "live" and st["params"]["tempo"] == 120
        # on air, the box no longer reschedules
        r = _save_box(s, wordpress, post, start=_local(starts + dt.timedelta(days=1)))
        assert _broadcasts(companion, post)[0]["starts_at"] == starts.isoformat() + "Z"
        assert "The broadcast is on air: it can no longer be rescheduled." in r.text
    finally:
        if sid is not None:
            requests.post(f"{companion.url}/api/live/sessions/{sid}/stop", timeout=120,
                          headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
        for w in workers:
            stop_group(w)
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()


def test_reschedule_cancel_and_who_may_not(wordpress, companion, berlin):
    editor = _user(wordpress, "bc-editor", "editor")
    contributor = _user(wordpress, "bc-contrib", "contributor")
    post = _performance(wordpress, editor, "Later tonight")
    s = _session(wordpress, "bc-editor")
    # a past time: refused by the companion, the editor told why, nothing kept
    past = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=2)
    r = _save_box(s, wordpress, post, start=_local(past))
    assert _meta(wordpress, post, "scripthammer_broadcast") == 0 and _broadcasts(companion, post) == []
    notice = re.search(r'<div class="notice notice-(\w+) is-dismissible scripthammer-broadcast-notice"><p>([^<]*)</p>', r.text)
    assert notice and notice.group(1) == "error" and "in the past" in notice.group(2), notice
    # nonsense: refused in WordPress
    r = _save_box(s, wordpress, post, start="tomorrow evening")
    assert _broadcasts(companion, post) == [] and "is not a date and time" in r.text
    # a forged box nonce: nothing
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).replace(microsecond=0, tzinfo=None)
    _save_box(s, wordpress, post, start=_local(later), box_nonce="0123456789")
    assert _broadcasts(companion, post) == []
    # the editor schedules, reschedules, cancels
    _save_box(s, wordpress, post, start=_local(later))
    (b,) = _broadcasts(companion, post)
    assert b["starts_at"] == later.isoformat() + "Z" and b["state"] == "scheduled"
    assert _iframe(wordpress, post) == f"{companion.url}/embed/broadcast/{b['id']}"
    _save_box(s, wordpress, post, start=_local(later + dt.timedelta(hours=3)))
    (b2,) = _broadcasts(companion, post)
    assert b2["id"] == b["id"] and b2["starts_at"] == (later + dt.timedelta(hours=3)).isoformat() + "Z"
    # a contributor may edit their own draft but not schedule a (public) broadcast of it
    own = _performance(wordpress, contributor, "My idea", status="draft")
    c = _session(wordpress, "bc-contrib")
    screen = c.get(f"{wordpress.url}/wp-admin/post.php?post={own}&action=edit", timeout=60).text
    assert "You may not schedule broadcasts of this post." in screen
    _save_box(c, wordpress, own, start=_local(later))
    assert _broadcasts(companion, own) == [] and _meta(wordpress, own, "scripthammer_broadcast") == 0
    # ... nor touch the editor's post
    refused = c.post(f"{wordpress.url}/wp-admin/post.php", timeout=60, data={
        "action": "editpost", "post_ID": str(post), "post_type": "sh_performance",
        "scripthammer_broadcast_cancel": "1"})
    assert refused.status_code == 403 and _broadcasts(companion, post)[0]["state"] == "scheduled"
    # nor write the meta by REST (only scripthammer_manage may, as the companion's publishing user does)
    for key in ("scripthammer_live_session", "scripthammer_broadcast"):
        assert wordpress.php(f"return current_user_can( 'edit_post_meta', {own}, '{key}' );", user=contributor) is False
        assert wordpress.php(f"return current_user_can( 'edit_post_meta', {post}, '{key}' );", user=editor) is False
        assert wordpress.php(f"return current_user_can( 'edit_post_meta', {post}, '{key}' );") is True
    # cancel: the page's countdown says so (the companion's page)
    _save_box(s, wordpress, post, cancel=True)
    assert _broadcasts(companion, post)[0]["state"] == "cancelled"
    page = requests.get(f"{companion.url}/api/live/broadcasts/{b['id']}", timeout=30).json()
    assert page["state"] == "cancelled" and page["session_id"] is None
    # and a new time schedules a new broadcast for the post
    _save_box(s, wordpress, post, start=_local(later))
    newer = [x for x in _broadcasts(companion, post) if x["state"] == "scheduled"]
    assert len(newer) == 1 and newer[0]["id"] != b["id"]
    assert _meta(wordpress, post, "scripthammer_broadcast") == newer[0]["id"]
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()
