"""Committing, history, branching, merging with a conflict, the stale-parent flow and live updates."""
from __future__ import annotations

import pytest

from tests.studio.conftest import shot, status, wait_status

pytestmark = pytest.mark.browser


def _add(page, t, midi):
    pt = page.evaluate(f"studio.roll.point({t}, {midi})")
    page.mouse.dblclick(pt["x"], pt["y"])


def _commit(page, message):
    page.fill("#message", message)
    page.evaluate("studio.status('', 'pending')")
    page.click("#commit")
    wait_status(page, "!['pending', 'busy', 'info'].includes(s.dataset.kind)")


def test_commit_and_see_the_history(pages, live):
    cid = live.make_song()
    page = pages.open(cid, live.tokens["ivory"])
    page.evaluate("studio.gridQ = 1")
    _add(page, 12, 67)  # G4 in measure 4
    # nothing is committed without a message
    page.click("#commit")
    assert status(page)["kind"] == "error" and "message" in status(page)["text"]
    _commit(page, "A G to end on")
    assert status(page)["kind"] == "ok", status(page)
    assert "4| 0 G4 1 v80" in live.part_text(cid, "main", "piano")
    page.wait_for_function("document.querySelector('#history li') && "
                           "document.querySelector('#history li').textContent.includes('A G to end on')")
    first = page.text_content("#history li")
    assert "Ivory" in first
    assert page.evaluate("studio.work.hasEdits") is False
    assert page.evaluate("localStorage.length") == 0  # nothing left unsent
    # click the measure: who changed it and when
    page.evaluate("studio.select(4)")
    page.wait_for_function("document.getElementById('measure-history').textContent.includes('A G to end on')")
    # open an old version: read-only, its own notes
    page.click("#history li:nth-child(3) button")
    page.wait_for_function("document.getElementById('studio').dataset.mode === 'readonly'")
    assert page.evaluate("studio.work.notes('piano').length") == 6
    assert page.errors == []


def test_branch_commit_and_switch(pages, live):
    cid = live.make_song()
    page = pages.open(cid, live.tokens["ivory"])
    page.keyboard.press("b")
    page.fill("#branch-name", "bridge")
    page.click("#branch-create")
    page.wait_for_function("studio.model && studio.model.branch === 'bridge'")
    page.evaluate("studio.gridQ = 2")
    _add(page, 8, 64)
    _commit(page, "Bridge idea")
    assert status(page)["kind"] == "ok", status(page)
    assert "3| 0 E4 2 v80" in live.part_text(cid, "bridge", "piano")
    assert "3| 0 E4" not in live.part_text(cid, "main", "piano")
    # switch back to main: the bridge's note is not there; compare shows it as added
    page.select_option("#branch", "main")
    page.wait_for_function("studio.model.branch === 'main'")
    assert not any(n == [3, "E4"] for n in page.evaluate("studio.work.notes('piano').map(n => [n.m, n.e.pitch])"))
    page.select_option("#compare-from", "bridge")
    page.click("#compare")
    page.wait_for_function("document.querySelectorAll('#roll rect.diff-removed').length === 1")
    assert "1 removed" in status(page)["text"]
    assert page.errors == []


