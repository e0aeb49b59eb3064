"""A member's algorithm proposes (seeded, on its own branch, run by the real worker); seen as a diff,
accepted as a commit by that member, or discarded."""
from __future__ import annotations

import pytest

from tests.studio.conftest import status, wait_status

pytestmark = pytest.mark.browser


def _work(live):
    from rq import SimpleWorker

    from jobs import context

    context.configure(live.config)
    live.app.extensions["scripthammer"].worker(SimpleWorker).work(burst=True, with_scheduler=False)


def _propose(page, live, member, seed):
    page.select_option("#algo-member", member)
    page.fill("#algo-seed", str(seed))
    page.click("#algo-run")
    page.wait_for_function("document.getElementById('proposal').textContent.includes('queued')", timeout=10000)
    _work(live)
    page.wait_for_selector("#proposal-accept", timeout=20000)


def test_algorithm_proposal_as_a_diff_accept_and_discard(pages, live):
    cid = live.make_song()
    page = pages.open(cid, live.tokens["crash"], query="?branch=main")
    # Crash may not merge into main: his proposals go to a branch of his own first
    from companion.compositions import service as S

    S.create_branch(live.store, live.band, live.actor("crash"), cid, "crash-ideas", "main")
    page = pages.open(cid, live.tokens["crash"], query="?branch=crash-ideas")
    base = live.store.head(live.store.repo(cid), "crash-ideas")
    _propose(page, live, "chops", 7)
    text = page.text_content("#proposal .proposal")
    assert "Proposal by Chops, seed 7" in text and "notes added" in text
    # the proposal is shown as a diff: the guitar's new notes coloured in the roll and in the score
    assert page.evaluate("studio.roll.part") == "guitar"
    assert page.evaluate("document.querySelectorAll('#roll rect.note.diff-added').length") > 0
    page.wait_for_function("[...document.querySelectorAll('#score svg path')].some(p => "
                           "(p.getAttribute('fill') || '').toLowerCase() === '#1f9d55')", timeout=20000)
    branch = page.get_attribute("#proposal .proposal", "data-branch")
    page.click("#proposal-accept")
    wait_status(page, "s.textContent.startsWith('Accepted')", timeout=20000)
    repo = live.store.repo(cid)
    head = repo[live.store.head(repo, "crash-ideas")]
    assert head.author.name == "Chops" and str(head.parents[0].id) == base  # a commit by that member
    assert "seed 7" in head.message
    assert live.store.head(repo, branch) is None  # its branch is gone
    # the next one is discarded: nothing changes, its branch is deleted
    _propose(page, live, "reed", 11)
    branch = page.get_attribute("#proposal .proposal", "data-branch")
    page.click("#proposal-discard")
    wait_status(page, "s.textContent.startsWith('Discarded')", timeout=20000)
    assert live.store.head(repo, "crash-ideas") == str(head.id)
    assert live.store.head(repo, branch) is None
    assert status(page)["kind"] == "info"
    assert page.errors == []


def test_guests_and_fans_get_no_algorithms(pages, live):
    cid = live.make_song(visibility="public", stem="algo")
    tok = live.guest([cid], ["main"], ["guitar"])
    page = pages.open(cid, tok)
    assert page.is_hidden("#algo-section")
    code = page.evaluate("studio.api.generate({composition: studio.comp, seed: 1, members: ['chops']})"
                         ".then(() => 'queued', e => e.code)")
    assert code in ("members_only", "missing_right")
    page = pages.open(cid, live.tokens["listener"])
    assert page.is_hidden("#algo-section")


def test_a_proposal_on_the_loops_measures_changes_only_them(pages, live):
    from companion.compositions import service as S

    cid = live.make_song(measures=6, stem="algosel")
    S.create_branch(live.store, live.band, live.actor("chops"), cid, "chops-ideas", "main")
    page = pages.open(cid, live.tokens["chops"], query="?branch=chops-ideas")
    page.fill("#loop-from", "3")
    page.fill("#loop-to", "4")
    page.dispatch_event("#loop-to", "change")
    page.check("#algo-selection")
    base = live.store.head(live.store.repo(cid), "chops-ideas")
    _propose(page, live, "chops", 7)
    assert "Proposal by Chops, seed 7, measures 3–4" in page.text_content("#proposal .proposal")
    branch = page.get_attribute("#proposal .proposal", "data-branch")
    d = S.diff(live.store, live.band, live.actor("ivory"), cid, base, branch)
    changed = {(p["part"], m["measure"]) for p in d["parts"] for m in p["measures"]}
    assert changed and {m for _, m in changed} <= {2, 3, 4, 5} and {m for _, m in changed} & {3, 4}, changed
    assert {p for p, _ in changed} == {"guitar"}
    assert page.errors == []
