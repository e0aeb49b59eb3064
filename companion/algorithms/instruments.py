"""Instrument definition files: what each member's instrument can do and how it is rendered.

One TOML file per member instrument in ``companion/algorithms/instruments/`` (format in
docs/instrument-definition.md, JSON schema in docs/instrument-definition.schema.json). A file
declares the range, polyphony and articulations the algorithms must respect, the General MIDI
program for the FluidSynth engine, the SuperCollider SynthDef (a built-in name, or a voice
defined in the file) with its parameters, and mix defaults (gain, pan, reverb send).
"""
from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compositions.model import FormatError, pitch_to_midi

FORMAT_NAME = "scripthammer-instrument"
FORMAT_VERSION = 1
INSTRUMENTS_DIR = Path(__file__).parent / "instruments"
ENGINES = ("fluidsynth", "supercollider")
BUILTIN_SYNTHDEFS = ("sh_epiano", "sh_polysynth", "sh_kit", "sh_fuzz_guitar", "sh_reed", "sh_brass", "sh_vocoder",
                     "sh_bass")
OSCILLATORS = ("saw", "pulse", "sine", "tri", "fm")
FILTERS = ("lpf", "rlpf", "bpf", "none")
ARTICULATIONS = ("legato", "staccato", "accent", "ghost", "sustain", "palm-mute", "dead-note", "bend", "vibrato",
                 "fall", "rip", "growl", "breath", "flam", "roll", "choke", "spoken", "sung", "stab", "swell")

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://scripthammer.invalid/schemas/instrument-definition.schema.json",
    "title": "ScriptHammer instrument definition, version 1",
    "type": "object",
    "required": ["format", "version", "id", "member", "name", "part_kind", "range", "polyphony", "engine",
                 "fluidsynth", "supercollider", "mix"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT_NAME},
        "version": {"const": FORMAT_VERSION},
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
        "member": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "part_kind": {"enum": ["melody", "arrangement", "rhythm", "harmony", "lead", "vocals", "form"]},
        "part": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
        "channel": {"type": "integer", "minimum": 0, "maximum": 15},
        "percussion": {"type": "boolean"},
        "range": {"type": "object", "additionalProperties": False, "required": ["low", "high"],
                  "properties": {k: {"type": "string", "pattern": "^[A-G](##|#|bb|b)?-?[0-9]$"}
                                 for k in ("low", "high", "comfortable_low", "comfortable_high")}},
        "polyphony": {"type": "integer", "minimum": 0, "maximum": 128},
        "articulations": {"type": "array", "items": {"enum": list(ARTICULATIONS)}, "uniqueItems": True},
        "engine": {"enum": list(ENGINES)},
        "fluidsynth": {"type": "object", "additionalProperties": False, "required": ["program"],
                       "properties": {"program": {"type": "integer", "minimum": 0, "maximum": 127},
                                      "bank": {"type": "integer", "minimum": 0, "maximum": 128},
                                      "gain": {"type": "number", "minimum": 0, "maximum": 10}}},
        "supercollider": {
            "type": "object", "additionalProperties": False, "required": ["synthdef"],
            "properties": {
                "synthdef": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                "params": {"type": "object", "additionalProperties": {"type": "number"}},
                "define": {
                    "type": "object", "additionalProperties": False, "required": ["oscillator"],
                    "properties": {
                        "oscillator": {"enum": list(OSCILLATORS)},
                        "detune_cents": {"type": "number", "minimum": 0, "maximum": 100},
                        "voices": {"type": "integer", "minimum": 1, "maximum": 4},
                        "filter": {"enum": list(FILTERS)},
                        "cutoff_hz": {"type": "number", "minimum": 20, "maximum": 20000},
                        "resonance": {"type": "number", "minimum": 0.05, "maximum": 1},
                        "filter_env": {"type": "number", "minimum": 0, "maximum": 8},
                        "attack": {"type": "number", "minimum": 0, "maximum": 5},
                        "decay": {"type": "number", "minimum": 0, "maximum": 5},
                        "sustain": {"type": "number", "minimum": 0, "maximum": 1},
                        "release": {"type": "number", "minimum": 0, "maximum": 10},
                        "vibrato_hz": {"type": "number", "minimum": 0, "maximum": 12},
                        "vibrato_depth": {"type": "number", "minimum": 0, "maximum": 1},
                        "drive": {"type": "number", "minimum": 0, "maximum": 20},
                    }},
            }},
        "mix": {"type": "object", "additionalProperties": False, "required": ["gain_db", "pan", "reverb_send"],
                "properties": {"gain_db": {"type": "number", "minimum": -60, "maximum": 12},
                               "pan": {"type": "number", "minimum": -1, "maximum": 1},
                               "reverb_send": {"type": "number", "minimum": 0, "maximum": 1}}},
        "bus": {"type": "object", "additionalProperties": False,
                "properties": {"reverb_seconds": {"type": "number", "minimum": 0.1, "maximum": 10},
                               "reverb_predelay_ms": {"type": "number", "minimum": 0, "maximum": 200},
                               "limiter_ceiling_db": {"type": "number", "minimum": -12, "maximum": 0},
                               "loudness_target_lufs": {"type": "number", "minimum": -30, "maximum": -6}}},
    },
}


