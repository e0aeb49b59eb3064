"""The canonical text itself, its JSON schema, and the CLI group."""
from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import mido
import pytest

from companion.compositions.model import (Composition, Event, FormatError, parse_event, parse_events, pitch_to_midi,
                                          validate_metadata)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_pitch_spelling_and_midi():
    assert pitch_to_midi("C4") == 60 and pitch_to_midi("B#3") == 60 and pitch_to_midi("Dbb4") == 60
    assert pitch_to_midi("C-1") == 0 and pitch_to_midi("G9") == 127


def test_event_text_round_trip():
    for text in ["0 C4 1/2 v80", "1/3 Eb4 2/3 v100 ch3 off64 V2 tie=start lyric=la%20la lyric2=lo",
                 "3/2 cc64=127", "0 bend=-200 ch9", "2 dyn=mf", "0 G4 0 v64 grace", "7/4 poly60=20"]:
        assert parse_event(text).to_text() == text
    e = parse_event("1/3 Eb4 2/3 v100")
    assert e.onset == Fraction(1, 3) and e.midi == 63
    assert Event.from_dict(e.to_dict()) == e


@pytest.mark.parametrize("bad", ["0 H4 1 v80", "x C4 1 v80", "0 C4 1", "0 C4 1 v200", "0 C4 1 v80 foo",
                                 "0 wobble=3", "-1 C4 1 v80", "0 C4 1 v80 tie=maybe"])
def test_bad_event_text(bad):
    with pytest.raises(FormatError):
        parse_events(bad)


def test_canonical_order_makes_equal_music_equal_text():
    a = Composition(measures=1)
    from companion.compositions.model import Part
    a.parts = [Part(id="p")]
    a.set_events("p", 1, parse_events("1 E4 1 v80 ; 0 C4 1 v80 ; 0 G4 1 v80"))
    assert a.part_text("p").splitlines()[1] == "1| 0 C4 1 v80 ; 0 G4 1 v80 ; 1 E4 1 v80"


def test_metadata_matches_its_json_schema(store, band, actors, song):
    from companion.compositions import service as S
    files = S.get_composition(store, band, actors["ivory"], "blue-dot", with_text=True)["files"]
    meta = json.loads(files["composition.json"])
    validate_metadata(meta)
    schema = json.loads((DOCS / "composition-format.schema.json").read_text())
    import jsonschema
    jsonschema.validate(meta, schema)
    with pytest.raises(FormatError):
        validate_metadata({**meta, "version": 3})  # versions 1 and 2 are read; others refused


def test_cli_group(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from companion.compositions.cli import compositions
    monkeypatch.setenv("SCRIPTHAMMER_VAR_DIR", str(tmp_path))
    mid = mido.MidiFile(ticks_per_beat=96)
    t = mido.MidiTrack()
    mid.tracks.append(t)
    t.append(mido.MetaMessage("track_name", name="Bass"))
    t.append(mido.Message("note_on", note=36, velocity=90))
    t.append(mido.Message("note_off", note=36, time=96))
    path = tmp_path / "groove.mid"
    mid.save(str(path))
    run = CliRunner().invoke
    r = run(compositions, ["import", str(path), "--id", "groove", "--title", "Groove"])
    assert r.exit_code == 0, r.output
    assert "groove" in run(compositions, ["list"]).output
    assert run(compositions, ["branch", "groove", "idea"]).exit_code == 0
    assert "idea" in run(compositions, ["branch", "groove"]).output
    assert "Import groove.mid" in run(compositions, ["log", "groove"]).output
    out = tmp_path / "x.mid"
    assert run(compositions, ["export", "groove", "--format", "midi", "-o", str(out)]).exit_code == 0
    assert out.read_bytes()[:4] == b"MThd"
    r = run(compositions, ["merge", "groove", "idea", "--as", "crash"])
    assert r.exit_code == 1 and "merge_into_main" in r.output


def test_the_packaged_schema_is_the_documented_one():
    from importlib.resources import files

    packaged = files("companion.compositions").joinpath("composition-format.schema.json")
    documented = DOCS / "composition-format.schema.json"
    assert documented.is_symlink() and documented.resolve() == Path(str(packaged)).resolve()


@pytest.mark.parametrize("change, field, words", [
    (lambda m: m["parts"][0].update(program=200), "parts[0].program", "maximum"),
    (lambda m: m["parts"][1].update(channel=-1), "parts[1].channel", "minimum"),
    (lambda m: m["parts"][0].update(id="Bad Id"), "parts[0].id", "match"),
    (lambda m: m["parts"][0].pop("kind"), "parts[0]", "'kind' is a required property"),
    (lambda m: m.update(visibility="secret"), "visibility", "is not one of"),
    (lambda m: m.update(measures="4"), "measures", "is not of type 'integer'"),
    (lambda m: m.update(source={"kind": "midi", "ticks_per_beat": 0}), "source.ticks_per_beat", "minimum"),
    (lambda m: m.update(source={"kind": "abc"}), "source.kind", "is not one of"),
    (lambda m: m.pop("title"), "", "'title' is a required property"),
])
def test_metadata_errors_name_the_field_from_the_schema(change, field, words):
    from companion.compositions.model import Composition, Part

    comp = Composition(title="Schema", measures=2)
    comp.parts = [Part(id="piano", kind="melody"), Part(id="bass", kind="rhythm")]
    meta = json.loads(comp.to_files()["composition.json"])
    validate_metadata(meta)
    change(meta)
    with pytest.raises(FormatError) as info:
        validate_metadata(meta)
    assert info.value.message.startswith("composition.json: " + (field + ": " if field else ""))
    assert words in info.value.message
    assert info.value.details["field"] == (field or None)


def test_duplicate_part_ids_are_refused():
    from companion.compositions.model import Composition, Part

    comp = Composition(title="Twice", measures=1)
    comp.parts = [Part(id="piano", kind="melody")]
    meta = json.loads(comp.to_files()["composition.json"])
    meta["parts"].append(dict(meta["parts"][0]))
    with pytest.raises(FormatError, match="listed twice"):
        validate_metadata(meta)
