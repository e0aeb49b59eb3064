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
