"""Stored compositions made with the format-1 code keep working: read, exported, committed to
(which upgrades them to format 2 without touching anyone else's part), diffed, merged, and
upgraded ahead with ``scripthammer compositions migrate``.

The version-1 store (tests/compositions/data/format1-store.tar.gz) was made by the companion's own
code as it was before format 2, not by hand: ``python tests/compositions/test_migration.py`` makes it
again from this repository's history (``git archive`` of the commit before format 2, run in a
subprocess with MAKE_V1 below). The suite reads the stored copy, so it needs no git history (CI may
clone shallow)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from companion.compositions import service as S
from companion.compositions.model import measure_lines
from companion.compositions.store import Store
from companion.errors import InvalidInput

REPO = Path(__file__).resolve().parents[2]

MAKE_V1 = r'''
import json, sys
from pathlib import Path
from music21 import corpus
from companion.band.roster import load_band
from companion.compositions import service as S
from companion.compositions.model import FORMAT_VERSION
from companion.compositions.rights import member_actor
from companion.compositions.store import Store

assert FORMAT_VERSION == 1, FORMAT_VERSION
root, code = Path(sys.argv[1]), Path(sys.argv[2])
band = load_band(code / "companion" / "band" / "band.toml")
ivory, crash = member_actor(band, "ivory"), member_actor(band, "crash")
store = Store(root)
parts = [{"id": "piano", "name": "Piano", "kind": "melody", "owner": "ivory", "program": 0, "channel": 0},
         {"id": "bass", "name": "Bass", "kind": "rhythm", "owner": "crash", "program": 33, "channel": 1}]
r = S.create_composition(store, band, ivory, "Old Song", comp_id="old-song", parts=parts, measures=4)
c = S.commit_change(store, band, ivory, "old-song", "main", r["head"], "Piano", {"parts": {"piano": {"measures": {
    "1": "0 E4 2 v80 ; 2 C4 2 v80 tie=start", "2": "0 C4 1 v80 tie=stop ; 1 G4 3 v70", "3": "0 A4 4 v60 lyric=la"}}},
    "global": {"measures": {"1": "0 meter 4/4 ; 0 key F major ; 0 tempo 500000us"}}})
c = S.commit_change(store, band, crash, "old-song", "main", c["id"], "Bass", {"parts": {"bass": {"measures": {
    "1": "0 F2 4 v90", "2": "0 C2 4 v90"}}}})
S.create_branch(store, band, ivory, "old-song", "idea")
S.commit_change(store, band, ivory, "old-song", "idea", None, "Idea", {"parts": {"piano": {"measures": {
    "4": "0 F4 4 v80"}}}})
S.create_tag(store, band, ivory, "old-song", "v1.0", "main", "First")
xml = Path(str(corpus.getWork("bach/bwv66.6"))).read_bytes()
S.import_file(store, band, ivory, xml, "musicxml", "bwv66.6.mxl", comp_id="old-chorale", title="Chorale")
print(json.dumps({"head": c["id"]}))
'''


def format1_code(tmp_path: Path) -> Path:
    """The companion package as it was just before format 2, from git history."""
    found = subprocess.run(["git", "-C", str(REPO), "log", "--format=%H", "-S", "FORMAT_VERSION = 2", "--",
                            "companion/compositions/model.py"], capture_output=True, text=True)
    assert found.returncode == 0, f"this test needs the repository's git history: {found.stderr}"
    first_v2 = found.stdout.split()[-1]  # the oldest commit that brought format 2
    archive = subprocess.run(["git", "-C", str(REPO), "archive", f"{first_v2}^", "companion"], capture_output=True)
    assert archive.returncode == 0, archive.stderr.decode()
    dest = tmp_path / "format1"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


DATA = Path(__file__).resolve().parent / "data"


def make_format1_store(tmp_path: Path) -> tuple[Path, str]:
    """A format-1 store made by the pre-format-2 code from git history; (root, head of main)."""
    code = format1_code(tmp_path)
    root = tmp_path / "compositions"
    env = {**os.environ, "PYTHONPATH": str(code)}
    made = subprocess.run([sys.executable, "-c", MAKE_V1, str(root), str(code)], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    return root, json.loads(made.stdout.strip().splitlines()[-1])["head"]


@pytest.fixture
def v1_store(tmp_path):
    with tarfile.open(DATA / "format1-store.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    head = json.loads((DATA / "format1-store.json").read_text())["head"]
    return Store(tmp_path / "compositions"), head


def files_at(store, band, who, comp, rev="main"):
    return {k: v.encode() for k, v in S.get_composition(store, band, who, comp, rev, with_text=True)["files"].items()}


def test_a_format_1_composition_reads_exports_commits_diffs_and_merges(v1_store, band, actors):
    store, v1_head = v1_store
    ivory, crash = actors["ivory"], actors["crash"]
    got = S.get_composition(store, band, ivory, "old-song", with_text=True)
    assert got["format_version"] == 1 and got["version"]["id"] == v1_head
    assert got["files"]["parts/piano.txt"].startswith("# scripthammer-composition v1")
    # read and exported by the new code; the tied C4 is one MIDI note
    midi, _, _ = S.export(store, band, ivory, "old-song", "v1.0", "midi")
    import mido
    ons = [m.note for tr in mido.MidiFile(file=io.BytesIO(midi)).tracks for m in tr if m.type == "note_on" and m.velocity]
    assert ons.count(60) == 1 and sorted(ons) == [36, 41, 60, 64, 67, 69]
    xml, _, _ = S.export(store, band, ivory, "old-chorale", None, "musicxml")
    assert b"<score-partwise" in xml
    # Crash commits to his part only: allowed, and the upgrade of every file touches nobody else's part
    res = S.commit_change(store, band, crash, "old-song", "main", v1_head, "Walking bass",
                          {"parts": {"bass": {"measures": {"3": "0 D2 2 v90 ; 2 E2 2 v90"}}}})
    assert res["touched"] == ["bass"]
    after = files_at(store, band, ivory, "old-song")
    assert json.loads(after["composition.json"])["version"] == 2
    assert all(after[p].startswith(b"# scripthammer-composition v2") for p in after if p.endswith(".txt"))
    before = files_at(store, band, ivory, "old-song", v1_head)
    assert measure_lines(after["parts/piano.txt"].decode()) == measure_lines(before["parts/piano.txt"].decode())
    assert measure_lines(after["global.txt"].decode()) == measure_lines(before["global.txt"].decode())
    # the diff shows Crash's bar, and the upgrade only as a format change
    d = S.diff(store, band, ivory, "old-song", v1_head, "main")
    assert d["metadata"] == [] and d["format"] == {"from": 1, "to": 2}
    assert [(p["part"], [m["measure"] for m in p["measures"]]) for p in d["parts"]] == [("bass", [3])]
    assert d["global"] == [] and "format version 1 -> 2" in S.diff_text(d)
    # per-part history does not count the upgrade as a change to the piano
    assert [h["message"] for h in S.history(store, band, ivory, "old-song", part="piano")] == ["Piano", "Create Old Song"]
    assert S.history(store, band, ivory, "old-song", part="bass", measure=3)[0]["author"] == "crash"
    # a commit that would only upgrade changes nothing
    with pytest.raises(InvalidInput) as exc:
        S.commit_change(store, band, ivory, "old-song", "idea", None, "nothing", {"parts": {"piano": {"measures": {
            "4": "0 F4 4 v80"}}}})
    assert exc.value.code == "no_change"
    # the old branch (format 1) merges into the upgraded main cleanly
    pv = S.merge_preview(store, band, ivory, "old-song", "idea", "main")
    assert pv["status"] == "merge" and pv["conflicts"] == []
    S.merge(store, band, ivory, "old-song", "idea", "main")
    merged = files_at(store, band, ivory, "old-song")
    assert json.loads(merged["composition.json"])["version"] == 2
    lines = measure_lines(merged["parts/piano.txt"].decode())
    assert lines[4] == "0 F4 4 v80" and lines[3] == "0 A4 4 v60 lyric=la"
    assert measure_lines(merged["parts/bass.txt"].decode())[3] == "0 D2 2 v90 ; 2 E2 2 v90"


def test_migrate_command_upgrades_ahead_without_changing_the_music(v1_store, band, actors, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from companion.compositions.cli import compositions

    store, _ = v1_store
    monkeypatch.setenv("SCRIPTHAMMER_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SCRIPTHAMMER_COMPOSITIONS_DIR", str(store.root))
    from companion.config import Config
    assert Path(Config.from_env().compositions_dir) == store.root
    ivory = actors["ivory"]
    heads = {b["name"]: b["head"] for b in S.list_branches(store, band, ivory, "old-song")}
    chorale_before = files_at(store, band, ivory, "old-chorale")
    run = CliRunner().invoke
    dry = run(compositions, ["migrate", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "old-song\tmain\twould upgrade v1 -> v2" in dry.output and "old-chorale\tmain\twould upgrade" in dry.output
    assert {b["name"]: b["head"] for b in S.list_branches(store, band, ivory, "old-song")} == heads  # nothing written
    done = run(compositions, ["migrate", "old-song", "old-chorale"])
    assert done.exit_code == 0, done.output
    assert done.output.count("upgraded v1 -> v2") == 3  # old-song main and idea, old-chorale main
    again = run(compositions, ["migrate"])
    assert again.exit_code == 0 and again.output.count("\tcurrent") == 3
    top = S.history(store, band, ivory, "old-chorale")[0]
    assert top["message"] == "Upgrade to composition format v2" and top["author"] == band.leader
    after = files_at(store, band, ivory, "old-chorale")
    assert S.same_music(chorale_before, after) and json.loads(after["composition.json"])["version"] == 2
    d = S.diff(store, band, ivory, "old-chorale", top["parents"][0], top["id"])
    assert d["parts"] == [] and d["global"] == [] and d["metadata"] == [] and d["format"] == {"from": 1, "to": 2}
    assert S.get_composition(store, band, ivory, "old-song", "v1.0")["format_version"] == 1  # history stays as it was


def test_migrate_needs_the_right_to_write(v1_store, band, actors):
    from companion.errors import Forbidden, Unauthorized

    store, _ = v1_store
    with pytest.raises(Forbidden):
        S.migrate(store, band, actors["listener"], "old-song")
    with pytest.raises(Unauthorized):
        S.migrate(store, band, None, "old-song")
    assert S.get_composition(store, band, actors["ivory"], "old-song")["format_version"] == 1


if __name__ == "__main__":  # make tests/compositions/data/format1-store.tar.gz again
    import tempfile

    work = Path(tempfile.mkdtemp())
    root, head = make_format1_store(work)
    subprocess.run(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=2026-12-01 00:00Z",
                    "-czf", str(DATA / "format1-store.tar.gz"), "-C", str(work), "compositions"], check=True)
    (DATA / "format1-store.json").write_text(json.dumps({"head": head, "made_by": "the companion before format 2 "
                                                         "(git archive), with MAKE_V1 in this file"}) + "\n")
    print("wrote", DATA / "format1-store.tar.gz", head)

