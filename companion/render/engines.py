"""The two rendering engines, one base: FluidSynth (General MIDI SoundFont) and SuperCollider
non-realtime (scsynth through supriya). Each renders one part to a stereo stem WAV.

Both are deterministic for the same input (no random seeds from the clock: SuperCollider
noise is seeded per note with ``RandSeed``), which is what SHF regeneration relies on.
"""
from __future__ import annotations

import abc
import copy
import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..compositions.model import Composition
from .audio import SR, read_wav, write_wav
from .synthdefs import midi_to_hz, synthdef_for
from .timeline import NoteTime, TempoMap, part_notes

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


class EngineError(RuntimeError):
    """A missing tool or a failed render (the message says which and why)."""


class Engine(abc.ABC):
    name = "abstract"

    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version string (part of the render cache key)."""

    @abc.abstractmethod
    def render_part(self, comp: Composition, part: str, instrument, out: Path, work: Path, duration: float,
                    upto_measure: int | None = None) -> Path:
        """Render ``part`` of ``comp`` to a stereo WAV stem at ``out`` of ``duration`` seconds."""


def solo_composition(comp: Composition, part: str, program: int | None, upto_measure: int | None = None
                     ) -> Composition:
    """The composition with only ``part`` (and the global tracks), its program set."""
    solo = Composition(title=comp.title, measures=comp.measures, global_events=list(comp.global_events),
                       visibility=comp.visibility)
    p = copy.copy(comp.part(part))
    p.program = program
    solo.parts = [p]
    last = min(comp.measures, upto_measure or comp.measures)
    for m in range(1, last + 1):
        solo.set_events(part, m, [e for e in comp.events(part, m) if e.kind == "note"])
    if upto_measure:
        solo.measures = last
        solo.global_events = [g for g in solo.global_events if g.measure <= last]
    return solo


class FluidSynthEngine(Engine):
    name = "fluidsynth"

    def __init__(self, soundfont: str | Path = DEFAULT_SOUNDFONT, gain: float = 0.5):
        self.soundfont = Path(soundfont)
        self.gain = gain

    @functools.cache
    def version(self) -> str:
        exe = shutil.which("fluidsynth")
        if exe is None:
            raise EngineError("fluidsynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)")
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"version (\S+)", out)
        sf = self.soundfont
        sf_id = f"{sf.name}:{sf.stat().st_size}" if sf.is_file() else "missing"
        return f"fluidsynth {m.group(1) if m else 'unknown'}; {sf_id}"

    def command(self, midi: Path, wav: Path) -> list[str]:
        """The fluidsynth command line (fast render, no built-in reverb or chorus: the mix has its own)."""
        return ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(self.gain), "-F", str(wav), "-T", "wav",
                "-O", "s16", "-r", str(SR), str(self.soundfont), str(midi)]

    def render_midi(self, midi: Path, wav: Path, timeout: float = 900) -> Path:
        if not self.soundfont.is_file():
            raise EngineError(f"SoundFont {self.soundfont} not found (apt-get install fluid-soundfont-gm)")
        proc = subprocess.run(self.command(midi, wav), capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)
        if proc.returncode != 0 or not wav.is_file():
            raise EngineError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}")
        return wav

    def render_part(self, comp, part, instrument, out, work, duration, upto_measure=None):
        from ..compositions.midi import write_midi

        solo = solo_composition(comp, part, None if instrument.percussion else instrument.program, upto_measure)
        midi = work / f"{part}.mid"
        midi.write_bytes(write_midi(solo))
        raw = work / f"{part}.fs.wav"
        self.render_midi(midi, raw)
        sr, x = read_wav(raw)
        n = int(duration * SR)
        y = np.zeros((n, 2), dtype=np.float32)
        k = min(n, len(x))
        y[:k] = x[:k, :2] if x.shape[1] >= 2 else np.repeat(x[:k], 2, axis=1)
        write_wav(out, y, SR, bits=16)
        return out


class SuperColliderEngine(Engine):
    name = "supercollider"

    @functools.cache
    def version(self) -> str:
        exe = shutil.which("scsynth")
        if exe is None:
            raise EngineError("scsynth is not installed (apt-get install supercollider-server)")
        out = subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.strip()
        import supriya
        return f"{out.splitlines()[0] if out else 'scsynth'}; supriya {getattr(supriya, '__version__', '?')}"

    def score(self, notes: list[NoteTime], instrument, work: Path, duration: float):
        """The supriya Score of one part: the SynthDef at 0, one self-freeing synth per note."""
        import supriya

        sd = synthdef_for(instrument)
        score = supriya.Score(output_bus_channel_count=2)
        buffer = None
        with score.at(0):
            score.add_synthdefs(sd)
            if instrument.synthdef == "sh_vocoder":
                from .vocoder import speech_track
                speech = speech_track(notes, work / "speech.wav", duration)
                buffer = score.add_buffer(file_path=str(speech))
        for i, n in enumerate(notes):
            amp = 0.6 * (n.velocity / 127.0) ** 1.6
            settings = dict(frequency=float(n.midi) if instrument.percussion else midi_to_hz(n.midi), amplitude=amp,
                            sustain=n.duration, pan=0.0, seed=float(i % 10000))
            if buffer is not None:
                settings.update(buffer=float(int(buffer)), offset=n.start)
            with score.at(n.start):
                score.add_synth(sd, **settings)
        with score.at(duration):
            score.do_nothing()
        return score

    def render_score(self, score, wav: Path, duration: float, work: Path) -> Path:
        import supriya

        rdir = Path(tempfile.mkdtemp(dir=work))
        path, code = supriya.render(score, output_file_path=str(wav), header_format="WAV", sample_format="INT24",
                                    sample_rate=SR, duration=duration, render_directory_path=str(rdir),
                                    suppress_output=False)
        if code != 0 or path is None or not Path(path).is_file():
            raise EngineError(f"scsynth non-realtime render failed (exit {code})")
        return Path(path)

    def render_part(self, comp, part, instrument, out, work, duration, upto_measure=None):
        notes = [n for n in part_notes(comp, part, TempoMap(comp), upto_measure) if n.start < duration]
        score = self.score(notes, instrument, work, duration)
        raw = work / f"{part}.sc.wav"
        self.render_score(score, raw, duration, work)
        sr, x = read_wav(raw)
        n = int(duration * SR)
        y = np.zeros((n, 2), dtype=np.float32)
        k = min(n, len(x))
        y[:k] = x[:k, :2]
        write_wav(out, y, SR, bits=24)
        return out


ENGINES = {"fluidsynth": FluidSynthEngine, "supercollider": SuperColliderEngine}


def engine(name: str, **kw) -> Engine:
    try:
        return ENGINES[name](**kw)
    except KeyError:
        raise EngineError(f"unknown engine {name!r} (fluidsynth or supercollider)") from None
