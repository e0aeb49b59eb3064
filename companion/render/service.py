"""Rendering a composition version: a stem per part (each with its instrument's engine), the
mixdown, and the render cache in the object store.

The cache key is the sha256 of (the version's canonical files, every instrument definition,
both engines' versions, the render settings, :data:`RENDER_VERSION`); the manifest is stored
last under ``renders/<key>/render.json``, so a repeat with unchanged input finds it, checks
its objects exist and returns without starting a process.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..algorithms.instruments import Instrument, by_part, instruments_digest, load_instruments
from ..compositions.model import Composition
from ..samples.library import default_resolver
from ..samples.usage import used as samples_used
from ..storage.base import ObjectStore, content_key, sha256_file
from . import audio as A
from .engines import PartJob, StemBuffers, engine as make_engine
from .engines.slicing import window_composition
from .errors import EngineError
from .mix import BusSettings, StemMix, StreamMixer
from .timeline import TempoMap, cc_points

RENDER_VERSION = "1.2"  # 1.2: loudness by ffmpeg's ebur128
ENGINE_CHOICES = ("auto", "fluidsynth", "supercollider")


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How to render.

    Attributes:
        engine: ``auto`` (each instrument's own engine), or one engine for every part.
        engines: per-part overrides, e.g. ``{"keys": "supercollider"}``.
        loudness_target_lufs: integrated loudness of the mixdown.
        limiter_ceiling_db: sample-peak ceiling of the limiter.
        reverb_seconds / reverb_predelay_ms: the reverb bus (default: Form's console file).
        tail_seconds: silence after the last measure (reverb and release tails).
        upto_measure: render only measures 1..n (the quick preview).
        stems: store the stems too (they are always rendered).
    """

    engine: str = "auto"
    engines: tuple[tuple[str, str], ...] = ()
    loudness_target_lufs: float | None = None
    limiter_ceiling_db: float | None = None
    reverb_seconds: float | None = None
    reverb_predelay_ms: float | None = None
    tail_seconds: float = 2.0
    upto_measure: int | None = None
    stems: bool = True

    @classmethod
    def from_dict(cls, d: dict | None) -> "RenderSettings":
        d = dict(d or {})
        engines = d.pop("engines", None) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown render settings: {', '.join(sorted(unknown))}")
        s = cls(engines=tuple(sorted(engines.items())), **d)
        for e in [s.engine] + [v for _, v in s.engines]:
            if e not in ENGINE_CHOICES:
                raise ValueError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, not {e!r}")
        return s

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["engines"] = dict(self.engines)
        return d

    def engine_for(self, inst: Instrument) -> str:
        own = dict(self.engines).get(inst.part)
        if own and own != "auto":
            return own
        return inst.engine if self.engine == "auto" else self.engine

    def bus(self, instruments: dict[str, Instrument]) -> BusSettings:
        console = next((i.bus for i in instruments.values() if i.bus), {})
        pick = lambda mine, key, default: mine if mine is not None else console.get(key, default)
        return BusSettings(reverb_seconds=pick(self.reverb_seconds, "reverb_seconds", 2.2),
                           reverb_predelay_ms=pick(self.reverb_predelay_ms, "reverb_predelay_ms", 20.0),
                           limiter_ceiling_db=pick(self.limiter_ceiling_db, "limiter_ceiling_db", -1.0),
                           loudness_target_lufs=pick(self.loudness_target_lufs, "loudness_target_lufs", -14.0))


def files_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for k in sorted(files):
        h.update(k.encode() + b"\0" + hashlib.sha256(files[k]).digest())
    return h.hexdigest()


_VERSIONS: dict[str, str] | None = None
_VERSIONS_LOCK = threading.Lock()


def engine_versions(fresh: bool = False) -> dict[str, str]:
    """Every engine's version (part of the render key), asked once per process (the engines are
    programs and libraries installed on the machine: a new one comes with a new worker process);
    ``fresh`` asks again. Asking costs a process start for scsynth and espeak-ng each, which a
    preview would otherwise pay on every request."""
    global _VERSIONS
    with _VERSIONS_LOCK:
        if _VERSIONS is None or fresh:
            from .vocoder import espeak_version
            out = {}
            for name in ("fluidsynth", "supercollider"):
                try:
                    out[name] = make_engine(name).version()
                except (EngineError, OSError) as exc:
                    out[name] = f"unavailable: {exc}"
            out["espeak-ng"] = espeak_version()
            _VERSIONS = out
        return dict(_VERSIONS)


