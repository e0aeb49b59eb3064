"""Diff and three-way merge understand the notation: a clef (key, meter, tempo, dynamic,
articulation, slur, hairpin) change is a change in the JSON and text diffs, a change on one
side merges cleanly, and different changes on both sides at one place are a conflict that
"ours" and "theirs" resolve."""
from __future__ import annotations

import pytest

from companion.compositions import service as S
from companion.compositions.model import format_events, parse_events
from companion.errors import Conflict

C = "blue-dot"
BAR1 = "0 C4 1 v80 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 B4 1 v80"


def commit(store, band, who, branch, measures, part="piano", msg="change"):
    return S.commit_change(store, band, who, C, branch, None, msg, {"parts": {part: {"measures": measures}}})["id"]


def commit_global(store, band, who, branch, measures, msg="form"):
    return S.commit_change(store, band, who, C, branch, None, msg, {"global": {"measures": measures}})["id"]


def canon(text: str) -> str:
    """A measure's events in canonical order (as the store writes them)."""
    return format_events(parse_events(text))


def line(store, band, actor, rev, part, m):
    files = S.get_composition(store, band, actor, C, rev, with_text=True)["files"]
    name = "global.txt" if part == "global" else f"parts/{part}.txt"
    for text in files[name].splitlines():
        if text.startswith(f"{m}|"):
            return text.partition("|")[2].strip()
    return ""


# (kind counted in the diff, base line, one side's line, the other side's line) for bar 1 of the piano
CASES = {
    "clef": (BAR1, "0 clef=F4 ; " + BAR1, "0 clef=C3 ; " + BAR1),
    "key": (BAR1, "0 key=F ; " + BAR1, "0 key=D:major ; " + BAR1),
    "meter": (BAR1, "0 meter=6/8 ; " + BAR1, "0 meter=12/8 ; " + BAR1),
    "dyn": (BAR1, "0 dyn=p ; " + BAR1, "0 dyn=ff ; " + BAR1),
    "articulations": (BAR1, BAR1.replace("0 C4 1 v80", "0 C4 1 v80 art=staccato"),
                      BAR1.replace("0 C4 1 v80", "0 C4 1 v80 art=accent")),
    "ornaments": (BAR1, BAR1.replace("0 C4 1 v80", "0 C4 1 v80 orn=trill"),
                  BAR1.replace("0 C4 1 v80", "0 C4 1 v80 orn=mordent")),
    "slur": (BAR1, "0 slur=3 ; " + BAR1, "0 slur=2 ; " + BAR1),
    "cresc": (BAR1, "0 cresc=3 ; " + BAR1, "0 cresc=2 ; " + BAR1),
}
TEXT = {"clef": "clef F4", "key": "key F", "meter": "meter 6/8", "dyn": "dynamic p", "articulations": "staccato",
        "ornaments": "trill", "slur": "slur over 3q", "cresc": "crescendo over 3q"}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_notation_change_is_a_change_in_both_diffs(store, band, actors, song, kind):
    base, ours, _ = CASES[kind]
    ivory = actors["ivory"]
    before = commit(store, band, ivory, "main", {"1": base})
    commit(store, band, ivory, "main", {"1": ours})
    d = S.diff(store, band, ivory, C, before, "main")
    (part,) = d["parts"]
    (m,) = part["measures"]
    assert m["measure"] == 1
    assert d["summary"]["by_kind"] == {kind: 1}
    if kind in ("articulations", "ornaments"):
        (c,) = m["changed"]
        assert c["fields"] == [kind] and c["to"][kind] == [ours.split(" ; ")[0].split("=")[1]]
        assert d["summary"]["notes_changed"] == 1
    else:
        (added,) = m["added"]
        assert added["kind"] == kind and d["summary"]["notes_changed"] == 0
    assert TEXT[kind] in S.diff_text(d)
    # and changing it again is a *change* of that element, not an add and a remove
    commit(store, band, ivory, "main", {"1": CASES[kind][2]})
    d2 = S.diff(store, band, ivory, C, before, "main")
    d3 = S.diff(store, band, ivory, C, d2["to"]["id"], "main")  # nothing between a version and itself
    assert d3["parts"] == [] and d3["summary"]["by_kind"] == {}
    if kind not in ("articulations", "ornaments"):
        mid = S.history(store, band, ivory, C)[1]["id"]
        (c,) = S.diff(store, band, ivory, C, mid, "main")["parts"][0]["measures"][0]["changed"]
        assert c["from"]["kind"] == c["to"]["kind"] == kind
        assert c["fields"] == (["span"] if kind in ("slur", "cresc") else ["value"])


