"""Which library samples a render used, and the files an SHF bundle carries for them.

A render's manifest lists the samples its parts played (:func:`used`): the SoundFont of every
FluidSynth part's instrument, the samples of every sampler part's instrument, each by sha256.
An SHF bundle then carries exactly those bytes (:func:`bundle_files`): sampler samples as they
are, and SoundFonts as subsets holding only the presets the piece can select (every program
change in its MIDI and every instrument's own preset, with General MIDI's fallbacks), which
FluidSynth plays bit for bit as the whole font. The manifest maps each sha256 the instrument files
name to the member that stands in for it, so regeneration renders from the bundle alone.
"""
from __future__ import annotations

import io
from pathlib import Path

from .library import Resolver

DRUM_CHANNEL = 9


def used(jobs: dict[str, list]) -> dict[str, dict]:
    """{sha256: {ref, version, kind, parts}} of the samples the parts play, by engine name -> PartJobs."""
    out: dict[str, dict] = {}

    def add(ref, kind, part):
        e = out.setdefault(ref.sha256, {"ref": ref.sample, "version": ref.version, "kind": kind, "parts": []})
        e["parts"] = sorted({*e["parts"], part})
    for engine, group in jobs.items():
        for j in group:
            inst = j.instrument
            if engine == "fluidsynth" and getattr(inst, "soundfont", None) is not None:
                add(inst.soundfont, "soundfont", j.part)
            if engine == "supercollider":
                for ref in getattr(inst, "samples", ()):
                    add(ref, "sample", j.part)
    return out


def midi_presets(midi: bytes) -> set[tuple[int, int]]:
    """(bank, program) pairs a Standard MIDI File can select in FluidSynth (GS bank select: CC0;
    channel 10 plays bank 128), plus each sounding channel's default."""
    import mido

    mid = mido.MidiFile(file=io.BytesIO(midi))
    bank = {c: 0 for c in range(16)}
    out: set[tuple[int, int]] = set()
    sounding: set[int] = set()
    changed: set[int] = set()
    for msg in mido.merge_tracks(mid.tracks):
        if msg.type == "control_change" and msg.control == 0:
            bank[msg.channel] = msg.value
        elif msg.type == "program_change":
            out.add((128 if msg.channel == DRUM_CHANNEL else bank[msg.channel], msg.program))
            changed.add(msg.channel)
        elif msg.type == "note_on":
            sounding.add(msg.channel)
    for c in sounding - changed:
        out.add((128, 0) if c == DRUM_CHANNEL else (bank[c], 0))
    return out


def presets_for(comp, instruments) -> set[tuple[int, int]]:
    """Every preset a render of ``comp`` with ``instruments`` can ask a General MIDI SoundFont for."""
    from companion.compositions.midi import write_midi

    out = midi_presets(write_midi(comp))
    for inst in instruments.values():
        out.add((128, inst.program) if inst.percussion else (inst.bank, inst.program))
    out |= {(0, 0), (128, 0)}  # FluidSynth's fallbacks for a missing melodic / drum preset
    return out


def bundle_files(samples: dict[str, dict], resolver: Resolver, work: Path, comp=None, instruments=None
                 ) -> tuple[dict[str, Path], dict[str, dict]]:
    """(archive path -> file, sha256 -> manifest entry) for the samples a render used."""
    from companion.storage.base import sha256_file

    from .formats.sf2 import parse
    from .sf2subset import subset

    files: dict[str, Path] = {}
    entries: dict[str, dict] = {}
    work.mkdir(parents=True, exist_ok=True)
    for sha, info in sorted(samples.items()):
        src = resolver.path(sha, info.get("ref", ""))
        entry = {k: info[k] for k in ("ref", "version", "kind") if k in info}
        if info.get("kind") == "soundfont":
            have = {(p["bank"], p["program"]) for p in parse(src).presets}
            want = (presets_for(comp, instruments) if comp is not None else have) & have
            out = work / f"{sha}.sf2"
            kept = subset(src, want, out)
            digest = sha256_file(out)
            entry.update(subset_of=sha, presets=sorted([p["bank"], p["program"]] for p in kept["presets"]))
            name = f"samples/{digest}.sf2"
            files[name] = out
        else:
            name = f"samples/{sha}{src.suffix.lower() or '.wav'}"
            files[name] = src
        entry["member"] = name
        entries[sha] = entry
    return files, entries
