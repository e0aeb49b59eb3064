"""The two rendering engines, one base: FluidSynth (General MIDI SoundFont) and SuperCollider
non-realtime (scsynth through supriya).

Each engine renders all the parts it plays in ONE pass and streams them, part by part, into
:class:`StemBuffers` while it runs, so the mixdown can work on the finished seconds at once:

* FluidSynth runs through libfluidsynth (ctypes; the library the CLI uses) in a forked child
  writing into shared memory: one synth, one MIDI player for every FluidSynth part, each
  part's MIDI channel on its own audio group, so ``fluid_synth_process`` renders a stereo pair
  per part straight into that part's stem. When the library cannot be loaded, the ``fluidsynth`` CLI renders each
  part on its own (the slow path).
* SuperCollider renders one non-realtime score holding every part, each part's synths writing
  to their own output bus (the SynthDefs' ``out`` control; notes sit at the centre, where left
  and right are the same samples); scsynth writes one raw multichannel float file, read while
  it grows.

Both are deterministic for the same input (no random seeds from the clock: SuperCollider
noise is seeded per note with ``RandSeed``), which is what SHF regeneration relies on.
"""
from __future__ import annotations

import abc
import copy
import ctypes
import ctypes.util
import dataclasses
import functools
import mmap
import os
import re
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from ..compositions.model import Composition
from .audio import SR, read_wav, write_wav
from .synthdefs import midi_to_hz, synthdef_for
from .timeline import NoteTime, TempoMap, part_notes

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


class EngineError(RuntimeError):
    """A missing tool or a failed render (the message says which and why)."""


# the render path is part of what an engine version means (SHF regeneration compares versions to
# decide between bit-identical and within-tolerance): bump when the engines' output changes
RENDER_PATH = "stream 3"