@pytest.mark.parametrize("kind", list(CASES))
def test_a_notation_change_on_one_side_merges_cleanly(store, band, actors, song, kind):
    base, ours, _ = CASES[kind]
    ivory = actors["ivory"]
    commit(store, band, ivory, "main", {"1": base})
    S.create_branch(store, band, ivory, C, "idea")
    commit(store, band, ivory, "idea", {"1": ours})
    commit(store, band, ivory, "main", {"1": base.replace("2 G4 1 v80", "2 A4 1 v80")})  # another note, same bar
    assert S.merge_preview(store, band, ivory, C, "idea", "main")["conflicts"] == []
    S.merge(store, band, ivory, C, "idea", "main")
    merged = line(store, band, ivory, "main", "piano", 1)
    assert merged == canon(ours.replace("2 G4 1 v80", "2 A4 1 v80"))


@pytest.mark.parametrize("choice", ["ours", "theirs"])
@pytest.mark.parametrize("kind", list(CASES))
def test_different_changes_at_one_place_conflict_and_resolve(store, band, actors, song, kind, choice):
    base, ours, theirs = CASES[kind]
    ivory = actors["ivory"]
    commit(store, band, ivory, "main", {"1": base})
    S.create_branch(store, band, ivory, C, "idea")
    commit(store, band, ivory, "main", {"1": ours})
    commit(store, band, ivory, "idea", {"1": theirs})
    (c,) = S.merge_preview(store, band, ivory, C, "idea", "main")["conflicts"]
    assert c["place"]["part"] == "piano" and c["place"]["measure"] == 1 and c["place"]["beat"] == "0"
    if kind in ("articulations", "ornaments"):
        assert c["place"]["voice"] == 1 and c["ours"][0][kind] != c["theirs"][0][kind]
    else:
        assert c["place"]["lane"] == kind
        assert [e["kind"] for e in c["ours"]] == [kind] == [e["kind"] for e in c["theirs"]]
        assert c["base"] == []
    with pytest.raises(Conflict):
        S.merge(store, band, ivory, C, "idea", "main")
    S.merge(store, band, ivory, C, "idea", "main", resolutions={c["id"]: choice})
    assert line(store, band, ivory, "main", "piano", 1) == canon(ours if choice == "ours" else theirs)


def test_score_wide_tempo_and_key_changes_conflict_and_show(store, band, actors, song):
    ivory, chops = actors["ivory"], actors["chops"]
    commit_global(store, band, ivory, "main", {"3": "0 tempo 500000us"})
    S.create_branch(store, band, ivory, C, "idea")
    commit_global(store, band, ivory, "main", {"3": "0 tempo 600000us beat=3/2 text=Adagio ; 0 key Eb major"})
    commit_global(store, band, ivory, "idea", {"3": "0 tempo 400000us ; 0 key Eb major"})
    d = S.diff(store, band, ivory, C, "idea", "main")
    assert {g["change"] for g in d["global"]} == {"changed"} and d["summary"]["by_kind"] == {"tempo": 1}
    assert 'tempo 100.0 bpm "Adagio" (66.67 per 3/2q)' in S.diff_text(d)
    pv = S.merge_preview(store, band, ivory, C, "idea", "main")
    (c,) = pv["conflicts"]  # the same key added on both sides is no conflict; the tempos are
    assert c["id"] == "global:m3:tempo:0" and c["place"]["lane"] == "tempo"
    S.merge(store, band, ivory, C, "idea", "main", resolutions={c["id"]: "theirs"})
    assert line(store, band, ivory, "main", "global", 3) == "0 key Eb major ; 0 tempo 400000us ~150bpm"
    # structure (tempo, meter, key of the score) is Form's: Chops may not change it
    from companion.errors import Forbidden
    with pytest.raises(Forbidden):
        commit_global(store, band, chops, "main", {"4": "0 meter 3/4"})


