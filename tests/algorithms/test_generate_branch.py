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
