"""The studio's views of the canonical model: the roll per part, the score, the timeline and history."""
from __future__ import annotations

import pytest

from tests.studio.conftest import shot

pytestmark = pytest.mark.browser


def test_roll_score_timeline_and_history(pages, live):
    cid = live.make_song()
    page = pages.open(cid, live.tokens["ivory"])
    assert page.evaluate("document.getElementById('studio').dataset.state") == "ready", page.errors
    # the roll shows Ivory's own part (piano) first, with its four notes of measure 1 and two of measure 2
    notes = page.eval_on_selector_all("#roll rect.note[data-id]", "els => els.map(e => [e.dataset.measure, e.dataset.pitch])")
    assert sorted(notes) == sorted([["1", "C4"], ["1", "E4"], ["1", "G4"], ["1", "C5"], ["2", "D4"], ["2", "F4"]])
    assert "yours to edit" in page.text_content(".roll-banner")
    # the timeline names each part's owner
    owners = page.eval_on_selector_all("#timeline .track", "els => els.map(e => [e.dataset.part, e.querySelector('.owner').textContent])")
    assert owners == [["piano", "Ivory"], ["bass", "Crash"], ["guitar", "Chops"]]
    # the score: OSMD engraved the companion's MusicXML export (noteheads drawn as SVG)
    page.wait_for_function("document.querySelectorAll('#score svg g.vf-stavenote').length >= 6", timeout=20000)
    assert page.eval_on_selector_all("#score svg", "els => els.length") >= 1
    # history: both commits, newest first, with their authors
    page.wait_for_function("document.querySelectorAll('#history li').length >= 3")
    hist = page.eval_on_selector_all("#history li strong", "els => els.map(e => e.textContent)")
    assert hist[:2] == ["Crash", "Ivory"]
    # the bass part in the roll (key 2), with Crash's notes, locked for Ivory? no: the leader may change all parts
    page.keyboard.press("2")
    notes = page.eval_on_selector_all("#roll rect.note[data-id]", "els => els.map(e => e.dataset.pitch)")
    assert sorted(notes) == ["A2", "C2", "D2", "G2"]
    page.keyboard.press("1")
    shot(page, "roll-and-notation")
    assert page.errors == []