class StemBuffers:
    """Float32 stereo stems of ``frames`` frames, planar (``data[part]`` is (2, frames): engines write
    each channel in place), filled by engine threads while a consumer reads the frames every part has
    finished (:meth:`wait`, :meth:`region`).

    ``shared`` parts live in shared anonymous memory (a forked engine writes them); the others in
    private memory on huge pages. ``mono`` parts (left and right always the same samples) keep one
    row, seen twice."""

    def __init__(self, parts: list[str], frames: int, shared=(), mono=()):
        from .audio import zeros

        self.frames = frames
        self.parts = list(parts)
        self.data: dict[str, np.ndarray] = {}
        self.mono = {p for p in self.parts if p in set(mono)}
        self.same_channels: set[str] = set(self.mono)  # stems whose left and right are the same samples
        sh = [p for p in self.parts if p in set(shared)]
        if sh:
            self._mm = mmap.mmap(-1, len(sh) * 2 * frames * 4)
            block = np.frombuffer(self._mm, dtype=np.float32).reshape(len(sh), 2, frames)
            self.shared_index = {p: i for i, p in enumerate(sh)}
            for i, p in enumerate(sh):
                self.data[p] = block[i]
        for p in self.parts:
            if p in self.data:
                continue
            if p in self.mono:
                row = zeros((1, frames))
                self.data[p] = np.lib.stride_tricks.as_strided(row, shape=(2, frames), strides=(0, 4))
            else:
                self.data[p] = zeros((2, frames))
        self.ready = {p: 0 for p in self.parts}
        self.cond = threading.Condition()
        self.error: BaseException | None = None

    def map_shared(self, parts, a: int, b: int) -> None:
        """Map frames ``a:b`` of shared stems another process has written into this process's page
        tables in one call per row (MADV_POPULATE_READ) rather than a page fault per 4 KiB."""
        if b <= a or getattr(self, "_populate", True) is False:
            return
        page = mmap.PAGESIZE
        for p in parts:
            for c in range(2):
                lo = ((self.shared_index[p] * 2 + c) * self.frames + a) * 4
                hi = ((self.shared_index[p] * 2 + c) * self.frames + b) * 4
                lo -= lo % page
                try:
                    self._mm.madvise(22, lo, hi - lo)  # MADV_POPULATE_READ (Linux 5.14)
                except (OSError, ValueError):
                    self._populate = False
                    return

    def put(self, part: str, start: int, x: np.ndarray) -> None:
        k = min(len(x), self.frames - start)
        if k > 0:
            if part in self.mono:
                raise ValueError(f"{part} is a mono stem: put_mono")
            self.data[part][:, start:start + k] = x[:k].T

    def put_mono(self, part: str, start: int, x: np.ndarray) -> None:
        k = min(len(x), self.frames - start)
        if k > 0:
            self.same_channels.add(part)
            dst = self.data[part][:, start:start + k]
            dst[0] = x[:k]
            if part not in self.mono:
                dst[1] = x[:k]

    def advance(self, parts, upto: int) -> None:
        with self.cond:
            for p in parts:
                self.ready[p] = max(self.ready[p], min(upto, self.frames))
            self.cond.notify_all()

    def fail(self, exc: BaseException) -> None:
        with self.cond:
            self.error = exc
            self.cond.notify_all()

    def region(self, part: str, a: int, b: int) -> np.ndarray:
        """Frames ``a:b`` of a stem as a (frames, 2) view."""
        return self.data[part][:, a:b].T

    def available(self) -> int:
        return min(self.ready.values(), default=self.frames)

    def wait(self, have: int, timeout: float = 1200) -> int:
        """Block until every part has more than ``have`` frames; returns how many they all have."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.error is not None:
                    raise self.error
                n = self.available()
                if n > have or n >= self.frames:
                    return n
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EngineError("the engines stopped delivering audio")
                self.cond.wait(min(left, 1.0))


@dataclasses.dataclass(frozen=True)
class PartJob:
    part: str
    instrument: object


def split_balanced(items: list, cost, n: int) -> list[list]:
    """``items`` in at most ``n`` groups of about equal total ``cost`` (largest first, to the lightest
    group), each group in the items' order."""
    n = max(1, min(n, len(items)))
    groups: list[list] = [[] for _ in range(n)]
    loads = [0.0] * n
    for it in sorted(items, key=cost, reverse=True):
        i = loads.index(min(loads))
        groups[i].append(it)
        loads[i] += cost(it)
    order = {id(it): k for k, it in enumerate(items)}
    return [sorted(g, key=lambda it: order[id(it)]) for g in groups if g]


def run_concurrently(calls: list, at_once: int = 2) -> None:
    """Run the callables, ``at_once`` at a time in threads (one in this thread); raise the first failure."""
    if len(calls) == 1 or at_once <= 1:
        for fn in calls:
            fn()
        return
    if len(calls) > at_once:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=at_once) as pool:
            for f in [pool.submit(fn) for fn in calls]:
                f.result()
        return
    errors: list[BaseException] = []

    def guard(fn):
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
    threads = [threading.Thread(target=guard, args=(fn,), daemon=True) for fn in calls[1:]]
    for t in threads:
        t.start()
    guard(calls[0])
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class Engine(abc.ABC):
    name = "abstract"
    stem_bits = 24
    # the parts are split between SPLIT engine processes (a fixed number: the split shapes the output
    # bits, so it must not depend on the machine); ``processes`` of them run at once
    SPLIT = 2
    processes = 2
    shared_stems = False  # the engine writes stems from another process (StemBuffers ``shared``)
    mono_stems = False    # the engine's stems are always centred mono (StemBuffers ``mono``)

    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version string (part of the render cache key)."""

    @abc.abstractmethod
    def render_parts(self, comp: Composition, jobs: list[PartJob], bufs: StemBuffers, work: Path, duration: float,
                     upto_measure: int | None = None) -> None:
        """Render every job's part into ``bufs`` (``advance`` as frames are done) in one pass."""

    def render_part(self, comp: Composition, part: str, instrument, out: Path, work: Path, duration: float,
                    upto_measure: int | None = None) -> Path:
        """Render ``part`` of ``comp`` to a stereo WAV stem at ``out`` of ``duration`` seconds."""
        bufs = StemBuffers([part], int(duration * SR), shared=[part] if self.shared_stems else (),
                           mono=[part] if self.mono_stems else ())
        self.render_parts(comp, [PartJob(part, instrument)], bufs, work, duration, upto_measure)
        write_wav(out, bufs.region(part, 0, bufs.frames), SR, bits=self.stem_bits)
        return out


