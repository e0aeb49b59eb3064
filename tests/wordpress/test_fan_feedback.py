"""wp-admin's "Fan feedback" page in a real WordPress: fans leave timed feedback through the companion,
an administrator sees it pending (track, time, text, state; the text as text, not markup), approves one
and marks another spam through the signed client; the companion's public list then holds only the
approved one. Without the item's nonce, or as a subscriber, nothing changes."""
from __future__ import annotations

import uuid

import requests

from companion.access.tokens import make_listener_token
from .conftest import ADMIN_PASS, ADMIN_USER, SECRET
from tests.wordpress.test_listening_dashboard import _login
from tests.wordpress.test_studio_link import _user

PAGE = "admin.php?page=scripthammer-fan-feedback"


def _track(companion) -> int:
    from companion.catalog.models import Track

    with companion.app.extensions["scripthammer"].db.session() as s:
        t = Track(title="Feedback Groove", slug=f"groove-{uuid.uuid4().hex[:6]}", release_state="public",
                  duration=60.0)
        s.add(t)
        s.flush()
        return t.id


def _leave(companion, track_id, wp_user_id, name, body) -> dict:
    tok = make_listener_token(SECRET, wp_user_id, display_name=name)
    r = requests.post(f"{companion.url}/api/tracks/{track_id}/feedback", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 201, r.text
    return r.json()


def _state(companion, fid) -> str:
    from companion.analytics.models import TrackFeedback

    with companion.app.extensions["scripthammer"].db.session() as s:
        return s.get(TrackFeedback, fid).state


def test_an_admin_approves_and_marks_spam_a_subscriber_cannot(wordpress, companion, browser, artifacts):
    tid = _track(companion)
    good = _leave(companion, tid, 501, "Jo's Fan Club",
                  {"position": 75 / 2, "emoji": "clap", "text": "that's the bridge & more"})
    junk = _leave(companion, tid, 502, "Bot", {"position": 3, "text": "buy cheap watches"})
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    url = f"{wordpress.url}/wp-admin/{PAGE}"
    _login(page, wordpress, ADMIN_USER, ADMIN_PASS, url)
    if not page.url.startswith(url):
        page.goto(url, timeout=120_000)
    row = page.locator(f"#scripthammer-feedback tr[data-id='{good['id']}']")
    assert row.locator(".col-track").text_content() == "Feedback Groove"
    assert row.locator(".col-time").text_content() == "0:37"
    assert row.locator(".col-text").text_content() == "that's the bridge & more"
    assert row.locator(".col-fan").text_content() == "Jo's Fan Club"
    # the glyph (WordPress's emoji script may swap it for an <img alt>)
    assert row.locator(".col-reaction").get_attribute("data-reaction") == "clap"
    assert row.locator(".col-reaction").evaluate(
        "td => td.textContent.trim() || (td.querySelector('img') || {}).alt") == "\U0001F44F"
    assert row.locator(".col-state").text_content() == "pending"
    assert SECRET not in page.content()
    # a forged action (no valid nonce for this item) changes nothing, even for the administrator
    nonce = row.locator("input[name=_wpnonce]").get_attribute("value")
    forged = page.request.post(f"{wordpress.url}/wp-admin/admin-post.php", max_redirects=0, form={
        "action": "scripthammer_feedback_moderate", "id": str(junk["id"]), "state": "approved", "_wpnonce": nonce})
    assert forged.status == 403
    assert _state(companion, junk["id"]) == "pending"
    # approve the good one, spam the junk
    row.locator("button[value=approved]").click()
    page.wait_for_selector("#scripthammer-feedback-done")
    assert _state(companion, good["id"]) == "approved"
    assert page.locator(f"#scripthammer-feedback tr[data-id='{good['id']}']").count() == 0  # off the pending list
    page.locator(f"#scripthammer-feedback tr[data-id='{junk['id']}'] button[value=spam]").click()
    page.wait_for_selector("#scripthammer-feedback-done")
    assert _state(companion, junk["id"]) == "spam"
    page.click("#scripthammer-feedback-filter-all")
    page.wait_for_selector(f"#scripthammer-feedback tr[data-id='{junk['id']}'][data-state='spam']")
    page.screenshot(path=str(artifacts / "fan-feedback.png"), full_page=True)
    public = requests.get(f"{companion.url}/api/tracks/{tid}/feedback", timeout=30).json()["feedback"]
    assert [(f["id"], f["text"]) for f in public] == [(good["id"], "that's the bridge & more")]

    # a subscriber: no page, and the admin's form (with a real nonce of the admin's) does nothing
    spam_row = page.locator(f"#scripthammer-feedback tr[data-id='{junk['id']}']")
    admin_nonce = spam_row.locator("input[name=_wpnonce]").get_attribute("value")
    password = "pw-" + uuid.uuid4().hex
    login = f"sub_{uuid.uuid4().hex[:6]}"
    _user(wordpress, login, password, "subscriber")
    other = browser.new_context()
    p2 = other.new_page()
    _login(p2, wordpress, login, password, f"{wordpress.url}/wp-admin/profile.php")
    resp = p2.goto(f"{wordpress.url}/wp-admin/{PAGE}")
    assert resp.status == 403 and p2.locator("#scripthammer-feedback").count() == 0
    r = p2.request.post(f"{wordpress.url}/wp-admin/admin-post.php", max_redirects=0, form={
        "action": "scripthammer_feedback_moderate", "id": str(junk["id"]), "state": "approved",
        "_wpnonce": admin_nonce})
    assert r.status == 403
    assert _state(companion, junk["id"]) == "spam"
    other.close()
    context.close()
    assert errors == []
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()
