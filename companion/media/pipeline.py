"""The release pipeline: one finished recording in, every file fans and the player need out.

Like beets' importer it is a chain of small named stages (:mod:`companion.media.stages`), each
a plain function with explicit inputs and one result::

    probe -> decode (WAV master; loudness beside it) -> encode (masters, downloads, HLS rungs)
          -> hls (segment each rung by stream copy; master playlist) -> preview (cut from a rung)
          -> peaks -> tag (tag, read back, hash, store) -> manifest

The stages do not run one after another: :func:`plan` turns them into one graph of tasks
(with dependencies and a cost estimate) and :func:`companion.media.scheduler.run_graph` runs
it on ``workers`` threads, each driving one single-threaded ffmpeg process at a time, longest
chain first. Task stages are what ``progress(percent, stage)`` reports.

Speed comes from not doing work twice: the source is decoded once (the WAV master is the
intermediate every encoder reads), each HLS rung is encoded once and segmented by stream copy,
the preview is cut from a rung by stream copy, the FLAC and WAV downloads are the master
files themselves, peaks are computed from the master with numpy.

Caching: the manifest is stored under ``manifests/<cache_key>`` where the cache key hashes the
source, the settings, the tags (cover by hash) and :data:`PIPELINE_VERSION`; a repeat run
finds it, checks its keys exist (:func:`companion.media.cache.load_complete`) and returns it
(``cached: True``) without starting a process. Untagged encodes (and the loudness measurement)
are cached on local disk under ``work_dir/cache`` by (source sha256, rendition spec, master
format, gain), and the HLS ladder and peaks in the store by the hash of their inputs, so a
change of tags only re-tags. Work happens in a private temporary folder under ``work_dir``;
each finished file is put in the store (atomically, under its content key) as soon as it is
tagged, so uploads overlap the encoders; if anything fails, every object this run stored is
removed again, and the manifest, written last, is the only thing that names them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

from companion.errors import Unprocessable
from companion.media import stages as st
from companion.media.cache import DiskCache, Journal, load_complete
from companion.media.renditions import DOWNLOADS, MASTERS, PREVIEW, RenditionSpec, stream_rung
from companion.media.scheduler import Task, run_graph
from companion.media.settings import PipelineSettings
from companion.media.stages import PIPELINE_VERSION
from companion.media.tags import Tags
from companion.storage.base import ObjectStore, content_key, sha256_file

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, str], None]

#: Cost of measuring an encoded rung (EBU R128 with true peak), relative to encoding costs.
MEASURE_COST = 0.3

__all__ = ["PIPELINE_VERSION", "PipelineSettings", "cache_key_for", "load_cached", "manifest_key", "plan",
           "prune_cache", "run_release"]


def cache_key_for(source_sha: str, settings: PipelineSettings, tags: Tags) -> str:
    """sha256 of (source sha256, settings, tags incl. cover hash, pipeline version)."""
    data = {"source": source_sha, "settings": settings.fingerprint_data(), "tags": tags.fingerprint_data(),
            "pipeline_version": PIPELINE_VERSION}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def manifest_key(cache_key: str) -> str:
    return content_key("manifests", cache_key, "manifest.json")


def load_cached(store: ObjectStore, cache_key: str) -> dict[str, Any] | None:
    """The stored manifest for ``cache_key`` if it and every key it names are in the store."""
    manifest = load_complete(store, manifest_key(cache_key), st.manifest_needs)
    if manifest is not None:
        manifest["cached"] = True
    return manifest


def rendition_specs(settings: PipelineSettings) -> tuple[RenditionSpec, ...]:
    """Every rendition the manifest lists, in its order."""
    return (*MASTERS, *DOWNLOADS, *settings.extra_renditions, PREVIEW)


# --- planning: the stages as one graph of tasks -----------------------------------------------

@dataclasses.dataclass(frozen=True)
class Run:
    """The fixed facts of one run, bound into its tasks."""

    source: st.Source
    settings: PipelineSettings
    tags: Tags
    journal: Journal
    cache: DiskCache
    scratch: Path

    @property
    def hls_dir(self) -> Path:
        return self.scratch / "hls"

    @property
    def out_dir(self) -> Path:
        return self.scratch / "out"


def _given(value: Any) -> Any:
    return value


def plan_decode(run: Run) -> list[Task]:
    """The WAV master, and loudness beside it (PCM sources) or from it (compressed sources)."""
    src = run.source
    return [Task("master-wav", partial(st.decode_master, src, run.cache), cost=0.05, stage="decode"),
            Task("loudness", partial(st.measure_loudness, src, run.cache), cost=0.3,
                 deps=() if src.pcm else ("master-wav",), stage="loudness")]


def plan_encode(run: Run) -> list[Task]:
    """Masters and downloads from the WAV master, side by side (reused files are not encoded)."""
    specs = (*MASTERS[1:], *DOWNLOADS, *run.settings.extra_renditions)
    return [Task(spec.name, partial(st.encode_rendition, run.source, run.cache, spec), cost=spec.cost,
                 deps=("master-wav",), stage=f"encode:{spec.name}") for spec in specs if not spec.reuse]


def plan_hls(run: Run) -> list[Task]:
    """The normalised ladder (or the stored one) and the preview (or the cached one), each
    measured after encoding and corrected to meet the true-peak ceiling."""
    s, src = run.settings, run.source
    ladder = st.ladder_digest(src, s)
    stored = st.stored_ladder(run.journal.store, ladder)
    preview_key = st.preview_digest(src, s)
    preview = st.cached_preview(run.cache, preview_key)
    rungs = sorted(s.hls_bitrates) if stored is None else ([] if preview is not None else [s.preview_rung])
    tasks = []
    for kbps in rungs:
        spec = stream_rung(kbps)
        tasks.append(Task(spec.name, partial(st.encode_rung, src, run.cache, s, kbps), cost=spec.cost + MEASURE_COST,
                          deps=("master-wav", "loudness"), stage=f"encode:{spec.name}"))
        if stored is None:
            tasks.append(Task(f"segment-{kbps}", partial(st.segment_rung, run.hls_dir, s.segment_seconds),
                              cost=0.01, deps=(spec.name,), stage="hls", light=True))
    if stored is None:
        tasks.append(Task("hls-master", partial(st.store_ladder, run.journal, ladder, s, run.hls_dir), cost=0.001,
                          deps=("loudness", *(f"segment-{k}" for k in sorted(s.hls_bitrates))), stage="hls",
                          light=True))
    else:
        tasks.append(Task("hls-master", partial(_given, stored), cost=0.0, stage="hls", light=True))
    if preview is not None:
        tasks.append(Task("preview", partial(_given, preview), cost=0.0, stage="preview", light=True))
    else:
        tasks.append(Task("preview", partial(st.cut_preview, src, run.cache, s, preview_key), cost=PREVIEW.cost,
                          deps=(stream_rung(s.preview_rung).name, "master-wav"), stage="preview", light=True))
    return tasks


def plan_peaks(run: Run) -> list[Task]:
    """audiowaveform JSON at each zoom level, from the WAV master."""
    keys = st.peaks_keys(run.source, run.settings.peaks_zooms)
    return [Task("peaks", partial(st.make_peaks, run.journal, keys), cost=0.02, deps=("master-wav",),
                 stage="peaks", light=True)]


def plan_tag(run: Run) -> list[Task]:
    """Tag, read back, hash and store every file (the preview with its gain)."""
    specs = [s for s in (*MASTERS, *DOWNLOADS, *run.settings.extra_renditions) if not s.reuse]
    tasks = [Task(f"tag-{spec.name}", partial(st.tag_output, run.journal, run.out_dir, run.tags, spec), cost=0.005,
                  deps=(spec.name, "loudness"), stage=f"tag:{spec.name}", light=True) for spec in specs]
    tasks.append(Task(f"tag-{PREVIEW.name}", partial(st.tag_preview, run.journal, run.out_dir, run.tags),
                      cost=0.005, deps=("preview", "loudness"), stage=f"tag:{PREVIEW.name}", light=True))
    return tasks


PLANNERS: tuple[Callable[[Run], list[Task]], ...] = (plan_decode, plan_encode, plan_hls, plan_peaks, plan_tag)


def plan(run: Run) -> list[Task]:
    """Every task of a run: the stages of :data:`PLANNERS`, in one graph."""
    return [task for planner in PLANNERS for task in planner(run)]


def _progress_reporter(progress: ProgressFn | None) -> Callable[[int, str], None]:
    """``progress`` clamped to 0..100; a failing callback is logged, never breaks the release."""
    def report(percent: int, stage: str) -> None:
        if progress is None:
            return
        try:
            progress(max(0, min(100, int(percent))), stage)
        except Exception:  # a broken progress callback must not break the release
            log.exception("progress callback failed")

    return report


def _execute(run: Run, cache_key: str, report: Callable[[int, str], None]) -> dict[str, Any]:
    tasks = plan(run)
    done = [0]

    def task_done(task: Task) -> None:  # called from the scheduling thread only
        done[0] += 1
        report(5 + int(85 * done[0] / max(1, len(tasks))), task.label)

    results = run_graph(tasks, run.settings.worker_count, task_done)
    tagged = {name[len("tag-"):]: out for name, out in results.items() if name.startswith("tag-")}
    missing = [t.key for t in tagged.values() if not run.journal.store.exists(t.key)]
    if missing:  # pragma: no cover - would be a bug in a stage
        raise RuntimeError(f"not stored: {missing}")
    report(95, "publish")
    manifest = st.build_manifest(run.source, run.settings, rendition_specs(run.settings), cache_key,
                                 results["loudness"], tagged, results["hls-master"], results["peaks"])
    run.journal.store.put_bytes(manifest_key(cache_key), json.dumps(manifest, indent=1).encode(), "application/json")
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
    filename = filename or source.name
    if not source.is_file():
        raise Unprocessable(f"{filename} does not exist.", code="missing", details={"filename": filename})
    source_sha = sha256_file(source)
    key = cache_key_for(source_sha, settings, tags)
    cached = load_cached(store, key)
    if cached is not None:
        if progress:
            progress(100, "cached")
        return cached

    journal = Journal(store)
    scratch = Path(tempfile.mkdtemp(prefix="release-", dir=work_dir))
    report = _progress_reporter(progress)
    try:
        src = st.probe_source(source, filename, source_sha)
        report(3, "probe")
        run = Run(src, settings, tags, journal, DiskCache(work_dir / "cache", scratch), scratch)
        manifest = _execute(run, key, report)
        report(100, "manifest")
        return manifest
    except BaseException:
        journal.rollback()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
