"""The SuperCollider engine: scsynth in non-realtime mode, the score built with supriya.

The parts are grouped into scores (two parts share one unless they use different SynthDefs of the
same name) and split between :attr:`Engine.SPLIT` scsynth processes, balanced by synth time times
SynthDef size. In a score, every part's synths write to an output bus of the part's own (the
SynthDefs' ``out`` control; notes sit at the centre, where Pan2's left and right are the same
samples, so the right side goes to a private bus nobody reads): scsynth writes one raw float
channel per part, read while the file grows, and each stem carries its channel on both sides.

How a part's notes become synths is its :class:`Voice`: the SynthDef, each note's controls, and
the sound files the SynthDef reads (loaded as buffers at time 0). Verse's vocoder reads the spoken
lyrics that way; a sampler voice reads its samples the same way (:func:`register_voice`).
Noise is seeded per note (``RandSeed``), so a render is repeatable bit for bit.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np

from ...compositions.model import Composition
from ..audio import SR
from ..errors import EngineError, EngineMissing
from ..synthdefs import midi_to_hz, synthdef_for
from ..timeline import NoteTime, TempoMap, part_notes
from .base import RENDER_PATH, Engine, PartJob, register
from .pool import run_all
from .slicing import first_fit, split_balanced
from .stems import StemBuffers

INSTALL_HINT = "apt-get install supercollider-server"


class Voice:
    """How one part's notes become synths of its SynthDef.

    ``note_controls`` gives each note's controls (the engine adds the output buses);
    ``sound_files`` the files the SynthDef reads, loaded as buffers before the first note, in order;
    ``buffer_controls`` the controls that point a note at them (given their buffer ids)."""

    def __init__(self, instrument, synthdef, samples=None):
        self.instrument = instrument
        self.synthdef = synthdef
        self.samples = samples  # the sample library's resolver (a sampler voice reads its files through it)

    def note_controls(self, note: NoteTime, index: int) -> dict[str, float]:
        inst = self.instrument
        return dict(frequency=float(note.midi) if inst.percussion else midi_to_hz(note.midi),
                    amplitude=0.6 * (note.velocity / 127.0) ** 1.6, sustain=note.duration, pan=0.0,
                    seed=float(index % 10000))

    def sound_files(self, notes: list[NoteTime], work: Path, duration: float) -> list[Path]:
        return []

    def buffer_controls(self, note: NoteTime, buffers: list[int]) -> dict[str, float]:
        return {}


VOICES: dict[str, type[Voice]] = {}


def register_voice(synthdef_name: str):
    """Class decorator: parts whose instrument uses SynthDef ``synthdef_name`` play through this Voice."""
    def add(cls: type[Voice]) -> type[Voice]:
        VOICES[synthdef_name] = cls
        return cls
    return add


@register_voice("sh_vocoder")
class SpokenVoice(Voice):
    """Verse's vocoder: the lyrics spoken by espeak-ng on the timeline, read from each note's start."""

    def sound_files(self, notes, work, duration):
        from ..vocoder import speech_track

        return [speech_track(notes, work / "speech.wav", duration)]

    def buffer_controls(self, note, buffers):
        return {"buffer": float(buffers[0]), "offset": note.start}


def voice_for(instrument, synthdef=None, samples=None) -> Voice:
    return VOICES.get(instrument.synthdef, Voice)(instrument, synthdef or synthdef_for(instrument), samples)


@register
class SuperColliderEngine(Engine):
    name = "supercollider"
    stem_bits = 24
    mono_stems = True

    @staticmethod
    def _scsynth() -> str:
        exe = shutil.which("scsynth")
        if exe is None:
            raise EngineMissing(f"scsynth is not installed ({INSTALL_HINT})")
        return exe

    @functools.cache
    def version(self) -> str:
        out = subprocess.run([self._scsynth(), "-v"], capture_output=True, text=True).stdout.strip()
        import supriya
        return (f"{out.splitlines()[0] if out else 'scsynth'}; supriya {getattr(supriya, '__version__', '?')}; "
                f"{RENDER_PATH}")

    def score(self, voices: list[tuple[list[NoteTime], Voice]], work: Path, duration: float):
        """The supriya Score of the parts (their notes and voices): the SynthDefs and sound files at
        0, one self-freeing synth per note, part i on output bus i."""
        import supriya

        score = supriya.Score(output_bus_channel_count=max(1, len(voices)))
        private = score.options.first_private_bus_id  # the right side of every part goes here, unread
        defs = {}
        for _, v in voices:
            defs.setdefault(v.synthdef.name, v.synthdef)
        buffers: dict[int, list[int]] = {}
        with score.at(0):
            score.add_synthdefs(*defs.values())
            for i, (notes, v) in enumerate(voices):
                vwork = work / f"voice-{i}"
                vwork.mkdir(parents=True, exist_ok=True)
                files = v.sound_files(notes, vwork, duration)
                if files:
                    buffers[i] = [int(score.add_buffer(file_path=str(f))) for f in files]
        for i, (notes, v) in enumerate(voices):
            sd = defs[v.synthdef.name]
            for j, n in enumerate(notes):
                controls = {**v.note_controls(n, j), "out": float(i), "out_right": float(private)}
                if i in buffers:
                    controls.update(v.buffer_controls(n, buffers[i]))
                with score.at(n.start):
                    score.add_synth(sd, **controls)
        with score.at(duration):
            score.do_nothing()
        return score

    def _plan(self, comp: Composition, jobs: list[PartJob], duration: float, upto_measure: int | None):
        """(the process groups, each part's voice, each part's notes): parts share a score unless they use
        different SynthDefs of the same name; scores are split between SPLIT processes, balanced by synth
        time x SynthDef size."""
        voices = {j.part: voice_for(j.instrument, samples=self.library()) for j in jobs}
        compiled = {p: v.synthdef.compile() for p, v in voices.items()}
        scores = first_fit(jobs, lambda group, j: all(
            voices[o.part].synthdef.name != voices[j.part].synthdef.name or compiled[o.part] == compiled[j.part]
            for o in group))
        tm = TempoMap(comp)
        notes = {j.part: [n for n in part_notes(comp, j.part, tm, upto_measure) if n.start < duration] for j in jobs}

        def cost(j):
            return len(compiled[j.part]) * sum(n.duration + 0.3 for n in notes[j.part])
        return [g for ps in scores for g in split_balanced(ps, cost, self.SPLIT)], voices, notes

    def split(self, comp, jobs, duration, upto_measure=None):
        return self._plan(comp, jobs, duration, upto_measure)[0] if jobs else []

    def render_parts(self, comp: Composition, jobs, bufs, work, duration, upto_measure=None):
        if not jobs:
            return
        self._scsynth()
        groups, voices, notes = self._plan(comp, jobs, duration, upto_measure)
        calls = []
        for i, group in enumerate(groups):
            gwork = work / f"pass-{i}"
            gwork.mkdir(parents=True, exist_ok=True)
            calls.append(functools.partial(self._render_score, group, bufs, gwork, duration,
                                           [(notes[j.part], voices[j.part]) for j in group]))
        run_all(calls, self.processes)

    def _render_score(self, jobs: list[PartJob], bufs: StemBuffers, work: Path, duration: float,
                      voices: list[tuple[list[NoteTime], Voice]]) -> None:
        """Run scsynth on the score of ``jobs`` and stream its output file into their stems."""
        score = self.score(voices, work, duration)
        ch = len(jobs)
        osc = work / "score.osc"
        with open(osc, "wb") as f:
            for d in score.iterate_datagrams(until=duration):
                f.write(struct.pack(">i", len(d)))
                f.write(d)
        raw = work / "score.raw"
        cmd = dataclasses.replace(score.options, realtime=False).serialize()
        cmd += ["-N", str(osc), "_", str(raw), str(SR), "raw", "float"]
        log = open(work / "scsynth.log", "w+b")  # a file, not a pipe: scsynth never waits for us to read
        proc = subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        names = [j.part for j in jobs]
        frame_bytes = 4 * ch
        done = 0
        err = b""
        try:
            fd = None
            while True:
                finished = proc.poll() is not None
                if fd is None and raw.exists():
                    fd = os.open(raw, os.O_RDONLY)
                if fd is not None:
                    size = os.fstat(fd).st_size
                    n = size // frame_bytes - done
                    if n >= 8192 or (finished and n > 0):
                        data = os.pread(fd, n * frame_bytes, done * frame_bytes)
                        n = len(data) // frame_bytes
                        x = np.frombuffer(data[: n * frame_bytes], dtype="<f4").reshape(n, ch)
                        for i, p in enumerate(names):
                            bufs.put_mono(p, done, x[:, i])
                        done += n
                        bufs.advance(names, done)
                        continue
                if finished:
                    break
                time.sleep(0.005)
            log.seek(0)
            err = log.read()
            if fd is not None:
                os.close(fd)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        if proc.returncode != 0 or done == 0:
            raise EngineError(f"scsynth non-realtime render failed (exit {proc.returncode}): "
                              f"{err.decode(errors='replace')[-300:]}")
        bufs.advance(names, bufs.frames)  # a short render: the rest stays silent