def test_merge_a_branch_with_a_conflict_and_resolve_it(pages, live):
    cid = live.make_song()
    from companion.compositions import service as S

    S.create_branch(live.store, live.band, live.actor("ivory"), cid, "idea", "main")
    live.commit("ivory", cid, "main", "Main: D4 then", {"parts": {"piano": {"measures": {
        "1": "0 D4 1 v80 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80"}}}})
    live.commit("ivory", cid, "idea", "Idea: F4 and a new bar", {"parts": {"piano": {"measures": {
        "1": "0 F4 1 v80 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80", "3": "0 A4 4 v70"}}}})
    page = pages.open(cid, live.tokens["ivory"], query="?branch=idea")
    assert page.evaluate("studio.model.branch") == "idea"
    # only the leader (merge_into_main) is offered main as a target
    assert page.eval_on_selector_all("#merge-target option", "o => o.map(x => x.value)") == ["main"]
    page.click("#merge")
    page.wait_for_selector("#conflicts fieldset.conflict")
    legend = page.text_content("#conflicts fieldset legend")
    assert legend == "piano, measure 1, beat 1"
    assert "D4" in page.text_content("#conflicts fieldset") and "F4" in page.text_content("#conflicts fieldset")
    shot(page, "conflict-view")
    # resolve with "edit": our own notes at the conflict's beat
    page.check("#conflicts fieldset input[value=edit]")
    page.fill("#conflicts .conflict-edit", "E4 1 90")
    page.click("#resolve")
    wait_status(page, "s.textContent.startsWith('Diff') || s.dataset.kind === 'error'", timeout=20000)
    assert page.evaluate("studio.model.branch") == "main"
    text = live.part_text(cid, "main", "piano")
    assert "1| 0 E4 1 v90 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80" in text and "3| 0 A4 4 v70" in text, text
    # the merged notes in both views: the roll has them, coloured as the merge's changes; so has the score
    notes = page.evaluate("studio.work.notes('piano').map(n => [n.m, n.e.onset, n.e.pitch])")
    assert [1, "0", "E4"] in notes and [3, "0", "A4"] in notes
    page.wait_for_function("document.querySelectorAll('#roll rect.note.diff-added').length >= 1 && "
                           "document.querySelectorAll('#roll rect.note.diff-changed').length >= 1")
    page.wait_for_function("[...document.querySelectorAll('#score svg path')].some(p => "
                           "(p.getAttribute('fill') || '').toLowerCase() === '#1f9d55')", timeout=20000)
    page.wait_for_function("[...document.querySelectorAll('#score svg path')].some(p => "
                           "(p.getAttribute('fill') || '').toLowerCase() === '#d97706')", timeout=20000)
    shot(page, "diff-after-merge")
    assert page.errors == []


def test_stale_parent_rebase_and_live_updates(pages, live):
    cid = live.make_song()
    ivory = pages.open(cid, live.tokens["ivory"])
    crash = pages.open(cid, live.tokens["crash"])
    ivory.evaluate("studio.gridQ = 1")
    _add(ivory, 13, 72)  # C5 at beat 2 of measure 4: unsent
    # Crash commits his bass meanwhile (through the studio); Ivory sees it arrive, her edit is kept
    crash.evaluate("studio.gridQ = 1")
    assert crash.evaluate("studio.roll.part") == "bass"
    _add(crash, 12, 43)
    _commit(crash, "Bass walks down")
    assert status(crash)["kind"] == "ok", status(crash)
    wait_status(ivory, "s.textContent.includes('Bass walks down')")
    assert ivory.evaluate("studio.work.hasEdits") is True
    # a third page with no edits reloads on the live update and shows Crash's note
    watcher = pages.open(cid, live.tokens["chops"])
    live.commit("crash", cid, "main", "Bass again", {"parts": {"bass": {"measures": {"3": "0 E2 1 v90"}}}})
    watcher.wait_for_function("studio.work.notes('bass').some(n => n.e.pitch === 'E2')", timeout=10000)
    # Ivory commits on a stale parent: 409 -> what changed meanwhile, and a rebase that loses nothing
    _commit(ivory, "High C")
    assert status(ivory)["code"] == "stale_parent", status(ivory)
    assert "Crash" in ivory.text_content("#conflicts .stale")
    ivory.click("#rebase")
    wait_status(ivory, "s.textContent.startsWith('Rebased')")
    assert ivory.evaluate("studio.work.hasEdits") is True
    _commit(ivory, "High C")
    assert status(ivory)["kind"] == "ok", status(ivory)
    piano, bass = live.part_text(cid, "main", "piano"), live.part_text(cid, "main", "bass")
    assert "4| 1 C5 1 v80" in piano, piano
    assert "3| 0 E2 1 v90" in bass and "4| 0 G2" in bass, bass
    assert ivory.errors == [] and crash.errors == []


def test_lost_network_keeps_the_edits(pages, live):
    cid = live.make_song()
    page = pages.open(cid, live.tokens["ivory"])
    page.evaluate("studio.gridQ = 1")
    _add(page, 12, 65)
    page.context.set_offline(True)
    _commit(page, "Offline try")
    assert status(page)["code"] == "network", status(page)
    assert "kept" in status(page)["text"]
    # a reload (still offline for the API, served again when online) restores the unsent edit
    page.context.set_offline(False)
    page.reload()
    page.wait_for_function("document.getElementById('studio').dataset.state === 'ready'")
    assert page.evaluate("studio.work.notes('piano').some(n => n.m === 4 && n.e.pitch === 'F4')")
    _commit(page, "Back online")
    assert status(page)["kind"] == "ok"
    assert "4| 0 F4 1 v80" in live.part_text(cid, "main", "piano")