def warm_up(work_dir: Path | None = None) -> dict[str, float]:
    """Make this process a warm render worker, as a long-lived worker is after its first job: the
    engines' versions asked, libfluidsynth and supriya loaded, the reverb's impulse response and the
    object store's MIME table built, and one tiny built-in piece (one measure, not any user's) rendered
    by each engine (the SoundFont's presets and the code paths paged in). Nothing is stored.

    Returns the seconds each step took. A worker calls it once at start; the quick preview's
    first-segment time (bench/render.py) is measured on such a worker."""
    import mimetypes

    from .engines import libfluidsynth

    took: dict[str, float] = {}
    t = time.perf_counter()
    engine_versions()
    libfluidsynth.load()
    import supriya  # noqa: F401 - the SuperCollider engine's score builder
    mimetypes.init()
    took["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    instruments = load_instruments()
    comp = _warm_piece(instruments)
    parent = Path(work_dir) if work_dir else None
    if parent:
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="warm-", dir=parent) as d:
        for name in ("fluidsynth", "supercollider"):
            render_composition(comp, Path(d) / name, RenderSettings(engine=name, tail_seconds=0.5), instruments)
    took["render_s"] = time.perf_counter() - t
    return {k: round(v, 3) for k, v in took.items()}


def warm_up_in_background(config) -> "threading.Thread | None":
    """:func:`warm_up` in a daemon thread, as a gunicorn worker does when it starts (companion/wsgi.py);
    None when ``config.render_warm_up`` is off. A failure is logged, never raised: a missing engine is
    reported by the render that needs it."""
    import logging
    import threading

    if not config.render_warm_up:
        return None
    log = logging.getLogger("companion.render")

    def run() -> None:
        try:
            log.info("render engines warm: %s", warm_up(config.work_dir))
        except Exception:
            log.exception("render warm-up failed")

    t = threading.Thread(target=run, name="render-warm-up", daemon=True)
    t.start()
    return t


def _warm_piece(instruments: dict[str, Instrument]) -> Composition:
    """A generated four-measure piece of the band (every member plays; seed 1, not any user's piece)."""
    from ..algorithms.base import Params
    from ..algorithms.generate import compose

    return compose(None, 1, Params(tempo=120), measures=4)


def render_key(files: dict[str, bytes], instruments: dict[str, Instrument], versions: dict[str, str],
               settings: RenderSettings) -> str:
    data = {"composition": files_digest(files), "instruments": instruments_digest(instruments),
            "engines": versions, "settings": settings.to_dict(), "render_version": RENDER_VERSION}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def manifest_key(key: str) -> str:
    return content_key("renders", key, "render.json")


def parts_to_render(comp: Composition, instruments: dict[str, Instrument], upto: int | None = None) -> list[str]:
    parts = by_part(instruments)
    out = []
    for p in comp.parts:
        if p.id not in parts or parts[p.id].polyphony == 0:
            continue
        if any(e.kind == "note" and (upto is None or m <= upto) for m, e in comp.all_events(p.id)):
            out.append(p.id)
    return out


ProgressFn = Callable[[int, str], None]


@dataclasses.dataclass
class Stems:
    """What :func:`render_stems` made: ``paths[part]`` (the stem WAVs), each part's engine, the
    piece's length, and when each engine finished (seconds from the start)."""

    parts: list[str]
    engine_of: dict[str, str]
    jobs: dict[str, list[PartJob]]
    paths: dict[str, Path]
    duration: float
    frames: int
    measures: int
    done_at: dict[str, float]
    seconds: float
    write_cpu_s: float = 0.0  # CPU seconds this thread spent writing the stem files


