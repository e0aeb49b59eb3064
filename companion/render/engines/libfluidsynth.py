"""A small ctypes binding to libfluidsynth (the library the ``fluidsynth`` program is built on),
and the one thing the engine asks of it: render a MIDI file into one planar stereo buffer per part.

Only the calls used here are declared. There is no maintained Python binding that exposes
``fluid_synth_process`` with audio groups (pyfluidsynth's get_samples is fluid_synth_write_s16: one
interleaved 16-bit stereo pair), and that
call is what gives a stem per part from one synth.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path
from typing import Callable

import numpy as np

from ..audio import SR
from ..errors import EngineError

_vp, _int, _str, _dbl = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double
SIGNATURES = {
    "new_fluid_settings": (_vp, []), "delete_fluid_settings": (None, [_vp]),
    "fluid_settings_setint": (_int, [_vp, _str, _int]), "fluid_settings_setnum": (_int, [_vp, _str, _dbl]),
    "fluid_settings_setstr": (_int, [_vp, _str, _str]),
    "new_fluid_synth": (_vp, [_vp]), "delete_fluid_synth": (None, [_vp]),
    "fluid_synth_sfload": (_int, [_vp, _str, _int]),
    "new_fluid_player": (_vp, [_vp]), "delete_fluid_player": (None, [_vp]),
    "fluid_player_add_mem": (_int, [_vp, ctypes.c_char_p, ctypes.c_size_t]), "fluid_player_play": (_int, [_vp]),
    "fluid_synth_process": (_int, [_vp, _int, _int, _vp, _int, _vp]),
    "fluid_version_str": (_str, []),
}
LIBRARY_NAMES = ("libfluidsynth.so.3", "libfluidsynth.so.2")


@functools.cache
def load():
    """libfluidsynth with the calls above declared, or None when it cannot be loaded."""
    for name in (ctypes.util.find_library("fluidsynth"), *LIBRARY_NAMES):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            for fn, (res, args) in SIGNATURES.items():
                f = getattr(lib, fn)
                f.restype, f.argtypes = res, args
        except AttributeError:
            return None
        return lib
    return None


def version() -> str:
    return load().fluid_version_str().decode()


def audio_groups(channels: list[int]) -> int:
    """The fewest FluidSynth audio groups (a voice on MIDI channel c sounds in group c % groups) that
    keep the given channels apart."""
    need = len(set(channels))
    for g in range(max(1, need), 17):
        if len({c % g for c in set(channels)}) == need:
            return g
    return 16


def render_into(soundfont: Path, gain: float, midi: bytes, part_chans: dict[str, list[int]],
                out: dict[str, np.ndarray], frames: int, report: Callable[[int], None], block: int = 8192,
                notify: int = 1 << 16) -> None:
    """Play ``midi`` on one synth and write each part's audio into ``out[part]`` (2, frames).

    Each part's MIDI channels sound on audio groups of their own; a part's first channel renders
    straight into its stem (``fluid_synth_process`` writes planar buffers), its other channels are
    added after. No reverb or chorus (the mix has its own), samples loaded as needed, one core.
    ``report(frames done)`` now and then."""
    lib = load()
    groups = audio_groups([c for cs in part_chans.values() for c in cs])
    nout = 2 * groups
    settings = lib.new_fluid_settings()
    synth = player = None
    try:
        for k, v in ((b"synth.audio-groups", groups), (b"synth.audio-channels", groups),
                     (b"synth.reverb.active", 0), (b"synth.chorus.active", 0), (b"synth.lock-memory", 0),
                     (b"synth.dynamic-sample-loading", 1), (b"synth.cpu-cores", 1)):
            lib.fluid_settings_setint(settings, k, v)
        lib.fluid_settings_setnum(settings, b"synth.gain", float(gain))
        lib.fluid_settings_setnum(settings, b"synth.sample-rate", float(SR))
        lib.fluid_settings_setstr(settings, b"player.timing-source", b"sample")
        synth = lib.new_fluid_synth(settings)
        if not synth or lib.fluid_synth_sfload(synth, str(soundfont).encode(), 1) < 0:
            raise EngineError(f"libfluidsynth could not load {Path(soundfont).name}")
        player = lib.new_fluid_player(synth)
        if not player or lib.fluid_player_add_mem(player, midi, len(midi)) != 0 or lib.fluid_player_play(player) != 0:
            raise EngineError("libfluidsynth could not play the MIDI file")
        scratch = np.zeros((nout, block), dtype=np.float32)
        direct: dict[int, str] = {}   # group -> the part whose stem it renders into
        extra: dict[int, str] = {}    # group -> a part it is added to (a part's further channels)
        for p, cs in part_chans.items():
            gs = [c % groups for c in cs]
            direct[gs[0]] = p
            for g in gs[1:]:
                extra[g] = p
        done, told = 0, 0
        ptrs = (ctypes.c_void_p * nout)()
        while done < frames:
            k = min(block, frames - done)
            for g in range(groups):
                if g in direct:
                    d = out[direct[g]]
                    ptrs[2 * g], ptrs[2 * g + 1] = d[0, done:].ctypes.data, d[1, done:].ctypes.data
                else:
                    ptrs[2 * g], ptrs[2 * g + 1] = scratch[2 * g].ctypes.data, scratch[2 * g + 1].ctypes.data
            if extra:
                scratch[:, :k] = 0.0
            if lib.fluid_synth_process(synth, k, 0, None, nout, ptrs) != 0:
                raise EngineError("libfluidsynth failed to render")
            for g, p in extra.items():
                out[p][:, done:done + k] += scratch[2 * g:2 * g + 2, :k]
            done += k
            if done - told >= notify or done >= frames:
                report(done)
                told = done
    finally:
        if player:
            lib.delete_fluid_player(player)
        if synth:
            lib.delete_fluid_synth(synth)
        lib.delete_fluid_settings(settings)
