"""The FluidSynth engine: General MIDI parts played from a SoundFont.

Two ways to run, chosen by what is installed:

* **libfluidsynth** (the usual one): the parts are grouped so that no two parts of a group share a
  MIDI channel, and split between :attr:`Engine.SPLIT` groups balanced by sounding time; each group
  is one synth and one MIDI player in a forked child writing every part's stem straight into shared
  memory (:func:`~.libfluidsynth.render_into`), so the synth never waits for this process's GIL
  while the mixer works here. This thread relays the child's progress.
* **the ``fluidsynth`` program**, when the library cannot be loaded: one run per part (slow).

The SoundFont of a part comes from :meth:`FluidSynthEngine.soundfont_for` (the engine's own by
default); parts with different SoundFonts never share a synth, so a sample library can give an
instrument a SoundFont of its own.
"""
from __future__ import annotations

import functools
import mmap
import os
import re
import select
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile

from ..audio import SR
from ..errors import EngineError, EngineMissing
from . import libfluidsynth
from .base import RENDER_PATH, Engine, PartJob, register
from .pool import run_all
from .slicing import ensemble_composition, first_fit, solo_composition, split_balanced
from .stems import StemBuffers

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


@register
class FluidSynthEngine(Engine):
    name = "fluidsynth"
    stem_bits = 16
    shared_stems = True

    def __init__(self, soundfont: str | Path = DEFAULT_SOUNDFONT, gain: float = 0.5, in_process: bool = True):
        self.soundfont = Path(soundfont)
        self.gain = gain
        self.in_process = in_process and libfluidsynth.load() is not None

    @functools.cache
    def version(self) -> str:
        if self.in_process:
            ver = libfluidsynth.version()
        else:
            out = subprocess.run([self._program_path(), "--version"], capture_output=True, text=True).stdout
            m = re.search(r"version (\S+)", out)
            ver = m.group(1) if m else "unknown"
        sf = self.soundfont
        sf_id = f"{sf.name}:{sf.stat().st_size}" if sf.is_file() else "missing"
        how = "libfluidsynth" if self.in_process else "cli"
        return f"fluidsynth {ver}; {sf_id}; {how}, {RENDER_PATH}"

    # ------------------------------------------------------------------ what a part is played with
    def soundfont_for(self, instrument) -> Path:
        """The SoundFont ``instrument`` is played from: the sample library's SoundFont its file names (by
        content hash, :meth:`Engine.library`), or the engine's own when it names none."""
        ref = getattr(instrument, "soundfont", None)
        if ref is None:
            return self.soundfont
        return self.library().path(ref.sha256, ref.sample)

    @staticmethod
    def program_for(instrument) -> int | None:
        """The General MIDI program of ``instrument`` (None for the drum kit: channel 9 picks it)."""
        return None if instrument.percussion else instrument.program

    # ------------------------------------------------------------------ rendering
    def render_parts(self, comp, jobs, bufs, work, duration, upto_measure=None):
        if not jobs:
            return
        for sf in {self.soundfont_for(j.instrument) for j in jobs}:
            if not sf.is_file():
                raise EngineMissing(f"SoundFont {sf} not found (apt-get install fluid-soundfont-gm)")
        chans = {j.part: self._channels(comp, j.part) for j in jobs}
        if self.in_process:
            self._render_in_children(comp, jobs, chans, bufs, upto_measure)
        else:
            self._render_with_program(comp, jobs, bufs, work, upto_measure)

    @staticmethod
    def _channels(comp, part: str) -> set[int]:
        """The MIDI channels ``part`` sounds on: its own, and any a note of it names."""
        cs = {comp.part(part).channel}
        for _, e in comp.all_events(part):
            if e.kind == "note" and e.ch is not None:
                cs.add(e.ch)
        return cs

    def split(self, comp, jobs, duration=None, upto_measure=None):
        return self._synth_groups(comp, jobs, {j.part: self._channels(comp, j.part) for j in jobs})

    def _synth_groups(self, comp, jobs: list[PartJob], chans: dict[str, set[int]]) -> list[list[PartJob]]:
        """The parts in groups that one synth can play (same SoundFont, no shared MIDI channel: parts
        sharing a channel could not be told apart), each split into at most SPLIT groups balanced by
        sounding time."""
        passes = first_fit(jobs, lambda group, j: all(
            not (chans[j.part] & chans[o.part]) and self.soundfont_for(o.instrument) == self.soundfont_for(
                j.instrument) for o in group))

        def cost(j):  # the sounding quarter notes, + 1 a note: exact, summed per denominator (fast)
            by_den: dict[int, int] = {}
            count = 0
            for _, e in comp.all_events(j.part):
                if e.kind == "note":
                    d = e.dur
                    by_den[d.denominator] = by_den.get(d.denominator, 0) + d.numerator
                    count += 1
            return sum((Fraction(n, den) for den, n in by_den.items()), Fraction(count))
        return [g for ps in passes for g in split_balanced(ps, cost, self.SPLIT)]

    def _render_in_children(self, comp, jobs, chans, bufs: StemBuffers, upto_measure) -> None:
        from ...compositions.midi import write_midi

        def one(group: list[PartJob]) -> None:
            ens = ensemble_composition(comp, [(j.part, self.program_for(j.instrument)) for j in group], upto_measure)
            self._render_forked(self.soundfont_for(group[0].instrument), write_midi(ens),
                                {j.part: sorted(chans[j.part]) for j in group}, bufs)
        run_all([functools.partial(one, g) for g in self._synth_groups(comp, jobs, chans)], self.processes)

    def _render_forked(self, soundfont: Path, midi: bytes, part_chans: dict[str, list[int]],
                       bufs: StemBuffers) -> None:
        """:func:`libfluidsynth.render_into` in a forked child writing the stems into shared memory;
        this thread relays the child's progress (a shared counter) and maps the finished frames.

        This thread sleeps until the child says something: a byte on a pipe at each progress report, or
        its exit (a pidfd); it does not poll."""
        parts = list(part_chans)
        frames = bufs.frames
        arrays = {p: bufs.data[p] for p in parts}  # in shared memory
        mm = mmap.mmap(-1, 64)
        progress = np.frombuffer(mm, dtype=np.int64, count=1)
        r, w = os.pipe()            # the child's error message
        wake_r, wake_w = os.pipe()  # a byte per progress report
        pid = os.fork()
        if pid == 0:  # the child: render, report by the shared counter, leave without cleanup
            code = 1
            try:
                os.close(r)
                os.close(wake_r)

                def report(n: int) -> None:
                    progress[0] = n
                    os.write(wake_w, b".")
                libfluidsynth.render_into(soundfont, self.gain, midi, part_chans, arrays, frames, report)
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported to the parent through the pipe
                try:
                    os.write(w, f"{type(exc).__name__}: {exc}".encode()[:4000])
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        os.close(w)
        os.close(wake_w)
        # other engine threads may fork while this child runs, and their children hold copies of these
        # pipes' write ends: never wait for an end of file, read what is there
        os.set_blocking(r, False)
        os.set_blocking(wake_r, False)
        status = None
        mapped = 0
        err = b""
        exited = os.pidfd_open(pid)
        waiter = select.poll()  # not select(): a busy process may hold descriptors past FD_SETSIZE
        waiter.register(wake_r, select.POLLIN)
        waiter.register(exited, select.POLLIN)
        try:
            while True:
                waiter.poll()
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                pid_done, st = os.waitpid(pid, os.WNOHANG)
                n = int(progress[0])
                bufs.map_shared(parts, mapped, n)
                mapped = max(mapped, n)
                bufs.advance(parts, n)
                if pid_done:
                    status = st
                    break
            while True:
                try:
                    chunk = os.read(r, 4096)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            os.close(exited)
            os.close(r)
            os.close(wake_r)
            if status is None:
                try:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            raise EngineError(f"libfluidsynth render failed: {err.decode(errors='replace') or status}")
        bufs.advance(parts, frames)

    # ------------------------------------------------------------------ without the library
    def _program_path(self) -> str:
        exe = shutil.which("fluidsynth")
        if exe is None:
            raise EngineMissing("fluidsynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)")
        return exe

    def command(self, soundfont: Path, midi: Path, wav: Path) -> list[str]:
        """The fluidsynth command line (fast render, no built-in reverb or chorus: the mix has its own)."""
        return [self._program_path(), "-ni", "-q", "-R", "0", "-C", "0", "-g", str(self.gain), "-F", str(wav),
                "-T", "wav", "-O", "float", "-r", str(SR), str(soundfont), str(midi)]

    def _render_with_program(self, comp, jobs, bufs: StemBuffers, work: Path, upto_measure) -> None:
        from ...compositions.midi import write_midi

        for j in jobs:
            solo = solo_composition(comp, j.part, self.program_for(j.instrument), upto_measure)
            mid = work / f"{j.part}.mid"
            mid.write_bytes(write_midi(solo))
            wav = work / f"{j.part}.fs.wav"
            proc = subprocess.run(self.command(self.soundfont_for(j.instrument), mid, wav), capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=900)
            if proc.returncode != 0 or not wav.is_file():
                raise EngineError(f"fluidsynth failed ({proc.returncode}): "
                                  f"{proc.stderr.decode(errors='replace')[-300:]}")
            x, _ = soundfile.read(wav, dtype="float32", always_2d=True)
            bufs.put(j.part, 0, x[:, :2] if x.shape[1] >= 2 else np.repeat(x, 2, axis=1))
            bufs.advance([j.part], bufs.frames)
