"""Rights in the studio: locks per member, a guest's scope, listener mode read-only."""
from __future__ import annotations

import pytest

from tests.studio.conftest import shot, status, wait_status

pytestmark = pytest.mark.browser


def _add(page, t, midi):
    pt = page.evaluate(f"studio.roll.point({t}, {midi})")
    page.mouse.dblclick(pt["x"], pt["y"])


def test_crash_cannot_edit_chops_part(pages, live):
    cid = live.make_song()
    live.commit("chops", cid, "main", "Chords", {"parts": {"guitar": {"measures": {"1": "0 E3 4 v70 ; 0 G3 4 v70"}}}})
    page = pages.open(cid, live.tokens["crash"])
    # Crash's own part is open and editable; Chops' and Ivory's are visibly locked
    assert page.evaluate("studio.roll.part") == "bass"
    locked = page.eval_on_selector_all("#timeline .track.locked", "els => els.map(e => e.dataset.part)")
    assert locked == ["piano", "guitar"]
    page.click("#timeline .track[data-part=guitar] .part-name")
    assert "locked" in page.text_content(".roll-banner") and "Chops" in page.text_content(".roll-banner")
    before = page.evaluate("studio.work.notes('guitar').length")
    page.evaluate("studio.gridQ = 1")
    _add(page, 8, 60)
    assert status(page)["kind"] == "locked" and "Chops" in status(page)["text"], status(page)
    assert page.evaluate("studio.work.notes('guitar').length") == before
    assert page.evaluate("studio.work.hasEdits") is False
    shot(page, "locked-part")
    # a tampered page that unlocks the part anyway: the companion refuses the edit (check and commit)
    page.evaluate("studio.work.parts.get('guitar').editable = true")
    _add(page, 8, 60)
    page.wait_for_function("document.getElementById('studio').dataset.checked === 'part_forbidden'")
    page.fill("#message", "sneaky")
    page.evaluate("studio.status('', 'pending')")
    page.click("#commit")
    wait_status(page, "s.dataset.kind === 'error'")
    assert status(page)["code"] == "part_forbidden" and "guitar" in status(page)["text"], status(page)
    assert "3| 0 C4" not in live.part_text(cid, "main", "guitar")
    assert page.evaluate("studio.work.hasEdits") is True  # nothing lost: the edit is still there to undo or move
    assert page.errors == []


def test_a_guest_works_within_the_token(pages, live):
    cid = live.make_song()
    from companion.compositions import service as S

    S.create_branch(live.store, live.band, live.actor("ivory"), cid, "guest-jam", "main")
    tok = live.guest([cid], ["guest-jam"], ["guitar"])
    # on main the guest only reads
    page = pages.open(cid, tok)
    assert page.evaluate("document.getElementById('studio').dataset.mode") == "readonly"
    assert page.evaluate("studio.model.write_refused") == "guest_scope"
    assert page.is_hidden("#commit")
    # on the invited branch: the guitar is theirs, the piano is not
    page = pages.open(cid, tok, query="?branch=guest-jam")
    assert page.evaluate("studio.model.parts.map(p => [p.id, p.editable])") == [
        ["piano", False], ["bass", False], ["guitar", True]]
    assert page.evaluate("studio.roll.part") == "guitar"
    page.evaluate("studio.gridQ = 2")
    _add(page, 0, 64)
    page.fill("#message", "Guest riff")
    page.evaluate("studio.status('', 'pending')")
    page.click("#commit")
    wait_status(page, "!['pending', 'busy', 'info'].includes(s.dataset.kind)")
    assert status(page)["kind"] == "ok", status(page)
    assert "1| 0 E4 2 v80" in live.part_text(cid, "guest-jam", "guitar")
    # another composition is not in the invitation
    other = live.make_song()
    page = pages.open(other, tok)
    assert page.evaluate("document.getElementById('studio').dataset.state") == "error"
    assert status(page)["code"] == "private_composition", status(page)
    # an expired invitation: a clear message, not a broken editor
    expired = live.guest([cid], ["guest-jam"], ["guitar"], minutes=-1)
    page = pages.open(cid, expired, query="?branch=guest-jam")
    assert status(page)["code"] in ("invalid_token", "token_expired"), status(page)
    assert page.errors == []


def test_listener_mode_is_read_only(pages, live):
    cid = live.make_song(visibility="public", stem="open")
    page = pages.open(cid, live.tokens["listener"])
    assert page.evaluate("document.getElementById('studio').dataset.mode") == "listener"
    assert page.is_hidden("#commit") and page.is_hidden("#part-tools")
    assert page.evaluate("studio.model.parts.every(p => !p.editable)")
    # history is there, and any version can be opened
    page.wait_for_function("document.querySelectorAll('#history li').length >= 3")
    page.evaluate("studio.gridQ = 1")
    _add(page, 8, 60)
    assert status(page)["kind"] == "locked"
    assert page.evaluate("studio.work.hasEdits") is False
    # even a hand-made commit from the page is refused by the companion
    code = page.evaluate("""studio.api.commit('main', studio.model.version.id, 'fan edit',
        {parts: {piano: {measures: {'3': [{onset: '0', pitch: 'C4', duration: '1', velocity: 80}]}}}})
        .then(() => 'accepted', e => e.code)""")
    assert code == "missing_right"
    # a private piece is not for fans
    private = live.make_song()
    page = pages.open(private, live.tokens["listener"])
    assert status(page)["code"] == "private_composition"
    assert page.errors == []