def render_stems(comp: Composition, work: Path, settings: RenderSettings | None = None,
                 instruments: dict[str, Instrument] | None = None, workers: int = 2,
                 progress: ProgressFn | None = None, samples=None,
                 consume: Callable[[int, list], None] | None = None) -> Stems:
    """The stem stage: every part with notes rendered by its engine to ``work/stems/<part>.wav``.

    Each engine renders all its parts in one pass, in its own thread (both engines at once when
    both are used), streaming the stems into memory; this thread writes each stem's finished
    seconds as they come, and hands the same regions to ``consume(start_frame, [(2, k) planar array
    per part, in ``parts`` order])`` (the mixer) on a fixed grid of frames, so the sums downstream do
    not depend on the engines' timing. ``workers``: how many processes each engine may split its parts
    between. This is the work the bare tools do too (bench/render.py times it against them)."""
    settings = settings or RenderSettings()
    instruments = instruments or load_instruments()
    report = progress or (lambda pct, stage: None)
    parts_by = by_part(instruments)
    tm = TempoMap(comp)
    upto = min(settings.upto_measure or comp.measures, comp.measures)
    duration = tm.end(upto) + settings.tail_seconds
    frames = int(duration * A.SR)
    parts = parts_to_render(comp, instruments, settings.upto_measure)
    (work / "stems").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    by_engine: dict[str, list[PartJob]] = {}
    for part in parts:
        inst = parts_by[part]
        by_engine.setdefault(settings.engine_for(inst), []).append(PartJob(part, inst))
    engines = {name: make_engine(name) for name in by_engine}
    for eng in engines.values():
        eng.processes = max(1, workers)
        eng.samples = samples
    engine_of = {j.part: name for name, jobs in by_engine.items() for j in jobs}
    bufs = StemBuffers(parts, frames, shared=[p for p in parts if engines[engine_of[p]].shared_stems],
                       mono=[p for p in parts if engines[engine_of[p]].mono_stems])
    done_at: dict[str, float] = {}

    def run(name: str) -> None:
        scratch = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
        try:
            engines[name].render_parts(comp, by_engine[name], bufs, scratch, duration, settings.upto_measure)
            done_at[name] = time.perf_counter() - t0
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            bufs.fail(exc)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    report(5, "stems")
    # the slowest engine first: SuperCollider (with the vocoder's speech) starts before FluidSynth
    threads = [threading.Thread(target=run, args=(name,), name=f"render-{name}", daemon=True)
               for name in sorted(by_engine, key=lambda n: n != "supercollider")]
    for t in threads:
        t.start()
    # a stem file per part: stereo, or mono for a centred engine's stems (bufs.mono: one row, seen twice)
    writers = {p: A.WavWriter(work / "stems" / f"{p}.wav", frames, 1 if p in bufs.mono else 2, A.SR,
                              engines[engine_of[p]].stem_bits) for p in parts}
    have, told = 0, 0
    write_cpu = 0.0
    quantum = 1 << 15  # regions on a fixed grid: the same sums whatever the engines' timing
    try:
        while have < frames:
            avail = bufs.wait(have)
            upto_f = avail if avail >= frames else have + (avail - have) // quantum * quantum
            if upto_f <= have:
                avail = bufs.wait(have + quantum - 1)
                continue
            region = [bufs.data[p][:, have:upto_f] for p in parts]
            c = time.thread_time()
            for i, p in enumerate(parts):
                if p in bufs.mono:
                    writers[p].write(have, region[i][0])
                else:
                    writers[p].write(have, region[i].T, same_channels=p in bufs.same_channels)
            write_cpu += time.thread_time() - c
            if consume is not None:
                consume(have, region)
            have = upto_f
            pct = 5 + int(70 * have / max(1, frames))
            if pct - told >= 10:
                report(pct, "stems")
                told = pct
        for t in threads:
            t.join()
        if bufs.error is not None:
            raise bufs.error
        c = time.thread_time()
        paths = {p: w.close() for p, w in writers.items()}
        write_cpu += time.thread_time() - c
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return Stems(parts, engine_of, by_engine, paths, duration, frames, upto, done_at, time.perf_counter() - t0,
                 write_cpu)


def render_composition(comp: Composition, work: Path, settings: RenderSettings | None = None,
                       instruments: dict[str, Instrument] | None = None, workers: int = 2,
                       progress: ProgressFn | None = None, samples=None) -> dict[str, Any]:
    """Render every part with notes to ``work/stems/<part>.wav`` and mix to ``work/mixdown.wav``.

    The stems come from :func:`render_stems`; this thread mixes each finished region (dry and send
    buses, reverb, loudness and peak measurement) while the engines are still running, then applies
    the loudness gain and the limiter and writes the mixdown. ``workers``: how many processes each
    engine may split its parts between.

    ``samples``: where the library samples the instrument files name are found (a
    :class:`companion.samples.library.Resolver`; default: the system's SoundFonts).

    Returns {duration, stems: [{part, engine, path, ...}], mixdown: path, mix: {...}, timings,
    samples: {sha256: {ref, version, kind, parts}} (the library samples it played)}.
    """
    settings = settings or RenderSettings()
    instruments = instruments or load_instruments()
    report = progress or (lambda pct, stage: None)
    parts_by = by_part(instruments)
    tm = TempoMap(comp)
    upto = min(settings.upto_measure or comp.measures, comp.measures)
    frames = int((tm.end(upto) + settings.tail_seconds) * A.SR)
    parts = parts_to_render(comp, instruments, settings.upto_measure)
    t0 = time.perf_counter()
    mixes = []
    for part in parts:
        inst = parts_by[part]
        ch = comp.part(part).channel
        mixes.append(StemMix(part, None, inst.gain_db, inst.pan, inst.reverb_send,
                             volume=cc_points(comp, ch, 7, tm), expression=cc_points(comp, ch, 11, tm),
                             pan_points=cc_points(comp, ch, 10, tm), send_points=cc_points(comp, ch, 91, tm)))
    mixer = StreamMixer(mixes, settings.bus(instruments), frames)
    try:
        st = render_stems(comp, work, settings, instruments, workers, report, samples, consume=mixer.feed)
    except BaseException:
        mixer.abort()
        raise
    t_stems = time.perf_counter() - t0
    report(80, "mixdown")
    mix_path = work / "mixdown.wav"
    try:
        _, info = mixer.finish(mix_path, bits=24)
    finally:
        mixer.abort()
    report(95, "mixed")
    stems = [{"part": p, "engine": st.engine_of[p], "instrument": parts_by[p].id, "path": str(st.paths[p])}
             for p in sorted(st.parts)]
    return {"duration": round(st.duration, 3), "stems": stems, "mixdown": str(mix_path), "mix": info,
            "timings": {"stems_s": round(t_stems, 3), "total_s": round(time.perf_counter() - t0, 3),
                        **{f"{n}_s": round(v, 3) for n, v in st.done_at.items()},
                        "reverb_s": round(mixer.timings["reverb_s"], 3)},
            "measures": st.measures, "samples": samples_used(st.jobs)}


