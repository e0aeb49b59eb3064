"""Store, history, branches, tags, diff, merge (clean, conflicting, resolved, criss-cross)."""
from __future__ import annotations

import json
import threading

import pytest

from companion.compositions import service as S
from companion.errors import Conflict, InvalidInput, NotFound

C = "blue-dot"


def commit(store, band, who, branch, measures, part="piano", msg="change", parent=None):
    return S.commit_change(store, band, who, C, branch, parent, msg, {"parts": {part: {"measures": measures}}})["id"]


def part_line(store, band, actor, rev, part, m):
    files = S.get_composition(store, band, actor, C, rev, with_text=True)["files"]
    for line in files[f"parts/{part}.txt"].splitlines():
        if line.startswith(f"{m}|"):
            return line.partition("|")[2].strip()


def test_commits_are_authored_and_history_per_part_and_measure(store, band, actors, song):
    ivory = actors["ivory"]
    hist = S.history(store, band, ivory, C)
    assert [h["author"] for h in hist] == ["crash", "ivory", "ivory"]
    assert hist[0]["message"] == "Bass"
    assert [h["message"] for h in S.history(store, band, ivory, C, part="bass")] == ["Bass", "Create Blue Dot"]
    commit(store, band, ivory, "main", {"2": "0 D4 1 v80 ; 1 E4 1 v80 ; 2 F4 2 v80"}, msg="Passing tone in bar 2")
    h2 = S.history(store, band, ivory, C, part="piano", measure=2)
    assert [h["message"] for h in h2] == ["Passing tone in bar 2", "First ideas"]
    assert h2[0]["measure"]["before"] == "0 D4 2 v80 ; 2 F4 2 v80"
    assert S.history(store, band, ivory, C, part="piano", measure=1)[0]["message"] == "First ideas"
    with pytest.raises(NotFound):
        S.history(store, band, ivory, C, part="nope")


def test_stale_parent_gets_409_with_head_and_nothing_is_lost(store, band, actors, song):
    ivory = actors["ivory"]
    new = commit(store, band, ivory, "main", {"3": "0 E4 4 v80"}, parent=song)
    with pytest.raises(Conflict) as exc:
        commit(store, band, ivory, "main", {"3": "0 G4 4 v80"}, parent=song)
    assert exc.value.details["head"] == new
    assert part_line(store, band, ivory, "main", "piano", 3) == "0 E4 4 v80"


def test_concurrent_writers_never_lose_an_update(store, band, actors, song):
    ivory = actors["ivory"]
    results = []

    def write(i):
        try:
            results.append(commit(store, band, ivory, "main", {str(1 + i % 4): f"0 C{i % 5 + 3} 1 v{60 + i}"}, parent=song))
        except Conflict:
            results.append("409")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("409") == 7 and len(results) == 8
    winner = [r for r in results if r != "409"][0]
    assert S.get_composition(store, band, ivory, C)["version"]["id"] == winner


def test_branches_tags_and_unknown_branch(store, band, actors, song):
    ivory = actors["ivory"]
    S.create_branch(store, band, ivory, C, "experiment")
    assert [b["name"] for b in S.list_branches(store, band, ivory, C)] == ["experiment", "main"]
    with pytest.raises(Conflict):
        S.create_branch(store, band, ivory, C, "experiment")
    with pytest.raises(InvalidInput):
        S.create_branch(store, band, ivory, C, "../evil")
    with pytest.raises(NotFound):
        commit(store, band, ivory, "nope", {"1": "0 C4 1 v80"})
    with pytest.raises(NotFound):
        S.diff(store, band, ivory, C, "main", "nope")
    S.create_tag(store, band, ivory, C, "v1.0", "main", "First release")
    assert S.list_tags(store, band, ivory, C)[0]["commit"] == song
    data, mime, name = S.export(store, band, ivory, C, "v1.0", "midi")
    assert data[:4] == b"MThd" and name.endswith(".mid")
    S.delete_branch(store, band, ivory, C, "experiment")
    assert [b["name"] for b in S.list_branches(store, band, ivory, C)] == ["main"]
    with pytest.raises(InvalidInput):
        S.delete_branch(store, band, ivory, C, "main")


def test_export_formats(store, band, actors, song):
    import zipfile, io
    data, _, _ = S.export(store, band, actors["ivory"], C, "main", "canonical")
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert f"{C}/composition.json" in names and f"{C}/parts/piano.txt" in names
    xml, _, _ = S.export(store, band, actors["ivory"], C, song[:10], "musicxml")
    assert b"<score-partwise" in xml
    with pytest.raises(InvalidInput):
        S.export(store, band, actors["ivory"], C, "main", "mp3")


