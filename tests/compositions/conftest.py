"""Fixtures for the compositions domain tests (no HTTP): a store, the band and actors."""
from __future__ import annotations

from pathlib import Path

import pytest

from companion.band.roster import load_band
from companion.compositions.rights import Actor, member_actor
from companion.compositions.store import Store

BAND_FILE = Path(__file__).resolve().parents[2] / "companion" / "band" / "band.toml"


@pytest.fixture
def band():
    return load_band(BAND_FILE)


@pytest.fixture(params=["local", "shared"])
def store(tmp_path, request):
    """Both stores behind one interface: ``local`` (a git repository per composition on this disk) and
    ``shared`` (git objects in an object store folder, refs in a SQLite database, the folder a cache)."""
    if request.param == "local":
        return Store(tmp_path / "compositions")
    return make_shared_store(tmp_path)


def make_shared_store(tmp_path, database_url=None, objects=None):
    from companion.compositions.shared import REFS, SharedStore
    from companion.db import Database
    from companion.storage import LocalStore

    db = Database(database_url or f"sqlite:///{tmp_path / 'refs.db'}")
    REFS.create(db.engine, checkfirst=True)
    return SharedStore(tmp_path / "compositions", db, objects or LocalStore(tmp_path / "objects"))


@pytest.fixture
def actors(band):
    out = {m: member_actor(band, m) for m in band.members}
    out["listener"] = Actor("listener", "listener", None, "Fan", band.rights_of("listener"))
    return out


@pytest.fixture
def make_guest(band):
    def make(parts=(), branches=(), compositions=(), expires_at=None):
        return Actor("guest", "guest", "guest:t1", "Guest", band.rights_of("guest"),
                     {"parts": list(parts), "branches": list(branches), "compositions": list(compositions)},
                     expires_at)
    return make


PARTS = [
    {"id": "piano", "name": "Piano", "kind": "melody", "owner": "ivory", "program": 0, "channel": 0},
    {"id": "bass", "name": "Bass", "kind": "rhythm", "owner": "crash", "program": 33, "channel": 1},
    {"id": "guitar", "name": "Guitar", "kind": "harmony", "owner": "chops", "program": 27, "channel": 2},
]


@pytest.fixture
def song(store, band, actors):
    """A composition 'blue-dot' with three parts and four measures; returns its first commit id."""
    from companion.compositions import service as S
    r = S.create_composition(store, band, actors["ivory"], "Blue Dot", parts=PARTS, measures=4)
    c = S.commit_change(store, band, actors["ivory"], "blue-dot", "main", r["head"], "First ideas", {"parts": {
        "piano": {"measures": {"1": "0 C4 1 v80 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80",
                               "2": "0 D4 2 v80 ; 2 F4 2 v80"}},
    }})
    c = S.commit_change(store, band, actors["crash"], "blue-dot", "main", c["id"], "Bass", {"parts": {
        "bass": {"measures": {"1": "0 C2 2 v90 ; 2 G2 2 v90", "2": "0 D2 2 v90 ; 2 A2 2 v90"}}}})
    return c["id"]
