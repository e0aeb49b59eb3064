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
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ScriptHammerError through the composition model: a bundled copy of this module (SHF regeneration)
# reaches the companion only through ..compositions
from ..compositions.model import FormatError, ScriptHammerError, pitch_to_midi

FORMAT_NAME = "scripthammer-instrument"
FORMAT_VERSION = 1
INSTRUMENTS_DIR = Path(__file__).parent / "instruments"
BUILTIN_SYNTHDEFS = ("sh_epiano", "sh_polysynth", "sh_kit", "sh_fuzz_guitar", "sh_reed", "sh_brass", "sh_vocoder",
                     "sh_bass", "sh_sampler")
#: the SynthDef that plays the instrument's ``[[supercollider.samples]]`` from the sample library
SAMPLER = "sh_sampler"

#: the JSON Schema every file is validated against (docs/instrument-definition.schema.json links here)
SCHEMA_FILE = Path(__file__).with_name("instrument-definition.schema.json")
#: SHF bundles carry this module; inside the regenerate sandbox it is imported under this package,
#: where jsonschema cannot be imported (the sandbox refuses the modules it needs). There it reads the
#: instrument files of a bundle signed by a trusted key, and the trusted companion validates them
#: with this module before it re-renders (companion.shf.regenerate).
SANDBOXED_PACKAGE = "shfbundle."


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@functools.cache
def _validator():
    import jsonschema

    s = schema()
    cls = jsonschema.validators.validator_for(s)
    cls.check_schema(s)
    return cls(s)


class InstrumentError(ScriptHammerError, ValueError):
    """An instrument definition file that breaks the format (the message names file and field)."""

    status = 400
    code = "bad_instrument"


@dataclass(frozen=True)
class SampleRef:
    """A sample or SoundFont of the sample library, as an instrument file names it: by its bytes'
    sha256 (what renders use), its library name and version (for people), and for a sampler
    sample the keys and velocities it plays."""

    sample: str
    version: int
    sha256: str
    root: int = 60
    low: int = 60
    high: int = 60
    velocity_low: int = 0
    velocity_high: int = 127


def _ref(raw: dict, where: str, what: str) -> SampleRef:
    root = int(raw.get("root", 60))
    ref = SampleRef(sample=raw["sample"], version=int(raw["version"]), sha256=raw["sha256"], root=root,
                    low=int(raw.get("low", root)), high=int(raw.get("high", root)),
                    velocity_low=int(raw.get("velocity_low", 0)), velocity_high=int(raw.get("velocity_high", 127)))
    if not (ref.low <= ref.root <= ref.high and ref.velocity_low <= ref.velocity_high):
        raise _err(where, f"{what} {ref.sample}: need low <= root <= high and velocity_low <= velocity_high")
    return ref


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
    soundfont: SampleRef | None = None  # the library SoundFont FluidSynth plays it from (None: the engine's)
    samples: tuple[SampleRef, ...] = ()  # the library samples the sh_sampler SynthDef plays

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def _err(where: str, msg: str) -> InstrumentError:
    return InstrumentError(f"{where}: {msg}")


def _field(path) -> str:
    """A JSON path as the file's field: ``instrument.range.low``, ``instrument.articulations[0]``."""
    out = "instrument"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


TYPE_WORDS = {"object": "a table", "array": "a list", "integer": "an integer", "number": "a number",
              "boolean": "true or false", "string": "a string"}


def _say(err) -> str:
    """What is wrong, in the file's own words (the field, then the rule it breaks)."""
    where, v, rule = _field(err.absolute_path), err.instance, err.validator_value
    kind = err.validator
    if kind == "required":
        missing = [k for k in rule if k not in v]
        return f"{where}.{missing[0]} is required"
    if kind == "additionalProperties":
        known = err.schema.get("properties", {})
        extra = sorted(k for k in v if k not in known)
        return f"{where}.{extra[0]} is not a known field"
    if kind == "const":
        return f"{where} must be {rule!r}"
    if kind == "enum":
        return f"{where} must be one of {', '.join(map(str, rule))} (not {v!r})"
    if kind == "type":
        return f"{where} must be {TYPE_WORDS.get(rule, rule)}"
    if kind == "minimum":
        return f"{where} must be >= {rule}"
    if kind == "maximum":
        return f"{where} must be <= {rule}"
    if kind == "pattern":
        return f"{where} {v!r} does not match {rule}"
    if kind == "minLength":
        return f"{where} must not be empty"
    if kind == "uniqueItems":
        return f"{where} has duplicates"
    return f"{where}: {err.message}"


def validate(data: dict, where: str) -> None:
    """Check parsed TOML against the schema; InstrumentError names the file and the first bad field."""
    if __name__.startswith(SANDBOXED_PACKAGE):
        return
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    if errors:
        raise _err(where, _say(errors[0]))


def parse_instrument(text: str, where: str = "<instrument>") -> Instrument:
    """Parse and validate one instrument definition (TOML text); raises InstrumentError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _err(where, f"not TOML: {exc}") from None
    validate(data, where)
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
    if (sc["synthdef"] == SAMPLER) != bool(sc.get("samples")):
        raise _err(where, f"supercollider.samples go with synthdef = {SAMPLER!r}, and it needs them")
    samples = tuple(_ref(r, where, "supercollider.samples") for r in sc.get("samples", ()))
    soundfont = data["fluidsynth"].get("soundfont")
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
        description=data.get("description", ""), source=text,
        soundfont=_ref(soundfont, where, "fluidsynth.soundfont") if soundfont else None, samples=samples)


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