def solo_composition(comp: Composition, part: str, program: int | None, upto_measure: int | None = None
                     ) -> Composition:
    """The composition with only ``part`` (and the global tracks), its program set."""
    return ensemble_composition(comp, [(part, program)], upto_measure)


def ensemble_composition(comp: Composition, parts: list[tuple[str, int | None]], upto_measure: int | None = None
                         ) -> Composition:
    """The composition with only ``parts`` (notes only, and the global tracks), their programs set."""
    solo = Composition(title=comp.title, measures=comp.measures, global_events=list(comp.global_events),
                       visibility=comp.visibility)
    last = min(comp.measures, upto_measure or comp.measures)
    solo.parts = []
    for part, program in parts:
        p = copy.copy(comp.part(part))
        p.program = program
        solo.parts.append(p)
    for part, _ in parts:
        for m in range(1, last + 1):
            solo.set_events(part, m, [e for e in comp.events(part, m) if e.kind == "note"])
    if upto_measure:
        solo.measures = last
        solo.global_events = [g for g in solo.global_events if g.measure <= last]
    return solo


# --------------------------------------------------------------------------- libfluidsynth

@functools.cache
def _libfluidsynth():
    """libfluidsynth through ctypes, or None when it cannot be loaded."""
    names = [ctypes.util.find_library("fluidsynth"), "libfluidsynth.so.3", "libfluidsynth.so.2"]
    lib = None
    for n in names:
        if not n:
            continue
        try:
            lib = ctypes.CDLL(n)
            break
        except OSError:
            continue
    if lib is None:
        return None
    vp, ci, cs, cd = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double
    sigs = {"new_fluid_settings": (vp, []), "delete_fluid_settings": (None, [vp]),
            "fluid_settings_setint": (ci, [vp, cs, ci]), "fluid_settings_setnum": (ci, [vp, cs, cd]),
            "fluid_settings_setstr": (ci, [vp, cs, cs]), "new_fluid_synth": (vp, [vp]),
            "delete_fluid_synth": (None, [vp]), "fluid_synth_sfload": (ci, [vp, cs, ci]),
            "new_fluid_player": (vp, [vp]), "delete_fluid_player": (None, [vp]),
            "fluid_player_add_mem": (ci, [vp, ctypes.c_char_p, ctypes.c_size_t]), "fluid_player_play": (ci, [vp]),
            "fluid_synth_process": (ci, [vp, ci, ci, vp, ci, vp]), "fluid_version_str": (cs, [])}
    try:
        for name, (res, args) in sigs.items():
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
    except AttributeError:
        return None
    return lib


def audio_groups(channels: list[int]) -> int:
    """The fewest FluidSynth audio groups (a voice on MIDI channel c sounds in group c % groups) that
    keep the given channels apart."""
    need = len(set(channels))
    for g in range(max(1, need), 17):
        if len({c % g for c in set(channels)}) == need:
            return g
    return 16


