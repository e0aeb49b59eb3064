"""Generating commits each member's part, as that member, on a new branch."""
from __future__ import annotations

import pytest

from companion.algorithms.base import Params
from companion.algorithms.generate import generate
from companion.band.roster import load_band
from companion.compositions import service as S
from companion.compositions.rights import Actor, member_actor
from companion.compositions.store import Store
from companion.config import Config
from companion.errors import Forbidden, Unauthorized


@pytest.fixture
def ctx(tmp_path):
    band = load_band(Config(var_dir=tmp_path).band_file)
    return Store(tmp_path / "compositions"), band


def test_generate_new_piece_commits_as_each_member(ctx):
    store, band = ctx
    ivory = member_actor(band, "ivory")
    res = generate(store, band, ivory, title="Blue Dot Matrix", seed=4, params=Params(), measures=16)
    assert res["created"] and res["branch"] == "generated-4"
    authors = [c["member"] for c in res["commits"]]
    assert authors == ["form", "ivory", "chops", "crash", "ivory", "reed", "brass", "verse", "form"]
    hist = S.history(store, band, ivory, res["composition"], rev=res["branch"])
    assert [h["author"] for h in hist][: len(authors)] == list(reversed(authors))
    for part, member in (("guitar", "chops"), ("drums", "crash"), ("sax", "reed"), ("trumpet", "brass"),
                         ("vocals", "verse")):
        ph = S.history(store, band, ivory, res["composition"], rev=res["branch"], part=part)
        assert ph[0]["author"] == member
    # main is untouched until Ivory merges
    main = S.get_composition(store, band, ivory, res["composition"], rev="main")
    assert main["parts"] == []
    merged = S.merge(store, band, ivory, res["composition"], res["branch"], "main")
    assert merged["status"] == "fast_forward"


def test_regenerating_one_member_on_an_existing_piece(ctx):
    store, band = ctx
    ivory = member_actor(band, "ivory")
    first = generate(store, band, ivory, title="Orbit", seed=1, params=Params(), measures=16)
    S.merge(store, band, ivory, first["composition"], first["branch"], "main")
    again = generate(store, band, member_actor(band, "reed"), comp_id=first["composition"], seed=2,
                     params=Params(), members=["reed"])
    assert [c["member"] for c in again["commits"]] == ["reed"]
    assert again["commits"][0]["touched"] == ["sax"]
    d = S.diff(store, band, ivory, first["composition"], "main", again["branch"])
    assert d  # only the sax changed


def test_listeners_cannot_generate(ctx):
    store, band = ctx
    listener = Actor("listener", "listener", None, "fan", frozenset())
    with pytest.raises((Forbidden, Unauthorized)):
        generate(store, band, listener, title="Nope", seed=1, measures=8)


def _lines(store, band, who, comp, rev):
    files = S.get_composition(store, band, who, comp, rev=rev, with_text=True)["files"]
    return {path: {int(l.partition("|")[0]): l.partition("|")[2].strip() for l in text.splitlines()
                   if l and not l.startswith("#")} if path.endswith(".txt") else text
            for path, text in files.items()}


def test_a_member_writes_only_the_selected_measures(ctx):
    """A selection (measures 5-8): the member's part changes there and only there (ties at its edges
    end at the edge), other parts, the global track and the metadata are as they were; the same seed
    gives the same commit, and a selection outside the piece is refused with nothing written."""
    from companion.errors import InvalidInput

    store, band = ctx
    ivory, reed = member_actor(band, "ivory"), member_actor(band, "reed")
    first = generate(store, band, ivory, title="Selection", seed=1, params=Params(), measures=12)
    S.merge(store, band, ivory, first["composition"], first["branch"], "main")
    cid = first["composition"]
    before = _lines(store, band, ivory, cid, "main")
    res = generate(store, band, reed, comp_id=cid, seed=5, members=["reed"], selection=[5, 8])
    assert [c["member"] for c in res["commits"]] == ["reed"] and res["commits"][0]["touched"] == ["sax"]
    assert res["selection"] == [5, 8]
    after = _lines(store, band, ivory, cid, res["branch"])
    assert set(after) == set(before)
    for path in before:
        if path != "parts/sax.txt":
            assert after[path] == before[path], path
    sax_b, sax_a = before["parts/sax.txt"], after["parts/sax.txt"]
    changed = {m for m in set(sax_a) | set(sax_b) if sax_a.get(m) != sax_b.get(m)}
    assert changed and changed <= {4, 5, 6, 7, 8, 9}, changed
    assert changed & {5, 6, 7, 8}
    for m in changed - {5, 6, 7, 8}:  # an edge's neighbour: only a tie ended, no note moved
        assert sax_a[m].replace(" tie=start", "").replace(" tie=stop", "") == \
            sax_b[m].replace(" tie=start", "").replace(" tie=stop", ""), (m, sax_a[m], sax_b[m])
    again = generate(store, band, reed, comp_id=cid, seed=5, members=["reed"], selection=[5, 8],
                     branch="again")
    assert _lines(store, band, ivory, cid, "again") == after
    heads = {b["name"]: b["head"] for b in S.list_branches(store, band, ivory, cid)}
    for bad in ([0, 3], [9, 13], [8, 5]):
        with pytest.raises(InvalidInput) as exc:
            generate(store, band, reed, comp_id=cid, seed=5, members=["reed"], selection=bad, branch=f"bad-{bad[0]}")
        assert exc.value.code == "bad_selection"
    assert {b["name"]: b["head"] for b in S.list_branches(store, band, ivory, cid)} == heads
