"""Instrument definition files: every shipped file is valid, the schema in docs matches, bad files are refused."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from companion.algorithms.instruments import (SCHEMA_FILE, InstrumentError, INSTRUMENTS_DIR, load_instruments,
                                              parse_instrument)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_member_has_an_instrument():
    insts = load_instruments()
    assert {i.member for i in insts.values()} == {"ivory", "crash", "chops", "reed", "brass", "verse", "form"}
    engines = {i.engine for i in insts.values()}
    assert engines == {"fluidsynth", "supercollider"}
    assert insts["crash-drums"].channel == 9 and insts["crash-drums"].percussion
    assert len({i.channel for i in insts.values()}) == len(insts)  # one MIDI channel per part


def test_files_are_validated_against_the_published_json_schema():
    import tomllib
    published = DOCS / "instrument-definition.schema.json"
    assert published.resolve().samefile(SCHEMA_FILE)  # one schema: the docs show the file the loader uses
    schema = json.loads(published.read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    for f in sorted(INSTRUMENTS_DIR.glob("*.toml")):
        jsonschema.validate(tomllib.loads(f.read_text()), schema)


def test_a_rule_only_the_schema_states_is_enforced():
    # the schema's own limits (no Python code repeats them): mix.reverb_send <= 1, bus limits, name not empty
    assert "reverb_send" in json.dumps(json.loads(SCHEMA_FILE.read_text())["properties"]["mix"])
    with pytest.raises(InstrumentError, match=r"reed.toml: instrument.mix.reverb_send must be <= 1"):
        parse_instrument(BASE.replace("reverb_send = ", "reverb_send = 1") , "reed.toml")
    with pytest.raises(InstrumentError, match=r"instrument.name must not be empty"):
        parse_instrument(BASE.replace('name = "Alto saxophone"', 'name = ""'), "reed.toml")
    with pytest.raises(InstrumentError, match=r"instrument.mix.gain_db is required"):
        parse_instrument(BASE.replace("gain_db = -2.0\n", ""), "reed.toml")


BASE = (INSTRUMENTS_DIR / "reed-alto-sax.toml").read_text()


@pytest.mark.parametrize("change, message", [
    (("version = 1", "version = 2"), "version must be 1"),
    (('low = "Db3"', 'low = "H3"'), "range.low"),
    (('low = "Db3"', 'low = "C6"'), "range"),
    (("polyphony = 1", "polyphony = -1"), "polyphony must be >= 0"),
    (('synthdef = "sh_reed"', 'synthdef = "sh_nothing"'), "is not built in"),
    (("program = 65", "program = 300"), "program must be <= 127"),
    (("pan = -0.3", "pan = -3"), "mix.pan"),
    (('engine = "fluidsynth"', 'engine = "csound"'), "engine must be one of"),
    (('articulations = ["legato"', 'articulations = ["moonwalk"'), "articulations[0]"),
    (("channel = 3", "channel = 9"), "percussion"),
    (("[mix]", "surprise = 1\n[mix]"), "not a known field"),
])
def test_bad_files_are_refused_with_the_field_named(change, message):
    text = BASE.replace(*change)
    assert text != BASE
    with pytest.raises(InstrumentError) as info:
        parse_instrument(text, "reed.toml")
    assert message in str(info.value) and "reed.toml" in str(info.value)


def test_a_synthdef_defined_in_the_file():
    inst = load_instruments()["ivory-synth"]
    assert inst.sc_define["oscillator"] == "pulse" and inst.synthdef == "ivory_juno"
    bad = (INSTRUMENTS_DIR / "ivory-synth.toml").read_text().replace('oscillator = "pulse"', 'oscillator = "laser"')
    with pytest.raises(InstrumentError):
        parse_instrument(bad)