def test_resolving_with_given_notation_events(store, band, actors, song):
    ivory = actors["ivory"]
    base, ours, theirs = CASES["clef"]
    commit(store, band, ivory, "main", {"1": base})
    S.create_branch(store, band, ivory, C, "idea")
    commit(store, band, ivory, "main", {"1": ours})
    commit(store, band, ivory, "idea", {"1": theirs})
    (c,) = S.merge_preview(store, band, ivory, C, "idea", "main")["conflicts"]
    S.merge(store, band, ivory, C, "idea", "main", resolutions={c["id"]: {"notes": [{"kind": "clef", "onset": "0",
                                                                                     "value": "G2-8"}]}})
    assert line(store, band, ivory, "main", "piano", 1) == "0 clef=G2-8 ; " + BAR1


def test_part_rights_cover_notation_too(store, band, actors, song):
    """A clef in Ivory's part is Ivory's part: Crash (bass) may not add one."""
    from companion.errors import Forbidden
    with pytest.raises(Forbidden) as exc:
        commit(store, band, actors["crash"], "main", {"1": "0 clef=F4 ; " + BAR1})
    assert exc.value.details["part"] == "piano"
    commit(store, band, actors["crash"], "main", {"1": "0 clef=F4 ; 0 C2 2 v90 ; 2 G2 2 v90"}, part="bass")


def test_diff_and_merge_through_the_api(client, auth):
    P = "/api/compositions"
    h = auth("ivory")
    r = client.post(P + "/", json={"title": "Blue Dot", "measures": 2, "parts": [
        {"id": "piano", "kind": "melody", "owner": "ivory"}]}, headers=h)
    head = r.json["head"]
    head = client.post(f"{P}/blue-dot/commits", headers=h, json={"parent": head, "message": "bar 1", "changes": {
        "parts": {"piano": {"measures": {"1": BAR1}}}}}).json["id"]
    assert client.post(f"{P}/blue-dot/branches", headers=h, json={"name": "idea"}).status_code == 201
    main = client.post(f"{P}/blue-dot/commits", headers=h, json={"parent": head, "message": "bass clef", "changes": {
        "parts": {"piano": {"measures": {"1": "0 clef=F4 ; " + BAR1}}}}}).json["id"]
    idea = client.get(f"{P}/blue-dot?rev=idea", headers=h).json["version"]["id"]
    client.post(f"{P}/blue-dot/commits", headers=h, json={"branch": "idea", "parent": idea, "message": "alto clef",
                                                          "changes": {"parts": {"piano": {"measures": {
                                                              "1": [{"kind": "clef", "onset": "0", "value": "C3"}]
                                                              + [{"onset": "0", "pitch": "C4", "duration": "1",
                                                                  "velocity": 80, "articulations": ["tenuto"]}]
                                                              + BAR1.split(" ; ")[1:]}}}}})
    d = client.get(f"{P}/blue-dot/diff?from=main&to=idea", headers=h).json
    changed = d["parts"][0]["measures"][0]["changed"]
    assert {c["to"]["kind"] for c in changed} == {"clef", "note"}
    assert "clef F4 -> clef C3" in client.get(f"{P}/blue-dot/diff?from=main&to=idea&format=text", headers=h).get_data(True)
    (c,) = client.post(f"{P}/blue-dot/merge/preview", headers=h, json={"source": "idea"}).json["conflicts"]
    assert c["place"]["lane"] == "clef"
    r = client.post(f"{P}/blue-dot/merge", headers=h, json={"source": "idea", "expected_target": main,
                                                            "resolutions": {c["id"]: "theirs"}})
    assert r.status_code == 201, r.json
    text = client.get(f"{P}/blue-dot?text=1", headers=h).json["files"]["parts/piano.txt"]
    assert "1| 0 clef=C3 ; 0 C4 1 v80 art=tenuto ; 1 E4 1 v80" in text
    bad = client.post(f"{P}/blue-dot/commits", headers=h, json={"parent": r.json["id"], "message": "x", "changes": {
        "parts": {"piano": {"measures": {"2": "0 clef=Z9"}}}}})
    assert bad.status_code == 400 and bad.json["code"] == "bad_events" and "not a clef" in bad.json["message"]
