"""What every rendering engine is: a name, a version, and one call that renders parts into stems.

An engine renders all the parts it is given in ONE pass, streaming each part's audio into
:class:`~companion.render.engines.stems.StemBuffers` as it goes (``advance`` as frames finish), so
the mixdown can work on finished seconds while the engine still runs. Engines must be
deterministic: the same composition, instruments and engine version give the same bits (SHF
regeneration and the render cache rely on it).

A new engine is a module in this package with a subclass of :class:`Engine` decorated with
:func:`register`, imported by the package's ``__init__``.
"""
from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ..audio import SR, write_wav
from ..errors import EngineError
from .stems import StemBuffers

if TYPE_CHECKING:
    from ...algorithms.instruments import Instrument
    from ...compositions.model import Composition

# the render path is part of what an engine version means (SHF regeneration compares versions to
# decide between bit-identical and within-tolerance): bump when the engines' output changes
RENDER_PATH = "stream 4"  # 4: centred stems (SuperCollider) are stored as mono WAVs


@dataclasses.dataclass(frozen=True)
class PartJob:
    """One part to render, with the instrument that plays it."""

    part: str
    instrument: "Instrument"


class Engine(abc.ABC):
    """A way of turning parts of a composition into stereo stems.

    Class attributes a subclass sets:
        name: the engine's name in instrument files and render settings.
        stem_bits: the PCM depth its stems are stored at.
        shared_stems: it writes stems from another process (StemBuffers ``shared``).
        mono_stems: its stems are always centred mono (StemBuffers ``mono``), and their WAV files are
            mono too (one channel: the mix pans them; half the bytes of a stereo file of the same samples).
    ``samples`` is the sample library's resolver (render_composition sets it).
    ``SPLIT`` is how many process groups it splits parts between (fixed: the split shapes the output
    bits, so it must not depend on the machine); ``processes`` is how many of them run at once.
    """

    name = "abstract"
    stem_bits = 24
    shared_stems = False
    mono_stems = False
    SPLIT = 2
    processes = 2
    #: where instrument files' library samples are found by content hash (a
    #: :class:`companion.samples.library.Resolver`); None: the library's default (the system's SoundFonts)
    samples = None

    def library(self):
        """The resolver for the library samples instrument files name."""
        if self.samples is None:
            from ...samples.library import default_resolver

            self.samples = default_resolver()
        return self.samples

    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version string (part of the render cache key and of SHF manifests).

        Raises EngineMissing when the engine cannot run here."""

    @abc.abstractmethod
    def render_parts(self, comp: "Composition", jobs: list[PartJob], bufs: StemBuffers, work: Path,
                     duration: float, upto_measure: int | None = None) -> None:
        """Render every job's part of ``comp`` into ``bufs`` (calling ``bufs.advance`` as frames are
        done), ``duration`` seconds of it (measures 1..``upto_measure`` when given). ``work`` is a
        scratch folder of this call's own."""

    def split(self, comp: "Composition", jobs: list[PartJob], duration: float,
              upto_measure: int | None = None) -> list[list[PartJob]]:
        """How :meth:`render_parts` divides ``jobs`` between engine processes (one group each)."""
        return [list(jobs)] if jobs else []

    def render_part(self, comp: "Composition", part: str, instrument: "Instrument", out: Path, work: Path,
                    duration: float, upto_measure: int | None = None) -> Path:
        """Render one part to a stereo WAV at ``out`` of ``duration`` seconds (a file to listen to: the
        sample library's auditions; a render's stem files are written by ``render_stems``)."""
        bufs = StemBuffers([part], int(duration * SR), shared=[part] if self.shared_stems else (),
                           mono=[part] if self.mono_stems else ())
        self.render_parts(comp, [PartJob(part, instrument)], bufs, work, duration, upto_measure)
        write_wav(out, bufs.region(part, 0, bufs.frames), SR, bits=self.stem_bits)
        return out


ENGINES: dict[str, type[Engine]] = {}


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine available by its ``name``."""
    ENGINES[cls.name] = cls
    return cls


def engine(name: str, **kw) -> Engine:
    """A new engine by name (``kw`` go to its constructor)."""
    try:
        cls = ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r} ({' or '.join(sorted(ENGINES))})", code="unknown_engine") \
            from None
    return cls(**kw)