def test_diff_reports_notes_by_part_and_measure(store, band, actors, song):
    ivory = actors["ivory"]
    commit(store, band, ivory, "main", {"1": "0 C4 1 v100 ; 1 Eb4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80 ; 3 E5 1 v80"})
    S.commit_change(store, band, ivory, C, "main", None, "tempo", {"global": {"measures": {"1": "0 tempo 600000us"}}})
    d = S.diff(store, band, ivory, C, song, "main")
    (part,) = d["parts"]
    assert part["part"] == "piano"
    (m,) = part["measures"]
    assert m["measure"] == 1
    assert [e["pitch"] for e in m["added"]] == ["E5"]
    changed = {(c["from"]["pitch"], c["to"]["pitch"]): c["fields"] for c in m["changed"]}
    assert changed == {("C4", "C4"): ["velocity"], ("E4", "Eb4"): ["pitch"]}
    assert d["global"][0]["event"]["kind"] == "tempo"
    assert d["summary"]["notes_added"] == 1 and d["summary"]["notes_changed"] == 2
    text = S.diff_text(d)
    assert "bar 1" in text and "E4 (1q, v80) -> Eb4 (1q, v80)" in text and "tempo 100.0 bpm" in text


def _merge_setup(store, band, actors, song, ours, theirs, part="piano"):
    ivory = actors["ivory"]
    S.create_branch(store, band, ivory, C, "idea")
    commit(store, band, ivory, "main", ours, part=part)
    commit(store, band, ivory, "idea", theirs, part=part)


def test_clean_merge_of_different_notes_in_one_measure(store, band, actors, song):
    # main changes beat 1, idea changes beat 3 of the same bar; plus a different part
    _merge_setup(store, band, actors, song, {"1": "0 C4 1 v100 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80"},
                 {"1": "0 C4 1 v80 ; 1 E4 1 v80 ; 2 A4 1 v80 ; 3 C5 1 v80"})
    commit(store, band, actors["crash"], "idea", {"3": "0 E2 4 v90"}, part="bass")
    pv = S.merge_preview(store, band, actors["ivory"], C, "idea", "main")
    assert pv["status"] == "merge" and pv["conflicts"] == []
    res = S.merge(store, band, actors["ivory"], C, "idea", "main", message="Merge idea")
    assert part_line(store, band, actors["ivory"], "main", "piano", 1) == "0 C4 1 v100 ; 1 E4 1 v80 ; 2 A4 1 v80 ; 3 C5 1 v80"
    assert part_line(store, band, actors["ivory"], "main", "bass", 3) == "0 E2 4 v90"
    hist = S.history(store, band, actors["ivory"], C)
    assert len(hist[0]["parents"]) == 2 and hist[0]["id"] == res["id"]


def test_two_notes_of_one_chord_merge_cleanly(store, band, actors, song):
    _merge_setup(store, band, actors, song, {"2": "0 D4 2 v80 ; 0 F4 2 v80 ; 2 F4 2 v80"},
                 {"2": "0 D4 2 v80 ; 0 F4 2 v80 ; 2 F4 2 v80"})
    # identical changes on both sides merge cleanly too
    assert S.merge_preview(store, band, actors["ivory"], C, "idea", "main")["conflicts"] == []


def test_conflict_reports_place_and_both_sides_then_resolves(store, band, actors, song):
    _merge_setup(store, band, actors, song, {"1": "0 C4 1 v80 ; 1 F4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80"},
                 {"1": "0 C4 1 v80 ; 1 Eb4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80"})
    pv = S.merge_preview(store, band, actors["ivory"], C, "idea", "main")
    (c,) = pv["conflicts"]
    assert c["place"] == {"part": "piano", "measure": 1, "beat": "1", "beat_number": 2.0, "voice": 1}
    assert [n["pitch"] for n in c["base"]] == ["E4"]
    assert [n["pitch"] for n in c["ours"]] == ["F4"] and [n["pitch"] for n in c["theirs"]] == ["Eb4"]
    with pytest.raises(Conflict) as exc:
        S.merge(store, band, actors["ivory"], C, "idea", "main")
    assert exc.value.details["conflicts"][0]["id"] == c["id"]
    head_before = S.get_composition(store, band, actors["ivory"], C)["version"]["id"]
    assert head_before == exc.value.details["target_head"]
    # resolve with given notes
    S.merge(store, band, actors["ivory"], C, "idea", "main",
            resolutions={c["id"]: {"notes": [{"onset": "1", "pitch": "F#4", "duration": "1", "velocity": 70}]}})
    assert part_line(store, band, actors["ivory"], "main", "piano", 1) == "0 C4 1 v80 ; 1 F#4 1 v70 ; 2 G4 1 v80 ; 3 C5 1 v80"


@pytest.mark.parametrize("choice,pitch", [("ours", "F4"), ("theirs", "Eb4")])
def test_resolve_ours_or_theirs(store, band, actors, song, choice, pitch):
    _merge_setup(store, band, actors, song, {"1": "0 C4 1 v80 ; 1 F4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80"},
                 {"1": "0 C4 1 v80 ; 1 Eb4 1 v80 ; 2 G4 1 v80 ; 3 C5 2 v80"})
    (c,) = S.merge_preview(store, band, actors["ivory"], C, "idea", "main")["conflicts"]
    S.merge(store, band, actors["ivory"], C, "idea", "main", resolutions={c["id"]: choice})
    assert part_line(store, band, actors["ivory"], "main", "piano", 1) == f"0 C4 1 v80 ; 1 {pitch} 1 v80 ; 2 G4 1 v80 ; 3 C5 2 v80"


