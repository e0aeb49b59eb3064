"""The sampler voice: library samples played through SuperCollider buffers.

* :class:`Zone`: one sample version as the sampler sees it (its file, root key, key and velocity
  ranges); :func:`pick` chooses the zone for a note (deterministic: the zones holding the key and
  velocity, then the key, then the nearest root; ties go to the lowest zone index) and the
  playback rate that makes the root sound at the note's pitch.
* :func:`sampler_synthdef`: ``sh_sampler``, a mono ``PlayBuf`` at ``rate`` x ``BufRateScale`` (a
  48 kHz sample plays right in a 44.1 kHz render) under a linen envelope (``attack``, ``sustain``,
  ``release``), freeing itself when the envelope or the buffer ends (the engine gives it stereo
  samples summed to the centre: its stems are centred mono). It takes the same
  ``out``/``out_right``/``pan``/``amplitude`` controls as the band's other SynthDefs, so the
  engine plays it like any voice.
* :func:`note_settings`: a note's controls (rate, how long it holds, amplitude).

The SuperCollider engine plays it through :mod:`companion.render.engines.sampler`.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from supriya import Envelope, SynthDef, SynthDefBuilder
from supriya.ugens import BufRateScale, EnvGen, Out, Pan2, PlayBuf


@dataclasses.dataclass(frozen=True)
class Zone:
    path: Path  # a local file scsynth reads into a buffer
    root: int
    low: int
    high: int
    velocity_low: int = 0
    velocity_high: int = 127
    seconds: float = 1.0  # the sample's length at its own rate
    sha256: str = ""


def pick(zones: list[Zone], key: int, velocity: int = 100) -> tuple[int, float]:
    """(index of the zone that plays ``key`` at ``velocity``, playback rate)."""
    if not zones:
        raise ValueError("no samples to play")
    idx = range(len(zones))
    both = [i for i in idx if zones[i].low <= key <= zones[i].high
            and zones[i].velocity_low <= velocity <= zones[i].velocity_high]
    keyed = both or [i for i in idx if zones[i].low <= key <= zones[i].high]
    pool = keyed or list(idx)
    best = min(pool, key=lambda i: (abs(key - zones[i].root), i))
    return best, 2.0 ** ((key - zones[best].root) / 12.0)


@functools.cache
def sampler_synthdef() -> SynthDef:
    """The sampler SynthDef (see the module doc)."""
    with SynthDefBuilder(frequency=440.0, amplitude=0.2, sustain=0.5, pan=0.0, seed=0.0, out=0.0, out_right=1.0,
                         buffer=0.0, rate=1.0, attack=0.002, release=0.08) as b:
        env = EnvGen.kr(envelope=Envelope.linen(attack_time=b["attack"], sustain_time=b["sustain"],
                                                release_time=b["release"]), done_action=2)
        sig = PlayBuf.ar(channel_count=1, buffer_id=b["buffer"],
                         rate=BufRateScale.kr(buffer_id=b["buffer"]) * b["rate"], done_action=2)
        left, right = Pan2.ar(source=sig * env * b["amplitude"], position=b["pan"])
        Out.ar(bus=b["out"], source=left)
        Out.ar(bus=b["out_right"], source=right)
    return b.build(name="sh_sampler")


def note_settings(zone: Zone, rate: float, velocity: int, duration: float, one_shot: bool) -> dict[str, float]:
    """The sampler synth's controls for one note (amplitude as the band's other voices scale it)."""
    hold = zone.seconds / rate if one_shot else duration
    return dict(amplitude=0.6 * (velocity / 127.0) ** 1.6, sustain=float(hold), rate=float(rate))
