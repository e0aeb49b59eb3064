"""The sampler voice of the SuperCollider engine: instruments that play sample-library samples.

An instrument whose ``[supercollider] synthdef = "sh_sampler"`` lists ``[[supercollider.samples]]``
(each named by sha256 and version, with its root key, key range and velocity range). Its part
loads each sample into a buffer (found by content hash through the engine's sample library;
stereo samples are summed to a mono float file first, as the engine's stems are centred mono),
and each note plays the sample :func:`companion.samples.sampler.pick` chooses, at the rate that
makes its root sound at the note's pitch: held for the note (a percussion instrument's samples
play to their end).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from ...samples.sampler import Zone, note_settings, pick
from .supercollider import Voice, register_voice


def mono_file(path: Path, work: Path, sha256: str) -> tuple[Path, float]:
    """(a mono file of the sample, its seconds): the library file itself when mono, else (L+R)/2 as float."""
    info = soundfile.info(str(path))
    seconds = info.frames / info.samplerate
    if info.channels == 1:
        return path, seconds
    x, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    out = work / f"{sha256}-mono.wav"
    soundfile.write(str(out), (x.sum(axis=1) * np.float32(1 / info.channels)).astype(np.float32), rate,
                    subtype="FLOAT")
    return out, seconds


@register_voice("sh_sampler")
class SamplerVoice(Voice):
    zones: list[Zone] = []

    def sound_files(self, notes, work, duration):
        resolver = self.samples
        if resolver is None:
            from ...samples.library import default_resolver

            resolver = default_resolver()
        self.zones = []
        for ref in self.instrument.samples:
            path, seconds = mono_file(resolver.path(ref.sha256, ref.sample), work, ref.sha256)
            self.zones.append(Zone(path, ref.root, ref.low, ref.high, ref.velocity_low, ref.velocity_high, seconds,
                                   ref.sha256))
        return [z.path for z in self.zones]

    def _pick(self, note):
        return pick(self.zones, note.midi, note.velocity)

    def note_controls(self, note, index):
        i, rate = self._pick(note)
        return {**note_settings(self.zones[i], rate, note.velocity, note.duration, self.instrument.percussion),
                "frequency": float(note.midi), "pan": 0.0, "seed": float(index % 10000)}

    def buffer_controls(self, note, buffers):
        i, _ = self._pick(note)
        return {"buffer": float(buffers[i])}