class FluidSynthEngine(Engine):
    name = "fluidsynth"
    stem_bits = 16
    shared_stems = hasattr(os, "fork")

    def __init__(self, soundfont: str | Path = DEFAULT_SOUNDFONT, gain: float = 0.5, in_process: bool = True):
        self.soundfont = Path(soundfont)
        self.gain = gain
        self.in_process = in_process and _libfluidsynth() is not None

    @functools.cache
    def version(self) -> str:
        lib = _libfluidsynth() if self.in_process else None
        if lib is not None:
            ver = lib.fluid_version_str().decode()
        else:
            exe = shutil.which("fluidsynth")
            if exe is None:
                raise EngineError("fluidsynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)")
            out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
            m = re.search(r"version (\S+)", out)
            ver = m.group(1) if m else "unknown"
        sf = self.soundfont
        sf_id = f"{sf.name}:{sf.stat().st_size}" if sf.is_file() else "missing"
        how = "libfluidsynth" if lib is not None else "cli"
        return f"fluidsynth {ver}; {sf_id}; {how}, {RENDER_PATH}"

    def command(self, midi: Path, wav: Path) -> list[str]:
        """The fluidsynth command line (fast render, no built-in reverb or chorus: the mix has its own)."""
        return ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(self.gain), "-F", str(wav), "-T", "wav",
                "-O", "float", "-r", str(SR), str(self.soundfont), str(midi)]

    def render_midi(self, midi: Path, wav: Path, timeout: float = 900) -> Path:
        if not self.soundfont.is_file():
            raise EngineError(f"SoundFont {self.soundfont} not found (apt-get install fluid-soundfont-gm)")
        proc = subprocess.run(self.command(midi, wav), capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)
        if proc.returncode != 0 or not wav.is_file():
            raise EngineError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}")
        return wav

    def _program(self, inst):
        return None if inst.percussion else inst.program

    def render_parts(self, comp, jobs, bufs, work, duration, upto_measure=None):
        from ..compositions.midi import write_midi

        if not self.soundfont.is_file():
            raise EngineError(f"SoundFont {self.soundfont} not found (apt-get install fluid-soundfont-gm)")
        if not jobs:
            return
        # each part's channels (its own, and any its notes name); parts sharing a channel cannot be
        # told apart in one pass, so those are rendered on their own
        chans: dict[str, set[int]] = {}
        for j in jobs:
            p = comp.part(j.part)
            cs = {p.channel}
            for _, e in comp.all_events(j.part):
                if e.kind == "note" and e.ch is not None:
                    cs.add(e.ch)
            chans[j.part] = cs
        passes: list[list[PartJob]] = []
        for j in jobs:
            for ps in passes:
                if all(not (chans[j.part] & chans[o.part]) for o in ps):
                    ps.append(j)
                    break
            else:
                passes.append([j])
        if self.in_process and hasattr(os, "fork"):
            # split further between processes, balanced by sounding time (one synth per group)
            def cost(j):
                return sum(e.dur + 1 for _, e in comp.all_events(j.part) if e.kind == "note")
            groups = [g for ps in passes for g in split_balanced(ps, cost, self.SPLIT)]

            def one(ps):
                ens = ensemble_composition(comp, [(j.part, self._program(j.instrument)) for j in ps], upto_measure)
                self._render_forked(write_midi(ens), {j.part: sorted(chans[j.part]) for j in ps}, bufs)
            run_concurrently([functools.partial(one, g) for g in groups], self.processes)
            return
        for ps in passes:
            ens = ensemble_composition(comp, [(j.part, self._program(j.instrument)) for j in ps], upto_measure)
            midi = write_midi(ens)
            if self.in_process:
                pc = {j.part: sorted(chans[j.part]) for j in ps}
                self._render_lib(midi, pc, {p: bufs.data[p] for p in pc}, bufs.frames,
                                 lambda n: bufs.advance(list(pc), n))
            else:
                for j in ps:
                    solo = solo_composition(comp, j.part, self._program(j.instrument), upto_measure)
                    mid = work / f"{j.part}.mid"
                    mid.write_bytes(write_midi(solo))
                    raw = work / f"{j.part}.fs.wav"
                    self.render_midi(mid, raw)
                    _, x = read_wav(raw)
                    bufs.put(j.part, 0, x[:, :2] if x.shape[1] >= 2 else np.repeat(x, 2, axis=1))
                    bufs.advance([j.part], bufs.frames)

    def _render_forked(self, midi: bytes, part_chans: dict[str, list[int]], bufs: StemBuffers) -> None:
        """:meth:`_render_lib` in a forked child writing the stems into shared memory: the synth then
        never waits for this process's GIL (the mixer works in it meanwhile); this thread relays the
        child's progress."""
        parts = list(part_chans)
        frames = bufs.frames
        arrays = {p: bufs.data[p] for p in parts}  # in shared memory
        mm = mmap.mmap(-1, 64)
        progress = np.frombuffer(mm, dtype=np.int64, count=1)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: render, report by the shared counter, leave without cleanup
            code = 1
            try:
                os.close(r)

                def report(n: int) -> None:
                    progress[0] = n
                self._render_lib(midi, part_chans, arrays, frames, report)
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported to the parent through the pipe
                try:
                    os.write(w, f"{type(exc).__name__}: {exc}".encode()[:4000])
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        os.close(w)
        status = None
        mapped = 0
        try:
            while True:
                pid_done, st = os.waitpid(pid, os.WNOHANG)
                n = int(progress[0])
                bufs.map_shared(parts, mapped, n)
                mapped = max(mapped, n)
                bufs.advance(parts, n)
                if pid_done:
                    status = st
                    break
                time.sleep(0.003)
            err = b""
            while True:
                chunk = os.read(r, 4096)
                if not chunk:
                    break
                err += chunk
        finally:
            os.close(r)
            if status is None:
                try:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            raise EngineError(f"libfluidsynth render failed: {err.decode(errors='replace') or status}")
        bufs.advance(parts, frames)

    def _render_lib(self, midi: bytes, part_chans: dict[str, list[int]], out: dict[str, np.ndarray], frames: int,
                    report, block: int = 8192, notify: int = 1 << 16) -> None:
        """One synth and player for all the parts; each part's first channel renders straight into its
        stem ``out[part]`` (2, frames) (``fluid_synth_process`` writes planar buffers), other channels
        it plays are added after. ``report(frames done)`` now and then."""
        lib = _libfluidsynth()
        groups = audio_groups([c for cs in part_chans.values() for c in cs])
        nout = 2 * groups
        settings = lib.new_fluid_settings()
        synth = player = None
        try:
            for k, v in ((b"synth.audio-groups", groups), (b"synth.audio-channels", groups),
                         (b"synth.reverb.active", 0), (b"synth.chorus.active", 0), (b"synth.lock-memory", 0),
                         (b"synth.dynamic-sample-loading", 1), (b"synth.cpu-cores", 1)):
                lib.fluid_settings_setint(settings, k, v)
            lib.fluid_settings_setnum(settings, b"synth.gain", float(self.gain))
            lib.fluid_settings_setnum(settings, b"synth.sample-rate", float(SR))
            lib.fluid_settings_setstr(settings, b"player.timing-source", b"sample")
            synth = lib.new_fluid_synth(settings)
            if not synth or lib.fluid_synth_sfload(synth, str(self.soundfont).encode(), 1) < 0:
                raise EngineError(f"libfluidsynth could not load {self.soundfont}")
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