def load_cached(store: ObjectStore, key: str) -> dict | None:
    from companion.media.cache import load_complete

    return load_complete(store, manifest_key(key), lambda m: [m["mixdown"]["key"], *(
        s["key"] for s in m.get("stems", []) if s.get("key"))])


def render_version(store: ObjectStore, files: dict[str, bytes], work_dir: Path, settings: RenderSettings | None = None,
                   instruments: dict[str, Instrument] | None = None, source: dict | None = None, workers: int = 2,
                   progress: ProgressFn | None = None,
                   on_mixdown: Callable[[str, Path], None] | None = None) -> dict[str, Any]:
    """Render a composition version (its canonical files) through the cache into the object store.

    ``on_mixdown(key, path)``: called with the render key and the mixdown WAV as soon as it is written,
    before it is hashed and stored (the quick preview starts encoding then); the file is removed when
    this returns, so a caller that needs it longer links or copies it. Not called for a cached render.

    Returns the render manifest (``cached: True`` when nothing had to be done)."""
    settings = settings or RenderSettings()
    instruments = instruments or load_instruments()
    versions = engine_versions()
    key = render_key(files, instruments, versions, settings)
    cached = load_cached(store, key)
    if cached is not None:
        return {**cached, "cached": True}
    comp = Composition.from_files(files)
    if settings.upto_measure:  # a window (the quick preview): only its measures are read and rendered
        comp = window_composition(comp, settings.upto_measure).parse_all()
    else:
        comp.parse_all()
    work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="render-", dir=work_dir))
    stored: list[str] = []
    try:
        res = render_composition(comp, work, settings, instruments, workers, progress,
                                 samples=default_resolver(store, work_dir / "samples"))
        if on_mixdown is not None:
            on_mixdown(key, Path(res["mixdown"]))
        mix_sha = sha256_file(res["mixdown"])
        mix_key = content_key("renders", mix_sha, "mixdown.wav")
        store.put_file(mix_key, res["mixdown"], "audio/wav")
        stored.append(mix_key)
        stems = []
        for st in res["stems"]:
            sha = sha256_file(st["path"])
            entry = {k: v for k, v in st.items() if k != "path"}
            entry["sha256"] = sha
            if settings.stems:
                k = content_key("stems", sha, f"{st['part']}.wav")
                store.put_file(k, st["path"], "audio/wav")
                stored.append(k)
                entry["key"] = k
            stems.append(entry)
        manifest = {"key": key, "render_version": RENDER_VERSION, "engines": versions, "settings": settings.to_dict(),
                    "composition_digest": files_digest(files), "instruments_digest": instruments_digest(instruments),
                    "source": source or {}, "duration": res["duration"], "measures": res["measures"],
                    "mixdown": {"key": mix_key, "sha256": mix_sha, "size": Path(res["mixdown"]).stat().st_size,
                                **res["mix"]},
                    "stems": stems, "timings": res["timings"], "samples": res["samples"]}
        store.put_bytes(manifest_key(key), json.dumps(manifest, indent=2, sort_keys=True).encode(), "application/json")
        return {**manifest, "cached": False}
    except BaseException:
        for k in stored:  # leave nothing half-made behind
            try:
                store.delete(k)
            except Exception:
                pass
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
