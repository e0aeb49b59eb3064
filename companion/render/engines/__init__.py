"""The rendering engines, one module each behind one base (the mutagen way):

* :mod:`.base` — :class:`Engine` (what every engine is), :class:`PartJob`, the registry and
  :func:`engine` (a new engine by name);
* :mod:`.fluidsynth` — General MIDI parts from a SoundFont (libfluidsynth through
  :mod:`.libfluidsynth`, or the ``fluidsynth`` program);
* :mod:`.supercollider` — scsynth in non-realtime mode, a :class:`~.supercollider.Voice` per part;
* :mod:`.stems` — the stem buffers engines fill while the mixer reads;
* :mod:`.slicing` — a composition cut down to the parts one process renders, and the split;
* :mod:`.pool` — running an engine's process groups side by side.

Samples: a FluidSynth part plays from :meth:`FluidSynthEngine.soundfont_for` (the sample library's
SoundFont its instrument file names, found by content hash through :meth:`Engine.library`), a
SuperCollider part through the Voice registered for its SynthDef (:func:`register_voice`), which
names the sound files to load as buffers; :mod:`.sampler` is the voice that plays library samples.
"""
from .base import ENGINES, RENDER_PATH, Engine, PartJob, engine, register
from .fluidsynth import DEFAULT_SOUNDFONT, FluidSynthEngine
from .stems import StemBuffers
from .supercollider import SuperColliderEngine, Voice, register_voice, voice_for
from . import sampler as _sampler  # noqa: F401,E402 - registers the sampler voice (sh_sampler)
from ..errors import EngineError, EngineMissing

__all__ = ["DEFAULT_SOUNDFONT", "ENGINES", "RENDER_PATH", "Engine", "EngineError", "EngineMissing",
           "FluidSynthEngine", "PartJob", "StemBuffers", "SuperColliderEngine", "Voice", "engine", "register",
           "register_voice", "voice_for"]