class SuperColliderEngine(Engine):
    name = "supercollider"
    stem_bits = 24
    mono_stems = True

    @functools.cache
    def version(self) -> str:
        exe = shutil.which("scsynth")
        if exe is None:
            raise EngineError("scsynth is not installed (apt-get install supercollider-server)")
        out = subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.strip()
        import supriya
        return (f"{out.splitlines()[0] if out else 'scsynth'}; supriya {getattr(supriya, '__version__', '?')}; "
                f"{RENDER_PATH}")

    def score(self, parts: list[tuple[list[NoteTime], object]], work: Path, duration: float, synthdefs=None):
        """The supriya Score of the parts: their SynthDefs at 0, one self-freeing synth per note.

        Every note is panned to the centre (panning is the mix's job), where Pan2's left and right are
        the same samples: part i's left goes to output bus i, its right to a private bus nobody
        reads, so scsynth writes one channel per part and the stem carries it on both sides."""
        import supriya

        score = supriya.Score(output_bus_channel_count=max(1, len(parts)))
        opts = score._options
        private = opts.output_bus_channel_count + opts.input_bus_channel_count  # the first private bus
        sds = list(synthdefs) if synthdefs is not None else [synthdef_for(inst) for _, inst in parts]
        defs = {}
        for sd in sds:
            defs.setdefault(sd.name, sd)
        buffers = {}
        with score.at(0):
            score.add_synthdefs(*defs.values())
            for i, (notes, inst) in enumerate(parts):
                if inst.synthdef == "sh_vocoder":
                    from .vocoder import speech_track
                    speech = speech_track(notes, work / f"speech-{i}.wav", duration)
                    buffers[i] = score.add_buffer(file_path=str(speech))
        for i, (notes, inst) in enumerate(parts):
            sd = defs[sds[i].name]
            buffer = buffers.get(i)
            for j, n in enumerate(notes):
                amp = 0.6 * (n.velocity / 127.0) ** 1.6
                settings = dict(frequency=float(n.midi) if inst.percussion else midi_to_hz(n.midi), amplitude=amp,
                                sustain=n.duration, pan=0.0, seed=float(j % 10000), out=float(i),
                                out_right=float(private))
                if buffer is not None:
                    settings.update(buffer=float(int(buffer)), offset=n.start)
                with score.at(n.start):
                    score.add_synth(sd, **settings)
        with score.at(duration):
            score.do_nothing()
        return score

    def render_parts(self, comp, jobs, bufs, work, duration, upto_measure=None):
        if not jobs:
            return
        if shutil.which("scsynth") is None:
            raise EngineError("scsynth is not installed (apt-get install supercollider-server)")
        # one score for every part, unless two parts use different SynthDefs of the same name
        sds = {j.part: synthdef_for(j.instrument) for j in jobs}
        compiled = {p: sd.compile() for p, sd in sds.items()}
        passes: list[tuple[list[PartJob], dict]] = []
        for j in jobs:
            name, code = sds[j.part].name, compiled[j.part]
            for ps, names in passes:
                if names.get(name, code) == code:
                    ps.append(j)
                    names[name] = code
                    break
            else:
                passes.append(([j], {name: code}))
        # and split between scsynth processes, balanced by synth time x SynthDef size
        tm = TempoMap(comp)
        notes = {j.part: [n for n in part_notes(comp, j.part, tm, upto_measure) if n.start < duration] for j in jobs}

        def cost(j):
            return len(compiled[j.part]) * sum(n.duration + 0.3 for n in notes[j.part])
        groups = [g for ps, _ in passes for g in split_balanced(ps, cost, self.SPLIT)]
        calls = []
        for i, ps in enumerate(groups):
            pw = work / f"pass-{i}"
            pw.mkdir(parents=True, exist_ok=True)
            calls.append(functools.partial(self._render_pass, ps, bufs, pw, duration,
                                           [notes[j.part] for j in ps], [sds[j.part] for j in ps]))
        run_concurrently(calls, self.processes)

    def _render_pass(self, jobs, bufs, work, duration, notes, synthdefs):
        parts = [(ns, j.instrument) for ns, j in zip(notes, jobs)]
        score = self.score(parts, work, duration, synthdefs)
        ch = len(jobs)
        osc = work / "score.osc"
        with open(osc, "wb") as f:
            for d in score.iterate_datagrams(until=duration):
                f.write(struct.pack(">i", len(d)))
                f.write(d)
        raw = work / "score.raw"
        cmd = dataclasses.replace(score._options, realtime=False).serialize()
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


ENGINES = {"fluidsynth": FluidSynthEngine, "supercollider": SuperColliderEngine}


def engine(name: str, **kw) -> Engine:
    try:
        return ENGINES[name](**kw)
    except KeyError:
        raise EngineError(f"unknown engine {name!r} (fluidsynth or supercollider)") from None