class InstrumentError(ValueError):
    """An instrument definition file that breaks the format (the message names file and field)."""


@dataclass(frozen=True)
class Instrument:
    id: str
    member: str
    name: str
    part_kind: str
    part: str
    channel: int
    percussion: bool
    low: int
    high: int
    comfortable_low: int
    comfortable_high: int
    polyphony: int
    articulations: tuple[str, ...]
    engine: str
    program: int
    bank: int
    synthdef: str
    sc_params: dict[str, float]
    sc_define: dict[str, Any] | None
    gain_db: float
    pan: float
    reverb_send: float
    bus: dict[str, float] = field(default_factory=dict)
    description: str = ""
    source: str = ""  # the file's text, as written (bundled into SHF files)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def in_range(self, midi: int) -> bool:
        return self.low <= midi <= self.high


def _err(where: str, msg: str) -> InstrumentError:
    return InstrumentError(f"{where}: {msg}")


def _check(schema: dict, value: Any, path: str, where: str) -> None:
    """A small validator for the subset of JSON Schema :data:`SCHEMA` uses (no dependency)."""
    if "const" in schema and value != schema["const"]:
        raise _err(where, f"{path} must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise _err(where, f"{path} must be one of {', '.join(map(str, schema['enum']))} (not {value!r})")
    t = schema.get("type")
    if t == "object":
        if not isinstance(value, dict):
            raise _err(where, f"{path} must be a table")
        for k in schema.get("required", ()):
            if k not in value:
                raise _err(where, f"{path}.{k} is required")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                _check(props[k], v, f"{path}.{k}", where)
            elif schema.get("additionalProperties") is False:
                raise _err(where, f"{path}.{k} is not a known field")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(schema["additionalProperties"], v, f"{path}.{k}", where)
    elif t == "array":
        if not isinstance(value, list):
            raise _err(where, f"{path} must be a list")
        if schema.get("uniqueItems") and len(set(map(str, value))) != len(value):
            raise _err(where, f"{path} has duplicates")
        for i, v in enumerate(value):
            _check(schema.get("items", {}), v, f"{path}[{i}]", where)
    elif t == "string":
        import re
        if not isinstance(value, str):
            raise _err(where, f"{path} must be a string")
        if len(value) < schema.get("minLength", 0):
            raise _err(where, f"{path} must not be empty")
        if "pattern" in schema and not re.match(schema["pattern"], value):
            raise _err(where, f"{path} {value!r} does not match {schema['pattern']}")
    elif t in ("integer", "number"):
        ok = isinstance(value, int) if t == "integer" else isinstance(value, (int, float))
        if not ok or isinstance(value, bool):
            raise _err(where, f"{path} must be a{'n integer' if t == 'integer' else ' number'}")
        if "minimum" in schema and value < schema["minimum"]:
            raise _err(where, f"{path} must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise _err(where, f"{path} must be <= {schema['maximum']}")
    elif t == "boolean" and not isinstance(value, bool):
        raise _err(where, f"{path} must be true or false")


def parse_instrument(text: str, where: str = "<instrument>") -> Instrument:
    """Parse and validate one instrument definition (TOML text); raises InstrumentError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _err(where, f"not TOML: {exc}") from None
    _check(SCHEMA, data, "instrument", where)
    rng = data["range"]
    try:
        low, high = pitch_to_midi(rng["low"]), pitch_to_midi(rng["high"])
        clow = pitch_to_midi(rng.get("comfortable_low", rng["low"]))
        chigh = pitch_to_midi(rng.get("comfortable_high", rng["high"]))
    except FormatError as exc:
        raise _err(where, f"range: {exc}") from None
    if not (0 <= low <= clow < chigh <= high <= 127):
        raise _err(where, "range: need low <= comfortable_low < comfortable_high <= high within MIDI 0..127")
    sc = data["supercollider"]
    if "define" not in sc and sc["synthdef"] not in BUILTIN_SYNTHDEFS:
        raise _err(where, f"supercollider.synthdef {sc['synthdef']!r} is not built in "
                          f"({', '.join(BUILTIN_SYNTHDEFS)}); define it with [supercollider.define]")
    if "define" in sc and sc["synthdef"] in BUILTIN_SYNTHDEFS:
        raise _err(where, f"supercollider.synthdef {sc['synthdef']!r} is a built-in name; pick another name")
    percussion = bool(data.get("percussion", False))
    channel = int(data.get("channel", 9 if percussion else 0))
    if percussion != (channel == 9):
        raise _err(where, "percussion instruments use MIDI channel 9 (General MIDI drums), others do not")
    return Instrument(
        id=data["id"], member=data["member"], name=data["name"], part_kind=data["part_kind"],
        part=data.get("part", data["id"]), channel=channel, percussion=percussion, low=low, high=high,
        comfortable_low=clow, comfortable_high=chigh, polyphony=data["polyphony"],
        articulations=tuple(data.get("articulations", ())), engine=data["engine"],
        program=data["fluidsynth"]["program"], bank=data["fluidsynth"].get("bank", 128 if percussion else 0),
        synthdef=sc["synthdef"], sc_params=dict(sc.get("params", {})), sc_define=sc.get("define"),
        gain_db=float(data["mix"]["gain_db"]), pan=float(data["mix"]["pan"]),
        reverb_send=float(data["mix"]["reverb_send"]), bus=dict(data.get("bus", {})),
        description=data.get("description", ""), source=text)


def load_instrument(path: str | Path) -> Instrument:
    p = Path(path)
    return parse_instrument(p.read_text(encoding="utf-8"), where=p.name)


@functools.lru_cache(maxsize=4)
def _load_dir(path: str, stamp: tuple) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for f in sorted(Path(path).glob("*.toml")):
        inst = load_instrument(f)
        if inst.id in out:
            raise InstrumentError(f"{f.name}: instrument id {inst.id!r} is defined twice")
        out[inst.id] = inst
    return out


def load_instruments(directory: str | Path | None = None) -> dict[str, Instrument]:
    """Every instrument definition in ``directory`` (default: the band's), by id (validated, cached)."""
    d = Path(directory or INSTRUMENTS_DIR)
    stamp = tuple((f.name, f.stat().st_mtime_ns) for f in sorted(d.glob("*.toml")))
    return dict(_load_dir(str(d), stamp))


def by_part(instruments: dict[str, Instrument]) -> dict[str, Instrument]:
    return {i.part: i for i in instruments.values()}


def instruments_digest(instruments: dict[str, Instrument]) -> str:
    """One hash of every definition's text (part of the render cache key)."""
    h = hashlib.sha256()
    for k in sorted(instruments):
        h.update(k.encode() + b"\0" + instruments[k].source.encode() + b"\0")
    return h.hexdigest()
