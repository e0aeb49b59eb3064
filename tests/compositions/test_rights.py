"""Part-level rights from the band file: 403 naming the part, nothing written."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from companion.compositions import service as S
from companion.errors import Forbidden, Unauthorized

C = "blue-dot"


def head(store, band, actors):
    return S.get_composition(store, band, actors["ivory"], C)["version"]["id"]


def test_member_may_not_change_another_members_part(store, band, actors, song):
    with pytest.raises(Forbidden) as exc:
        S.commit_change(store, band, actors["crash"], C, "main", song, "sneaky", {"parts": {
            "bass": {"measures": {"3": "0 C2 4 v90"}}, "piano": {"measures": {"3": "0 C4 4 v80"}}}})
    assert exc.value.details["part"] == "piano" and "piano" in exc.value.message
    assert head(store, band, actors) == song  # nothing written (not even the bass change)


def test_owner_and_leader_may_change(store, band, actors, song):
    c = S.commit_change(store, band, actors["crash"], C, "main", song, "groove", {"parts": {"bass": {"measures": {"3": "0 C2 4 v90"}}}})
    S.commit_change(store, band, actors["ivory"], C, "main", c["id"], "leader edits bass", {"parts": {"bass": {"measures": {"3": "0 E2 4 v90"}}}})
    S.commit_change(store, band, actors["chops"], C, "main", None, "comping", {"parts": {"guitar": {"measures": {"1": "0 C3 4 v70 ; 0 E3 4 v70"}}}})


def test_global_tracks_and_metadata_need_their_kinds(store, band, actors, song):
    with pytest.raises(Forbidden) as exc:
        S.commit_change(store, band, actors["crash"], C, "main", song, "faster", {"global": {"measures": {"1": "0 tempo 400000us"}}})
    assert exc.value.details["part"] == "global"
    S.commit_change(store, band, actors["form"], C, "main", song, "faster", {"global": {"measures": {"1": "0 tempo 400000us"}}})
    with pytest.raises(Forbidden) as exc:
        S.commit_change(store, band, actors["crash"], C, "main", None, "rename", {"metadata": {"title": "Crash's song"}})
    assert exc.value.details["part"] == "metadata"


def test_rights_are_data_in_the_band_file(store, band, actors, song):
    import dataclasses
    crash = dataclasses.replace(band.members["crash"], owns=("rhythm", "melody"))
    band2 = dataclasses.replace(band, members={**band.members, "crash": crash})
    # the piano part names ivory as owner: still refused; an unowned melody part is allowed
    with pytest.raises(Forbidden):
        S.commit_change(store, band2, actors["crash"], C, "main", song, "x", {"parts": {"piano": {"measures": {"3": "0 C4 4 v80"}}}})
    S.commit_change(store, band, actors["ivory"], C, "main", song, "unown", {"metadata": {"parts": [
        {"id": "piano", "kind": "melody", "owner": None, "program": 0, "channel": 0},
        {"id": "bass", "kind": "rhythm", "owner": "crash", "program": 33, "channel": 1},
        {"id": "guitar", "kind": "harmony", "owner": "chops", "program": 27, "channel": 2}]}})
    S.commit_change(store, band2, actors["crash"], C, "main", None, "x", {"parts": {"piano": {"measures": {"3": "0 C4 4 v80"}}}})
    with pytest.raises(Forbidden):
        S.commit_change(store, band, actors["crash"], C, "main", None, "y", {"parts": {"piano": {"measures": {"3": "0 D4 4 v80"}}}})


def test_only_merge_into_main_members_merge_into_main(store, band, actors, song):
    S.create_branch(store, band, actors["crash"], C, "groove")
    S.commit_change(store, band, actors["crash"], C, "groove", None, "g", {"parts": {"bass": {"measures": {"3": "0 C2 4 v90"}}}})
    S.commit_change(store, band, actors["ivory"], C, "main", None, "m", {"parts": {"piano": {"measures": {"3": "0 C4 4 v80"}}}})
    with pytest.raises(Forbidden) as exc:
        S.merge(store, band, actors["crash"], C, "groove", "main")
    assert exc.value.code == "merge_into_main"
    S.create_branch(store, band, actors["crash"], C, "groove2", "groove")
    S.merge(store, band, actors["crash"], C, "main", "groove2")  # members merge into other branches
    S.merge(store, band, actors["ivory"], C, "groove", "main")


def test_guests_change_only_their_parts_and_branches_until_expiry(store, band, actors, song, make_guest):
    S.create_branch(store, band, actors["ivory"], C, "guest-solo")
    g = make_guest(parts=["guitar"], branches=["guest-solo"], compositions=[C])
    S.commit_change(store, band, g, C, "guest-solo", None, "solo", {"parts": {"guitar": {"measures": {"2": "0 G4 4 v90"}}}})
    assert S.history(store, band, g, C, "guest-solo")[0]["author"] == "guest:t1"
    with pytest.raises(Forbidden) as exc:
        S.commit_change(store, band, g, C, "guest-solo", None, "x", {"parts": {"bass": {"measures": {"2": "0 G2 4 v90"}}}})
    assert exc.value.details["part"] == "bass"
    with pytest.raises(Forbidden):
        S.commit_change(store, band, g, C, "main", None, "x", {"parts": {"guitar": {"measures": {"2": "0 A4 4 v90"}}}})
    other = make_guest(parts=["guitar"], branches=["guest-solo"], compositions=["another"])
    with pytest.raises(Forbidden):
        S.commit_change(store, band, other, C, "guest-solo", None, "x", {"parts": {"guitar": {"measures": {"2": "0 A4 4 v90"}}}})
    expired = make_guest(parts=["guitar"], branches=["guest-solo"], compositions=[C],
                         expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    with pytest.raises(Unauthorized):
        S.commit_change(store, band, expired, C, "guest-solo", None, "x", {"parts": {"guitar": {"measures": {"2": "0 A4 4 v90"}}}})
    with pytest.raises(Forbidden):
        S.merge(store, band, g, C, "guest-solo", "main")


def test_listeners_read_public_compositions_and_their_history_only(store, band, actors, song):
    fan = actors["listener"]
    with pytest.raises(Forbidden):
        S.get_composition(store, band, fan, C)
    assert S.list_compositions(store, band, fan) == []
    with pytest.raises(Forbidden):
        S.commit_change(store, band, fan, C, "main", None, "x", {"parts": {"piano": {"measures": {"2": "0 A4 4 v90"}}}})
    S.commit_change(store, band, actors["ivory"], C, "main", None, "publish", {"metadata": {"visibility": "public"}})
    assert S.get_composition(store, band, fan, C)["title"] == "Blue Dot"
    assert len(S.history(store, band, fan, C)) == 4
    assert [c["id"] for c in S.list_compositions(store, band, fan)] == [C]
    with pytest.raises(Forbidden):
        S.commit_change(store, band, fan, C, "main", None, "x", {"parts": {"piano": {"measures": {"2": "0 A4 4 v90"}}}})


def test_a_guest_scope_that_names_no_composition_covers_none(store, band, actors, song):
    """No scope means no access: an invitation without 'compositions' reaches no composition, public
    or private, by the domain functions the CLI and jobs use too."""
    from companion.compositions.rights import Actor
    from companion.errors import Forbidden

    S.commit_change(store, band, actors["ivory"], "blue-dot", "main", song, "go public",
                    {"metadata": {"visibility": "public"}})
    head = S.get_composition(store, band, actors["ivory"], "blue-dot")["version"]["id"]
    S.create_branch(store, band, actors["ivory"], "blue-dot", "jam")
    guest = Actor("guest", "guest", "guest:t9", "Guest", band.rights_of("guest"),
                  {"parts": ["bass", "rhythm"], "branches": ["jam", "main"]})
    for call in (lambda: S.commit_change(store, band, guest, "blue-dot", "jam", head, "x",
                                         {"parts": {"bass": {"measures": {"1": "0 C2 4 v90"}}}}),
                 lambda: S.create_branch(store, band, guest, "blue-dot", "main"),
                 lambda: S.delete_branch(store, band, guest, "blue-dot", "jam")):
        with pytest.raises(Forbidden) as info:
            call()
        assert info.value.code == "guest_scope"
    scoped = Actor("guest", "guest", "guest:t9", "Guest", band.rights_of("guest"),
                   {"parts": ["bass"], "branches": ["jam"], "compositions": ["blue-dot"]})
    with pytest.raises(Forbidden, match="guests may not delete branches"):
        S.delete_branch(store, band, scoped, "blue-dot", "jam")
    assert "jam" in [b["name"] for b in S.list_branches(store, band, actors["ivory"], "blue-dot")]
