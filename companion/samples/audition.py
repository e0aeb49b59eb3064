"""Auditions: a few seconds of one sample version played by the engine that will play it.

The audition is a two-measure part at 120 bpm rendered by the real engines with the sample's
instrument (its channel, percussion flag, program): a sample through the SuperColliderEngine's
sampler voice (the instrument as ``sh_sampler`` with this one sample), a SoundFont through the
FluidSynthEngine (the instrument playing from this font; its own bank and program, or the font's
first preset when it has not got them). A pitched sample or a SoundFont plays an arpeggio over
the root (root, major third, fifth, octave, a beat each) and then the chord; a percussion
instrument's sample three hits at velocities 100, 55 and 120. Auditions are cached in the object
store by the sample's hash, the instrument's playing fields and the recipe.
"""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

from companion.errors import ScriptHammerError, ServiceUnavailable
from companion.storage import content_key

from . import objects

RECIPE = "audition 2"
TAIL_SECONDS = 0.8


def phrase(inst, root: int) -> tuple:
    """(composition, seconds) of the audition of ``inst`` around ``root``."""
    from companion.compositions.model import Composition, Event, Part
    from companion.render.timeline import TempoMap

    comp = Composition(title="audition", measures=2)
    comp.parts = [Part(id=inst.part, name=inst.name, channel=inst.channel, kind=inst.part_kind, owner=inst.member)]
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

    def note(at, key, vel, dur):
        return Event(onset=Fraction(at), pitch=f"{names[key % 12]}{key // 12 - 1}", dur=Fraction(dur), vel=vel)
    if inst.percussion:
        comp.set_events(inst.part, 1, [note(0, root, 100, "1/2"), note(1, root, 55, "1/2"),
                                       note(2, root, 120, "1/2")])
        seconds = TempoMap(comp).end(1) + TAIL_SECONDS
    else:
        keys = [k for k in (root, root + 4, root + 7, root + 12) if k <= 127]
        comp.set_events(inst.part, 1, [note(i, k, 96, "4/5") for i, k in enumerate(keys)])
        comp.set_events(inst.part, 2, [note(0, k, 80, "12/5") for k in keys[:3]])
        seconds = TempoMap(comp).end(1) + 1.2 + TAIL_SECONDS
    return comp, seconds


def audition_key(sha256: str, instrument) -> str:
    digest = hashlib.sha256(f"{RECIPE}\0{sha256}\0{instrument.percussion}\0{instrument.channel}\0{instrument.bank}\0"
                            f"{instrument.program}".encode()).hexdigest()
    return content_key("auditions", digest, "audition.wav")


def audition(svc, version: dict, instrument) -> str:
    """The store key of the audition of ``version`` (a :func:`service.get_version` dict), rendered if new."""
    key = audition_key(version["sha256"], instrument)
    if svc.store.exists(key):
        return key
    svc.config.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="audition-", dir=svc.config.work_dir))
    try:
        src = objects.local_copy(svc.store, version["key"], work / "src", version["sha256"])
        out = work / "audition.wav"
        render = render_soundfont if version["format"] == "sf2" else render_sample
        try:
            render(src, version, instrument, out, work)
        except ScriptHammerError as exc:  # a missing engine, a failed render
            raise ServiceUnavailable(f"The audition could not be rendered: {exc.message}",
                                     code="engine_unavailable") from exc
        svc.store.put_file(key, out, "audio/wav")
        return key
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ref(version: dict, **keys):
    from companion.algorithms.instruments import SampleRef

    return SampleRef(sample=version["sample"]["ref"], version=version["version"], sha256=version["sha256"], **keys)


def render_sample(src: Path, version: dict, instrument, out: Path, work: Path) -> Path:
    """Through the SuperColliderEngine's sampler voice, the instrument playing this one sample."""
    from companion.render.engines import SuperColliderEngine

    from .library import FileResolver

    ref = _ref(version, root=version["root"], low=version["low"], high=version["high"],
               velocity_low=version["velocity_low"], velocity_high=version["velocity_high"])
    inst = dataclasses.replace(instrument, engine="supercollider", synthdef="sh_sampler", sc_define=None,
                               sc_params={}, samples=(ref,))
    engine = SuperColliderEngine()
    engine.processes = 1
    engine.samples = FileResolver({version["sha256"]: src})
    comp, seconds = phrase(inst, version["root"])
    return engine.render_part(comp, inst.part, inst, out, work, seconds)


def render_soundfont(src: Path, version: dict, instrument, out: Path, work: Path) -> Path:
    """Through the FluidSynthEngine, the instrument playing from this SoundFont."""
    from companion.render.engines import FluidSynthEngine

    from .library import FileResolver

    presets = ((version.get("details") or {}).get("soundfont") or {}).get("presets") or []
    have = {(p["bank"], p["program"]) for p in presets}
    want = (128 if instrument.percussion else instrument.bank, instrument.program)
    inst = dataclasses.replace(instrument, engine="fluidsynth", soundfont=_ref(version))
    if want not in have and presets and not instrument.percussion:
        inst = dataclasses.replace(inst, bank=presets[0]["bank"], program=presets[0]["program"])
    engine = FluidSynthEngine()
    engine.processes = 1
    engine.samples = FileResolver({version["sha256"]: src})
    comp, seconds = phrase(inst, 36 if instrument.percussion else 60)
    return engine.render_part(comp, inst.part, inst, out, work, seconds)
