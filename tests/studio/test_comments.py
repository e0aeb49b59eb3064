"""Comments anchored to a version, part and measure range: threaded, resolvable; fans' feedback marked."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_comment_reply_resolve_and_fan_feedback(pages, live):
    cid = live.make_song(visibility="public", stem="talk")
    page = pages.open(cid, live.tokens["crash"])
    page.evaluate("studio.showPart('bass'); studio.select(2)")
    page.keyboard.press("c")
    page.fill("#comments textarea", "Should the bass walk here?")
    page.click("#comments form button[type=submit]")
    page.wait_for_selector("#comments article.comment")
    anchor = page.text_content("#comments article .anchor")
    assert anchor.startswith("bass m2 @") and page.evaluate("studio.model.version.id").startswith(anchor.split("@")[1])
    # a fan leaves feedback from listener mode: marked as a fan's
    fan = pages.open(cid, live.tokens["listener"])
    fan.wait_for_selector("#comments article.comment")
    fan.click("#comments article button:text('Reply')")
    fan.fill("#comments textarea", "Love that bar!")
    fan.click("#comments form button[type=submit]")
    fan.wait_for_selector("#comments article.comment.fan")
    assert fan.is_hidden("#comments article.fan button:text('Resolve')")
    # the member sees the thread and resolves it
    page.reload()
    page.wait_for_selector("#comments article.comment.fan")
    assert page.evaluate("document.querySelector('#comments article.fan').style.marginLeft") == "1em"
    page.click("#comments article:not(.fan) button:text('Resolve')")
    page.wait_for_selector("#comments article.comment.resolved")
    r = live.app.test_client().get(f"/api/studio/{cid}/comments", headers=live.auth("ivory")).get_json()
    assert [(c["author"], c["fan"], c["resolved"], c["parent_id"] is not None) for c in r] == [
        ("crash", False, True, False), (r[1]["author"], True, False, True)]
    assert r[1]["author"].startswith("listener:")
    assert page.errors == [] and fan.errors == []


def test_a_fans_approved_reaction_from_the_player_shows_on_its_measure(pages, live):
    """Feedback left in the player on a track rendered from this version (2 s bars: 5.2 s is bar 3)
    shows in the studio's comments once approved, marked as a fan's; not while pending."""
    from companion.access.tokens import make_listener_token
    from companion.catalog.models import Track
    from jobs import context

    cid = live.make_song(visibility="public", stem="heard")
    head = live.store.head(live.store.repo(cid), "main")
    with context.services().db.session() as s:
        t = Track(title="Heard", slug=f"heard-{cid}", release_state="public", duration=8.0,
                  composition_id=cid, composition_commit=str(head))
        s.add(t)
        s.flush()
        tid = t.id
    client = live.app.test_client()
    tok = make_listener_token(live.config.wp_shared_secret, 4242, display_name="Studio Fan")
    r = client.post(f"/api/tracks/{tid}/feedback", json={"position": 5.2, "emoji": "wow", "text": "this chord"},
                    headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 201 and r.get_json()["measure"] == 3, r.get_json()
    page = pages.open(cid, live.tokens["crash"])
    page.wait_for_selector("#comments")
    assert page.locator("#comments article.comment.fan").count() == 0  # pending: not here
    r = client.post(f"/api/feedback/{r.get_json()['id']}", json={"state": "approved"}, headers=live.auth("ivory"))
    assert r.status_code == 200
    page.reload()
    fan = page.locator("#comments article.comment.fan")
    fan.wait_for(timeout=20000)
    assert fan.count() == 1
    assert page.text_content("#comments article.fan .anchor").startswith(f"all parts m3 @{str(head)[:10]}")
    assert "this chord" in fan.text_content() and "0:05" in fan.text_content()
    assert page.errors == []