def test_merge_is_deterministic(store, band, actors, song):
    _merge_setup(store, band, actors, song, {"1": "0 C4 1 v80 ; 1 F4 1 v80 ; 3 B4 1 v80"},
                 {"1": "0 C4 1 v80 ; 1 Eb4 1 v80 ; 2 A4 1 v80"})
    a = S.merge_preview(store, band, actors["ivory"], C, "idea", "main")
    b = S.merge_preview(store, band, actors["ivory"], C, "idea", "main")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_criss_cross_history_merges(store, band, actors, song):
    ivory = actors["ivory"]
    S.create_branch(store, band, ivory, C, "idea")
    commit(store, band, ivory, "main", {"3": "0 E4 4 v80"})
    commit(store, band, ivory, "idea", {"4": "0 C4 4 v80"})
    a = S.get_composition(store, band, ivory, C, "main")["version"]["id"]
    b = S.get_composition(store, band, ivory, C, "idea")["version"]["id"]
    # criss-cross: each branch merges the other's old head
    S.create_branch(store, band, ivory, C, "a-old", a)
    S.create_branch(store, band, ivory, C, "b-old", b)
    S.merge(store, band, ivory, C, "b-old", "main")
    S.merge(store, band, ivory, C, "a-old", "idea")
    commit(store, band, ivory, "main", {"1": "0 C4 1 v100 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80"})
    commit(store, band, ivory, "idea", {"2": "0 D4 2 v80 ; 2 A4 2 v80"})
    pv = S.merge_preview(store, band, ivory, C, "idea", "main")
    assert len(pv["bases"]) == 2 and pv["conflicts"] == []
    S.merge(store, band, ivory, C, "idea", "main")
    assert part_line(store, band, ivory, "main", "piano", 1).startswith("0 C4 1 v100")
    assert part_line(store, band, ivory, "main", "piano", 2) == "0 D4 2 v80 ; 2 A4 2 v80"
    assert part_line(store, band, ivory, "main", "piano", 3) == "0 E4 4 v80"
    assert part_line(store, band, ivory, "main", "piano", 4) == "0 C4 4 v80"


def test_fast_forward_and_up_to_date(store, band, actors, song):
    ivory = actors["ivory"]
    S.create_branch(store, band, ivory, C, "idea")
    assert S.merge(store, band, ivory, C, "idea", "main")["status"] == "up_to_date"
    new = commit(store, band, ivory, "idea", {"4": "0 C4 4 v80"})
    r = S.merge(store, band, ivory, C, "idea", "main")
    assert r["status"] == "fast_forward" and S.get_composition(store, band, ivory, C)["version"]["id"] == new


def test_bad_change_text_is_400_and_nothing_written(store, band, actors, song):
    with pytest.raises(InvalidInput):
        commit(store, band, actors["ivory"], "main", {"1": "0 H4 1 v80"})
    with pytest.raises(InvalidInput):
        commit(store, band, actors["ivory"], "main", {"1": "0 C4 1 v300"})
    assert S.get_composition(store, band, actors["ivory"], C)["version"]["id"] == song


def test_a_commit_checks_the_measures_it_changes_and_keeps_the_others_as_they_were(store, band, actors, song):
    """A commit parses only the measures whose text changed (the rest were checked when committed):
    a bad measure among unchanged ones is still refused, in a measure edit and in a whole part's text,
    and the canonical text of a changed measure is written while the others stay byte for byte."""
    ivory = actors["ivory"]
    before = S.get_composition(store, band, ivory, C, "main", with_text=True)["files"]["parts/piano.txt"]
    with pytest.raises(InvalidInput) as exc:
        commit(store, band, ivory, "main", {"4": "0 C4 1 v80 ; 1 H9 1 v80"})
    assert exc.value.code == "bad_events"
    text = before.replace("\n2|", "\n2| 0 C4 1 v300 ;", 1) if "\n2|" in before else None
    assert text is not None and text != before
    with pytest.raises(InvalidInput) as exc:
        S.commit_change(store, band, ivory, C, "main", None, "bad", {"parts": {"piano": {"text": text}}})
    assert exc.value.code == "bad_composition"
    assert S.get_composition(store, band, ivory, C, "main", with_text=True)["files"]["parts/piano.txt"] == before
    commit(store, band, ivory, "main", {"3": "  1   E4  1  v80 ; 0 C4 1 v80  "})
    after = S.get_composition(store, band, ivory, C, "main", with_text=True)["files"]["parts/piano.txt"]
    assert part_line(store, band, ivory, "main", "piano", 3) == "0 C4 1 v80 ; 1 E4 1 v80"
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert [b.partition("|")[0] for _, b in changed] == ["3"], changed
