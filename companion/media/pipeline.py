"""The release pipeline: one finished recording in, every file fans and the player need out.

Like beets' importer it is a chain of small named stages, each a plain function of a
:class:`Release` (the state of one run)::

    probe -> decode (WAV master; loudness beside it) -> encode (masters, downloads, HLS rungs)
          -> hls (segment each rung by stream copy; master playlist) -> preview (cut from a rung)
          -> peaks -> tag (tag, read back, hash) -> publish (object store) -> manifest

The stages do not run one after another: each adds tasks (with dependencies and a cost
estimate) to one graph, and :func:`run_graph` runs the graph on ``workers`` threads, each
driving one single-threaded ffmpeg process at a time, longest task first. Stage names are
what ``progress(percent, stage)`` reports.

Speed comes from not doing work twice: the source is decoded once (the WAV master is the
intermediate every encoder reads), each HLS rung is encoded once and segmented by stream copy,
the preview is cut from a rung by stream copy, the FLAC and WAV downloads are the master
files themselves, peaks are computed from the master with numpy.

Caching: the manifest is stored under ``manifests/<cache_key>`` where the cache key hashes the
source, the settings, the tags (cover by hash) and :data:`PIPELINE_VERSION`; a repeat run
finds it, checks its keys exist and returns it (``cached: True``) without starting a
process. Untagged encodes (and the loudness measurement) are cached on local disk under
``work_dir/cache`` by (source sha256, rendition spec, master format, gain), and the HLS ladder
and peaks in the store by the hash of their inputs, so a change of tags only re-tags.
Work happens in a private temporary folder under ``work_dir``; each finished file is put in
the store (atomically, under its content key) as soon as it is tagged, so uploads overlap the
encoders; if anything fails, every object this run stored is removed again, and the manifest,
written last, is the only thing that names them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable

from companion.errors import Unprocessable
from companion.media import hls as hlsmod
from companion.media import loudness as loud
from companion.media.ffmpeg import ffmpeg
from companion.media.peaks import compute_peaks
from companion.media.probe import ProbeResult, check_decodes, probe
from companion.media.renditions import (
    DOWNLOADS, MASTERS, PREVIEW, MasterFormat, RenditionSpec, master_format, output_args,
    rendition_bit_depth, stream_rung,
)
from companion.media.tags import Tags, tag_file
from companion.storage.base import ObjectStore, content_key, sha256_file

log = logging.getLogger(__name__)

#: 1.1: HLS segments are fMP4 (init.mp4 + .m4s, #EXT-X-MAP) instead of MPEG-TS.
PIPELINE_VERSION = "1.1"

ProgressFn = Callable[[int, str], None]


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """Settings of the release pipeline (see :meth:`from_config` for the companion's Config).

    Attributes:
        target_lufs: integrated loudness of the stream ladder and preview.
        true_peak_ceiling: the ladder's gain is lowered so measured true peak + gain <= this.
        hls_bitrates: AAC rungs in kbps.
        segment_seconds: HLS segment length.
        preview_seconds: length of the preview clip.
        workers: ffmpeg processes side by side (0: one per core).
        preview_start: where the preview starts (seconds into the track).
        preview_bitrate: the rung the preview is cut from (kbps; None: the highest rung).
        peaks_zooms: samples per pixel of each waveform zoom level.
        extra_renditions: more download specs to make (e.g. a label's own format).
    """

    target_lufs: float = -14.0
    true_peak_ceiling: float = -1.0
    hls_bitrates: tuple[int, ...] = (48, 96, 192)
    segment_seconds: int = 4
    preview_seconds: int = 30
    workers: int = 0
    preview_start: float = 0.0
    preview_bitrate: int | None = None
    peaks_zooms: tuple[int, ...] = (256, 2048)
    extra_renditions: tuple[RenditionSpec, ...] = ()

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "PipelineSettings":
        """Settings from a :class:`companion.config.Config`."""
        values = dict(target_lufs=config.loudness_target_lufs, true_peak_ceiling=config.true_peak_ceiling_db,
                      hls_bitrates=tuple(config.hls_ladder), segment_seconds=config.hls_segment_seconds,
                      preview_seconds=config.preview_seconds, workers=config.encode_workers)
        values.update(overrides)
        return cls(**values)

    def fingerprint_data(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("workers")  # does not change any output
        d["extra_renditions"] = [s.fingerprint() for s in self.extra_renditions]
        return d

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    @property
    def preview_rung(self) -> int:
        rungs = sorted(self.hls_bitrates)
        if self.preview_bitrate is None:
            return rungs[-1]
        return min(rungs, key=lambda r: abs(r - self.preview_bitrate))


def cache_key_for(source_sha: str, settings: PipelineSettings, tags: Tags) -> str:
    """sha256 of (source sha256, settings, tags incl. cover hash, pipeline version)."""
    data = {"source": source_sha, "settings": settings.fingerprint_data(), "tags": tags.fingerprint_data(),
            "pipeline_version": PIPELINE_VERSION}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def manifest_key(cache_key: str) -> str:
    return content_key("manifests", cache_key, "manifest.json")


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _slug(text: str) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:60] or "track"


# --- the task graph ---------------------------------------------------------------------------

@dataclasses.dataclass
class Task:
    """One unit of work: a function, the tasks it waits for, and how long it should take."""

    name: str
    fn: Callable[[], Any]
    cost: float = 1.0
    deps: tuple[str, ...] = ()
    stage: str = ""
    light: bool = False  # short or I/O-bound (tagging, stream copies, uploads): runs beside the encoders


def critical_path(tasks: Iterable[Task]) -> dict[str, float]:
    """Each task's cost plus the costliest chain of tasks that depend on it."""
    by_name = {t.name: t for t in tasks}
    children: dict[str, list[str]] = {n: [] for n in by_name}
    for t in by_name.values():
        for d in t.deps:
            children[d].append(t.name)
    rank: dict[str, float] = {}

    def visit(name: str) -> float:
        if name not in rank:
            rank[name] = by_name[name].cost + max((visit(c) for c in children[name]), default=0.0)
        return rank[name]

    for name in by_name:
        visit(name)
    return rank


def run_graph(tasks: Iterable[Task], workers: int, on_done: Callable[[Task], None] | None = None,
              results: dict[str, Any] | None = None, light_workers: int = 2) -> dict[str, Any]:
    """Run tasks on ``workers`` threads, each as soon as its dependencies are done, the costliest
    ready task first. ``light`` tasks (short, mostly I/O) run on their own ``light_workers``
    threads as soon as they are ready, so they never wait behind a long encode.

    Ready tasks are started in order of their critical path: their own cost plus the longest
    chain of work waiting on them (list scheduling by upward rank), so a short task that gates
    long ones (loudness before the normalised ladder) starts before a long task that gates none.

    Returns {name: result} (filled in ``results`` as tasks finish, so a task can read its
    dependencies' results). The first failure stops new tasks from starting, waits for running
    ones, and is raised."""
    pending = {t.name: t for t in tasks}
    for t in pending.values():
        missing = [d for d in t.deps if d not in pending]
        if missing:
            raise ValueError(f"task {t.name} depends on unknown {missing}")
    rank = critical_path(pending.values())
    results = {} if results is None else results
    running: dict[Future, Task] = {}
    failure: BaseException | None = None
    workers = max(1, workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="release") as pool, \
            ThreadPoolExecutor(max_workers=max(1, light_workers), thread_name_prefix="release-io") as light:
        while (pending and failure is None) or running:
            if failure is None:
                ready = sorted((t for t in pending.values() if all(d in results for d in t.deps)),
                               key=lambda t: (-rank[t.name], t.name))
                heavy_running = sum(1 for t in running.values() if not t.light)
                for t in ready:
                    if t.light:
                        running[light.submit(t.fn)] = t
                    elif heavy_running < workers:
                        heavy_running += 1
                        running[pool.submit(t.fn)] = t
                    else:
                        continue
                    del pending[t.name]
                if not running and pending:
                    raise RuntimeError(f"tasks can never start: {sorted(pending)}")
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                try:
                    results[task.name] = fut.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    failure = failure or exc
                    continue
                if on_done is not None:
                    on_done(task)
    if failure is not None:
        raise failure
    return results


# --- the state of one run ---------------------------------------------------------------------

@dataclasses.dataclass
class Output:
    """A file made by this run, waiting to be published."""

    spec: RenditionSpec
    path: Path
    gain_db: float = 0.0
    normalized: bool = False
    read: dict[str, Any] | None = None
    sha256: str = ""
    key: str = ""


class Release:
    """Everything one run knows: paths, source facts, results of stages, outputs to publish."""

    def __init__(self, source: Path, store: ObjectStore, work_dir: Path, tags: Tags, settings: PipelineSettings,
                 progress: ProgressFn | None, filename: str | None, source_sha: str, cache_key: str):
        self.source = source
        self.store = store
        self.work_dir = work_dir
        self.tags = tags
        self.settings = settings
        self.progress = progress
        self.filename = filename or source.name
        self.source_sha = source_sha
        self.cache_key = cache_key
        self.cache_dir = work_dir / "cache"
        self.tmp: Path = Path()
        self.info: ProbeResult | None = None
        self.fmt: MasterFormat | None = None
        self.tasks: list[Task] = []
        self.results: dict[str, Any] = {}
        self.outputs: dict[str, Output] = {}  # by rendition name
        self.untagged: dict[str, Path] = {}  # cache paths of untagged encodes, by spec name
        self.hls: dict[str, Any] | None = None
        self.peaks: list[dict[str, Any]] = []
        self.loudness: loud.Loudness | None = None
        self.stream_gain: float = 0.0
        self.hls_files: list[tuple[str, Path, str]] = []
        self.created: list[str] = []
        self.ladder_digest = ""
        self._done = 0
        self._lock = threading.Lock()

    # helpers used by stages
    def results_of(self, name: str) -> Any:
        return self.results[name]

    def add(self, name: str, fn: Callable[[], Any], *, cost: float, deps: Iterable[str] = (), stage: str = "",
            light: bool = False) -> None:
        self.tasks.append(Task(name, fn, cost * max(self.info.duration if self.info else 1.0, 1.0),
                               tuple(deps), stage or name, light))

    def put(self, key: str, what: Path | bytes, mime: str) -> None:
        """Store a finished file now (content-addressed: skipped when present); remembered so a
        failure later in the run can take it back out."""
        if self.store.exists(key):
            return
        if isinstance(what, bytes):
            self.store.put_bytes(key, what, mime)
        else:
            self.store.put_file(key, what, mime)
        with self._lock:
            self.created.append(key)

    def rollback(self) -> None:
        """Remove every object this run stored (called when the run fails)."""
        with self._lock:
            created, self.created = self.created, []
        for key in created:
            try:
                self.store.delete(key)
            except Exception:  # pragma: no cover - best effort
                log.exception("could not remove %s after a failed release", key)

    def report(self, percent: int, stage: str) -> None:
        if self.progress is not None:
            try:
                self.progress(max(0, min(100, int(percent))), stage)
            except Exception:  # a broken progress callback must not break the release
                log.exception("progress callback failed")

    def task_done(self, task: Task) -> None:
        with self._lock:
            self._done += 1
            pct = 5 + int(85 * self._done / max(1, len(self.tasks)))
        self.report(pct, task.stage)

    def cached_encode(self, digest: str, filename: str, make: Callable[[Path], None]) -> Path:
        """The cached file for ``digest``; made with ``make(tmp_path)`` and renamed in when absent."""
        final = self.cache_dir / "encodes" / digest[:2] / digest / filename
        if final.is_file():
            return final
        tmp = self.tmp / "encode" / f"{digest[:16]}-{filename}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        make(tmp)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return final

    def cached_json(self, kind: str, digest: str, make: Callable[[], dict]) -> dict:
        path = self.cache_dir / kind / f"{digest}.json"
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass
        data = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{kind}-{digest[:16]}.json"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
        return data


def _encode_args(src: Path, spec: RenditionSpec, fmt: MasterFormat, out: Path, filters: str | None = None) -> list[str]:
    args = ["-threads", "1", "-i", str(src), "-map", "0:a:0", "-map_metadata", "-1", "-vn"]
    if filters:
        args += ["-af", filters]
    return args + ["-threads", "1", *output_args(spec, fmt), "-y", str(out)]


# --- stages -----------------------------------------------------------------------------------

def stage_probe(r: Release) -> None:
    """Identify the source (typed errors for anything we cannot release)."""
    r.info = probe(r.source, r.filename, decode_check=False)  # decoded once, in stage_decode
    r.fmt = master_format(r.info)
    r.report(3, "probe")


def _master_digest(r: Release) -> str:
    return _digest("master", r.source_sha, MASTERS[0].fingerprint(), dataclasses.asdict(r.fmt), PIPELINE_VERSION)


def stage_decode(r: Release) -> None:
    """The WAV master, decoded once (compressed sources are checked for truncation while
    decoding); loudness measured beside it (PCM sources) or from it (compressed sources)."""
    spec = MASTERS[0]
    pcm_source = r.info.format_name in ("wav", "aiff")

    def make_master(tmp: Path) -> None:
        args = _encode_args(r.source, spec, r.fmt, tmp)
        if pcm_source:
            ffmpeg(args)
        else:  # decode with -xerror and compare the decoded duration with the declared one
            check_decodes(r.source, r.info, r.filename, *args[args.index("-vn") + 1:])

    def master() -> Path:
        path = r.cached_encode(_master_digest(r), "master.wav", make_master)
        r.untagged[spec.name] = path
        return path

    def measure() -> loud.Loudness:
        def make() -> dict:
            target = r.source if pcm_source else r.untagged[spec.name]
            return loud.measure(target).to_dict()

        r.loudness = loud.Loudness.from_dict(r.cached_json("loudness", _digest(r.source_sha, PIPELINE_VERSION), make))
        r.stream_gain = loud.normalization_gain(r.loudness, r.settings.target_lufs, r.settings.true_peak_ceiling)
        return r.loudness

    r.add("master-wav", master, cost=0.05, stage="decode")
    r.add("loudness", measure, cost=0.3, deps=() if pcm_source else ("master-wav",), stage="loudness")


def _spec_digest(r: Release, spec: RenditionSpec, *extra: Any) -> str:
    return _digest(r.source_sha, spec.fingerprint(), dataclasses.asdict(r.fmt), PIPELINE_VERSION, *extra)


def stage_encode(r: Release) -> None:
    """Masters and downloads from the WAV master, side by side (reused files are not encoded)."""
    for spec in (*MASTERS[1:], *DOWNLOADS, *r.settings.extra_renditions):
        if spec.reuse:
            continue

        def encode(spec: RenditionSpec = spec) -> Path:
            src = r.untagged["master-wav"]
            path = r.cached_encode(_spec_digest(r, spec), f"{spec.name}.{spec.extension}",
                                   lambda tmp: ffmpeg(_encode_args(src, spec, r.fmt, tmp)))
            r.untagged[spec.name] = path
            return path

        r.add(spec.name, encode, cost=spec.cost, deps=("master-wav",), stage=f"encode:{spec.name}")


def _ladder_digest(r: Release) -> str:
    s = r.settings
    return _digest("hls", r.source_sha, dataclasses.asdict(r.fmt), sorted(s.hls_bitrates), s.segment_seconds,
                   s.target_lufs, s.true_peak_ceiling, [stream_rung(k).fingerprint() for k in s.hls_bitrates],
                   PIPELINE_VERSION)


def _ladder_from_store(r: Release, ladder: str) -> dict[str, Any] | None:
    """The stored ladder's manifest entry, if the whole ladder is in the store."""
    try:
        info = json.loads(r.store.get_bytes(content_key("hls", ladder, "ladder.json")))
    except (KeyError, ValueError):
        return None
    keys = [info["master_key"], *(v["playlist_key"] for v in info["variants"])]
    if not all(r.store.exists(k) for k in keys):
        return None
    segs = [k for k in r.store.list(info["prefix"]) if k.endswith(hlsmod.SEGMENT_SUFFIX)]
    if len(segs) < sum(v["segments"] for v in info["variants"]):
        return None
    return info


def stage_hls(r: Release) -> None:
    """Normalised AAC rungs, each encoded once and segmented by stream copy; master playlist."""
    s = r.settings
    ladder = r.ladder_digest = _ladder_digest(r)
    stored = _ladder_from_store(r, ladder)
    prefix = content_key("hls", ladder, "master.m3u8").rsplit("/", 1)[0]
    preview_rung = s.preview_rung
    preview_digest = _digest("preview", _spec_digest(r, stream_rung(preview_rung)), s.preview_start,
                             s.preview_seconds, s.target_lufs, s.true_peak_ceiling, PREVIEW.fingerprint())
    preview_cached = (r.cache_dir / "encodes" / preview_digest[:2] / preview_digest / "preview.m4a").is_file()
    if stored is not None:
        r.hls = stored
    rungs = sorted(s.hls_bitrates) if stored is None else ([] if preview_cached else [preview_rung])
    hls_dir = r.tmp / "hls"

    for kbps in rungs:
        spec = stream_rung(kbps)

        def encode_rung(spec: RenditionSpec = spec) -> Path:
            src = r.untagged["master-wav"]
            gain = r.stream_gain
            return r.cached_encode(_spec_digest(r, spec, round(gain, 2)), f"{spec.name}.m4a",
                                   lambda tmp: ffmpeg(_encode_args(src, spec, r.fmt, tmp, f"volume={gain:.2f}dB")))

        r.add(spec.name, encode_rung, cost=spec.cost, deps=("master-wav", "loudness"), stage=f"encode:{spec.name}")
        if stored is None:
            r.add(f"segment-{kbps}", lambda kbps=kbps, name=spec.name: hlsmod.segment(
                r.results_of(name), hls_dir, kbps, s.segment_seconds), cost=0.01, deps=(spec.name,), stage="hls",
                light=True)

    if stored is None:
        def master_playlist() -> dict[str, Any]:
            variants = [r.results_of(f"segment-{k}") for k in sorted(s.hls_bitrates)]
            text = hlsmod.master_playlist(variants)
            (hls_dir / "master.m3u8").write_text(text)
            entry = {"prefix": prefix, "master_key": content_key("hls", ladder, "master.m3u8"),
                     "segment_seconds": s.segment_seconds, "segment_type": "fmp4", "gain_db": r.stream_gain,
                     "target_lufs": s.target_lufs, "variants": []}
            files = [(entry["master_key"], hls_dir / "master.m3u8", "application/vnd.apple.mpegurl")]
            for v in variants:
                d = v.to_dict()
                d["playlist_key"] = content_key("hls", ladder, v.playlist.name)
                entry["variants"].append(d)
                files.append((d["playlist_key"], v.playlist, hlsmod.MIME_TYPES[".m3u8"]))
                if v.init is not None:
                    d["init_key"] = content_key("hls", ladder, v.init.name)
                    files.append((d["init_key"], v.init, hlsmod.MIME_TYPES[".mp4"]))
                files += [(content_key("hls", ladder, seg.name), seg, hlsmod.MIME_TYPES[seg.suffix]) for seg in v.segments]
            # Segments and variant playlists first, the master playlist and the ladder's
            # description last: a stored ladder.json means the whole ladder is there.
            for key, path, mime in files[1:] + files[:1]:
                r.put(key, path, mime)
            r.put(content_key("hls", ladder, "ladder.json"), json.dumps(entry).encode(), "application/json")
            r.hls = entry
            return entry

        r.add("hls-master", master_playlist, cost=0.001, deps=tuple(f"segment-{k}" for k in s.hls_bitrates),
              stage="hls", light=True)

    def cut_preview() -> Path:
        def make(tmp: Path) -> None:
            rung = r.results_of(stream_rung(preview_rung).name)
            ffmpeg(["-ss", f"{s.preview_start:.3f}", "-i", str(rung), "-map", "0:a:0", "-t", str(s.preview_seconds),
                    *PREVIEW.args, "-y", str(tmp)])

        if preview_cached:
            path = r.cached_encode(preview_digest, "preview.m4a", lambda tmp: None)
        else:
            path = r.cached_encode(preview_digest, "preview.m4a", make)
        r.untagged[PREVIEW.name] = path
        return path

    r.add("preview", cut_preview, cost=PREVIEW.cost,
          deps=() if preview_cached else (stream_rung(preview_rung).name,), stage="preview", light=True)


def stage_peaks(r: Release) -> None:
    """audiowaveform JSON at each zoom level, from the WAV master."""
    digest = _digest("peaks", r.source_sha, sorted(r.settings.peaks_zooms), PIPELINE_VERSION)
    keys = {z: content_key("peaks", digest, f"peaks-{z}.json") for z in sorted(r.settings.peaks_zooms)}

    def make() -> list[dict[str, Any]]:
        rows = []
        stored = all(r.store.exists(k) for k in keys.values())
        if stored:
            for z, k in keys.items():
                doc = json.loads(r.store.get_bytes(k))
                rows.append({"samples_per_pixel": z, "length": doc["length"], "key": k})
            r.peaks = rows
            return rows
        for doc in compute_peaks(r.untagged["master-wav"], r.settings.peaks_zooms):
            z = doc["samples_per_pixel"]
            data = json.dumps(doc, separators=(",", ":")).encode()
            r.put(keys[z], data, "application/json")
            rows.append({"samples_per_pixel": z, "length": doc["length"], "key": keys[z]})
        r.peaks = rows
        return rows

    r.add("peaks", make, cost=0.02, deps=("master-wav",), stage="peaks", light=True)


def stage_tag(r: Release) -> None:
    """Copy each untagged file, tag it, read the tags back, hash it: its content key."""
    title_slug = _slug(r.tags.title)
    specs = [s for s in (*MASTERS, *DOWNLOADS, *r.settings.extra_renditions) if not s.reuse] + [PREVIEW]
    for spec in specs:
        def tag(spec: RenditionSpec = spec) -> Output:
            src = r.untagged[spec.name]
            out = r.tmp / "out" / f"{title_slug}-{spec.name}.{spec.extension}"
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
            extra: dict[str, str] = {}
            if spec.kind in ("master", "download"):
                if spec.codec == "opus":
                    extra = {"R128_TRACK_GAIN": loud.r128_track_gain(r.loudness)}
                else:
                    extra = loud.replaygain_tags(r.loudness)
            normalized = spec.kind == "preview"
            o = Output(spec, out, gain_db=r.stream_gain if normalized else 0.0, normalized=normalized)
            o.read = tag_file(out, spec.tag_format, r.tags, extra)
            o.sha256 = sha256_file(out)
            o.key = content_key("renditions", o.sha256, out.name)
            r.put(o.key, out, spec.mime)
            r.outputs[spec.name] = o
            return o

        deps = [spec.name, "loudness"]
        r.add(f"tag-{spec.name}", tag, cost=0.005, deps=deps, stage=f"tag:{spec.name}", light=True)


def stage_publish(r: Release) -> None:
    """Files are stored as soon as each is finished (see :meth:`Release.put`); this stage is the
    point where all of them are in, before the manifest that names them."""
    missing = [o.key for o in r.outputs.values() if not r.store.exists(o.key)]
    if missing:  # pragma: no cover - would be a bug in a stage
        raise RuntimeError(f"not stored: {missing}")
    r.report(95, "publish")


def _rendition_row(r: Release, spec: RenditionSpec, o: Output) -> dict[str, Any]:
    read = o.read or {}
    lossless = spec.lossless
    sample_rate = read.get("sample_rate") or (48000 if spec.codec == "opus" else r.fmt.sample_rate)
    bitrate = None if lossless else (spec.bitrate or read.get("bitrate"))
    if spec.kind == "preview":
        bitrate = r.settings.preview_rung * 1000
    return {
        "name": spec.name, "kind": spec.kind, "label": spec.label, "format": spec.extension, "codec": spec.codec,
        "container": spec.container, "mime": spec.mime, "extension": spec.extension, "bitrate": bitrate,
        "sample_rate": sample_rate, "channels": read.get("channels") or r.fmt.channels,
        "bit_depth": rendition_bit_depth(spec, r.fmt), "duration": round(float(read.get("length") or 0.0), 3),
        "size": o.path.stat().st_size, "key": o.key, "sha256": o.sha256, "normalized": o.normalized,
        "gain_db": o.gain_db,
    }


def stage_manifest(r: Release) -> dict[str, Any]:
    """The JSON manifest of the release, stored last (its presence means the release is complete)."""
    rows = []
    for spec in (*MASTERS, *DOWNLOADS, *r.settings.extra_renditions, PREVIEW):
        o = r.outputs[spec.reuse or spec.name]
        row = _rendition_row(r, spec, o)
        row["name"], row["kind"], row["label"] = spec.name, spec.kind, spec.label
        rows.append(row)
    info = r.info
    manifest = {
        "pipeline_version": PIPELINE_VERSION,
        "cache_key": r.cache_key,
        "cached": False,
        "source": {"sha256": r.source_sha, "filename": r.filename, "format": info.format_name, "codec": info.codec,
                   "sample_rate": info.sample_rate, "channels": info.channels, "bit_depth": info.bit_depth,
                   "duration": round(info.duration, 3)},
        "loudness": r.loudness.to_dict(),
        "replaygain": loud.replaygain_tags(r.loudness),
        "stream_gain_db": r.stream_gain,
        "target_lufs": r.settings.target_lufs,
        "renditions": rows,
        "hls": {"master_key": r.hls["master_key"], "prefix": r.hls["prefix"],
                "segment_seconds": r.hls["segment_seconds"], "segment_type": r.hls.get("segment_type", "mpegts"),
                "gain_db": r.hls["gain_db"],
                "variants": r.hls["variants"]},
        "peaks": r.peaks,
    }
    r.store.put_bytes(manifest_key(r.cache_key), json.dumps(manifest, indent=1).encode(), "application/json")
    return manifest


STAGES: tuple[Callable[[Release], None], ...] = (stage_decode, stage_encode, stage_hls, stage_peaks, stage_tag)


# --- entry point ------------------------------------------------------------------------------

def load_cached(store: ObjectStore, cache_key: str) -> dict[str, Any] | None:
    """The stored manifest for ``cache_key`` if it and every key it names are in the store."""
    try:
        manifest = json.loads(store.get_bytes(manifest_key(cache_key)))
    except (KeyError, ValueError):
        return None
    keys = {row["key"] for row in manifest.get("renditions", [])}
    keys |= {p["key"] for p in manifest.get("peaks", [])}
    hls = manifest.get("hls") or {}
    keys |= {hls.get("master_key")} | {v.get("playlist_key") for v in hls.get("variants", [])}
    keys |= {v["init_key"] for v in hls.get("variants", []) if v.get("init_key")}
    if None in keys or not all(store.exists(k) for k in keys):
        return None
    want_segs = sum(v.get("segments", 0) for v in hls.get("variants", []))
    if want_segs and sum(1 for k in store.list(hls["prefix"]) if k.endswith(hlsmod.SEGMENT_SUFFIX)) < want_segs:
        return None
    manifest["cached"] = True
    return manifest


def run_release(source: Path, store: ObjectStore, work_dir: Path, tags: Tags,
                settings: PipelineSettings = PipelineSettings(), progress: ProgressFn | None = None,
                filename: str | None = None) -> dict[str, Any]:
    """Make every rendition of ``source`` and store it; return the manifest (JSON-serialisable).

    Args:
        source: the uploaded or rendered recording (WAV, AIFF, FLAC, MP3, Ogg Vorbis/Opus, M4A).
        store: where renditions, the HLS ladder, peaks and the manifest go.
        work_dir: scratch space on the same machine (a private folder is made inside it and
            removed afterwards; ``work_dir/cache`` keeps untagged encodes for re-tagging).
        tags: what every file says about itself.
        settings: loudness target, ladder, segment length, preview, workers.
        progress: called as ``progress(percent, stage)`` when stages complete.
        filename: the name the user gave the upload (for the extension check).

    Raises:
        UnsupportedMedia, Unprocessable: the source cannot be released (see probe).
        MediaToolError: an encoder failed (nothing is stored).
    """
    source = Path(source)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if not source.is_file():
        raise Unprocessable(f"{source.name} does not exist.", code="missing", details={"path": str(source)})
    source_sha = sha256_file(source)
    key = cache_key_for(source_sha, settings, tags)
    cached = load_cached(store, key)
    if cached is not None:
        if progress:
            progress(100, "cached")
        return cached

    r = Release(source, store, work_dir, tags, settings, progress, filename, source_sha, key)
    r.tmp = Path(tempfile.mkdtemp(prefix="release-", dir=work_dir))
    try:
        stage_probe(r)
        for stage in STAGES:
            stage(r)
        run_graph(r.tasks, settings.worker_count, r.task_done, r.results)
        stage_publish(r)
        manifest = stage_manifest(r)
        r.report(100, "manifest")
        return manifest
    except BaseException:
        r.rollback()
        raise
    finally:
        shutil.rmtree(r.tmp, ignore_errors=True)


def prune_cache(work_dir: Path, older_than_days: float = 14.0) -> int:
    """Remove cached untagged encodes and measurements not used for ``older_than_days``
    (for a periodic job or a CLI command). Returns the number of files removed."""
    root = Path(work_dir) / "cache"
    if not root.is_dir():
        return 0
    limit = time.time() - older_than_days * 86400
    removed = 0
    for path in sorted(root.rglob("*"), reverse=True):
        try:
            if path.is_file() and max(path.stat().st_mtime, path.stat().st_atime) < limit:
                path.unlink()
                removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        except OSError:
            continue
    return removed
