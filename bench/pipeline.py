"""Bench: the release pipeline against the naive way, on a 3-minute four-part demo song.

    .venv/bin/python bench/pipeline.py            # 190 s song (rendered once, cached in bench/out/)
    .venv/bin/python bench/pipeline.py --quick    # 30 s song, for a quick check

The naive way makes the same renditions with the same settings and the same tags, one ffmpeg
process per rendition, one after another, each from the source with its own filters: both
masters and every download (the FLAC and WAV downloads again), each HLS rung (encoded and
segmented by the hls muxer in one process), the preview (encoded again), then peaks from an
ffmpeg decode to raw PCM with the same numpy code. The source's loudness is measured once by
both; both measure each rung and the preview after encoding and encode again when the
true-peak ceiling or the target is missed (the same correction rule, ``stages.normalise``).

Progress goes to stderr; the last line of stdout is one JSON object:
{"ratio": pipeline/naive, "repeat_ratio": second pipeline run/naive, "pipeline_s", "repeat_s",
 "naive_s", "naive_cpu_s", "pipeline_cpu_s", "cores", ...}. With ``--rounds N`` both ways run N
times, alternating; the figures are medians (wall and CPU seconds, CPU including ffmpeg's).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from companion.catalog.covers import default_cover_png  # noqa: E402
from companion.demo import render_midi, write_demo_midi  # noqa: E402
from companion.media import hls as hlsmod  # noqa: E402
from companion.media import loudness as loud  # noqa: E402
from companion.media import stages  # noqa: E402
from companion.media.ffmpeg import RUNS, ffmpeg  # noqa: E402
from companion.media.peaks import peaks_from_samples  # noqa: E402
from companion.media.pipeline import PipelineSettings, run_release  # noqa: E402
from companion.media.probe import probe  # noqa: E402
from companion.media.renditions import DOWNLOADS, MASTERS, PREVIEW, master_format, output_args, stream_rung  # noqa: E402
from companion.media.tags import Tags, tag_file  # noqa: E402
from companion.storage import LocalStore  # noqa: E402

OUT = ROOT / "bench" / "out"


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def demo_song(seconds: int) -> Path:
    """The demo song rendered to WAV, cached under bench/out/."""
    wav = OUT / f"demo-{seconds}s.wav"
    if not wav.is_file():
        mid = OUT / f"demo-{seconds}s.mid"
        t = time.perf_counter()
        write_demo_midi(mid, seconds=seconds, seed=1)
        render_midi(mid, wav)
        say(f"rendered {wav.name} in {time.perf_counter() - t:.1f} s")
    return wav


def naive_release(src: Path, out: Path, tags: Tags, settings: PipelineSettings) -> None:
    """Same renditions, same settings, one ffmpeg process per rendition, one after another."""
    info = probe(src)
    fmt = master_format(info)
    measured = loud.measure(src)
    gain = loud.normalization_gain(measured, settings.target_lufs, settings.true_peak_ceiling)
    rg = loud.replaygain_tags(measured)
    by_name = {s.name: s for s in MASTERS + DOWNLOADS}
    for spec in MASTERS + DOWNLOADS:
        make = by_name[spec.reuse] if spec.reuse else spec
        path = out / f"{spec.name}.{spec.extension}"
        ffmpeg(["-threads", "1", "-i", str(src), "-map", "0:a:0", "-map_metadata", "-1", "-vn", "-threads", "1",
                *output_args(make, fmt), "-y", str(path)])
        extra = {"R128_TRACK_GAIN": loud.r128_track_gain(measured)} if spec.codec == "opus" else rg
        tag_file(path, spec.tag_format, tags, extra)
    variants, gains = [], {}
    for kbps in settings.hls_bitrates:
        spec = stream_rung(kbps)
        d = out / "hls"
        d.mkdir(exist_ok=True)
        stem = hlsmod.variant_stem(kbps)
        args = [a for a in output_args(spec, fmt) if a not in ("-f", "mp4")]

        def encode_segment_measure(g: float) -> loud.Loudness:
            # the same promise as the pipeline: measured after encoding, corrected per rung
            ffmpeg(["-threads", "1", "-i", str(src), "-map", "0:a:0", "-af", f"volume={g:.2f}dB", "-threads", "1",
                    *args, "-f", "hls", "-hls_time", str(settings.segment_seconds), "-hls_playlist_type", "vod",
                    "-hls_list_size", "0", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", f"{stem}_init.mp4",
                    "-hls_segment_filename", str(d / f"{stem}_%05d.m4s"), str(d / f"{stem}.m3u8")])
            return loud.measure(d / f"{stem}.m3u8")

        gains[kbps], _, _ = stages.normalise(encode_segment_measure, gain, settings, f"{kbps} kbps stream")
        variants.append(hlsmod.variant_of(d, kbps))
    (out / "hls" / "master.m3u8").write_text(hlsmod.master_playlist(variants))
    preview = out / "preview.m4a"
    top = stream_rung(settings.preview_rung)
    args = [a for a in output_args(top, fmt) if a not in ("-f", "mp4")]

    def encode_preview_measure(g: float) -> loud.Loudness:
        ffmpeg(["-threads", "1", "-ss", f"{settings.preview_start:.3f}", "-t", str(settings.preview_seconds),
                "-i", str(src), "-map", "0:a:0", "-map_metadata", "-1", "-af", f"volume={g:.2f}dB", "-threads", "1",
                *args, "-movflags", "+faststart", "-f", "ipod", "-y", str(preview)])
        return loud.measure(preview)

    stages.normalise(encode_preview_measure, gains[settings.preview_rung], settings, "preview", loudness_too=False)
    tag_file(preview, PREVIEW.tag_format, tags)
    raw = ffmpeg(["-threads", "1", "-i", str(src), "-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le", "-"],
                 capture_stdout=True).stdout
    x = np.frombuffer(raw, dtype="<i2").reshape(-1, info.channels).astype(np.float32).mean(axis=1) / 32768
    for doc in peaks_from_samples(x, info.sample_rate, settings.peaks_zooms):
        (out / f"peaks-{doc['samples_per_pixel']}.json").write_text(json.dumps(doc, separators=(",", ":")))


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure_ab(src: Path, store: LocalStore, work: Path, manifest: dict, info) -> dict:
    """What a premium release adds: both marked variants of every rung (made once, then cached)."""
    from companion.media import abstreams

    key = b"bench-stream-mark-key-0123456789"
    fmt = master_format(info)
    before = RUNS.copy()
    t, c = time.perf_counter(), cpu_seconds()
    doc = abstreams.make_ab(store, src, manifest["hls"], fmt, key, work / "ab")
    ab_s, ab_cpu = time.perf_counter() - t, cpu_seconds() - c
    runs = dict(RUNS - before)
    t = time.perf_counter()
    abstreams.make_ab(store, src, manifest["hls"], fmt, key, work / "ab")
    repeat = time.perf_counter() - t

    def size(prefix: str) -> int:
        return sum(store.stat(k).size for k in store.list(prefix) if k.endswith(".m4s"))

    ladder_bytes, ab_bytes = size(manifest["hls"]["prefix"] + "/"), size(doc["prefix"] + "/")
    say(f"A/B variants: {ab_s:7.2f} s (CPU {ab_cpu:.1f} s, {runs}); again {repeat:.4f} s; "
        f"segments {ab_bytes / 1e6:.1f} MB against the ladder's {ladder_bytes / 1e6:.1f} MB")
    return {"ab_s": round(ab_s, 3), "ab_cpu_s": round(ab_cpu, 2), "ab_repeat_s": round(repeat, 4),
            "ab_ffmpeg_processes": runs.get("ffmpeg", 0), "ab_segment_bytes": ab_bytes,
            "ladder_segment_bytes": ladder_bytes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a ~30 s song instead of ~190 s")
    ap.add_argument("--seconds", type=int, default=None, help="song length (default 190, or 30 with --quick)")
    ap.add_argument("--workers", type=int, default=0, help="pipeline workers (0: one per core)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate naive and pipeline runs this many times and report medians "
                         "(the machine is shared: this damps other people's load)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--no-ab", action="store_true",
                    help="skip measuring the A/B stream variants a premium release adds (companion/media/abstreams.py)")
    ap.add_argument("--source", choices=("flac", "wav"), default="flac",
                    help="what is uploaded: the song as a FLAC master (default: how finished masters are "
                         "usually delivered) or as a WAV")
    args = ap.parse_args(argv)
    seconds = args.seconds or (30 if args.quick else 190)
    src = demo_song(seconds)
    if args.source == "flac":
        flac = src.with_suffix(".flac")
        if not flac.is_file():
            ffmpeg(["-i", str(src), "-c:a", "flac", "-y", str(flac)])
        src = flac
    info = probe(src)
    say(f"source {src.name}: {info.duration:.1f} s, {info.sample_rate} Hz, {info.channels} ch, {info.bit_depth}-bit")
    settings = PipelineSettings(workers=args.workers)
    tags = Tags(title="Orbit Rehearsal", album="Bench Sessions", track_number=1, track_total=1, year=2026,
                track_id="bench-track-1", cover=default_cover_png("Orbit Rehearsal"))
    scratch = Path(tempfile.mkdtemp(prefix="bench-pipeline-", dir=OUT))
    try:
        naive_times, pipe_times, naive_cpu, pipe_cpu = [], [], [], []
        for rnd in range(args.rounds):
            # Naive first: it also warms the page cache for the source.
            naive_dir = scratch / f"naive-{rnd}"
            naive_dir.mkdir()
            before = RUNS.copy()
            t, c = time.perf_counter(), cpu_seconds()
            naive_release(src, naive_dir, tags, settings)
            naive_times.append(time.perf_counter() - t)
            naive_cpu.append(cpu_seconds() - c)
            naive_runs = dict(RUNS - before)
            say(f"[{rnd + 1}/{args.rounds}] naive:    {naive_times[-1]:7.2f} s  ({naive_runs})")
            shutil.rmtree(naive_dir, ignore_errors=True)

            store = LocalStore(scratch / f"store-{rnd}")  # fresh store and work folder: nothing cached
            work = scratch / f"work-{rnd}"
            stages: list[tuple[float, int, str]] = []
            before = RUNS.copy()
            t, c = time.perf_counter(), cpu_seconds()
            manifest = run_release(src, store, work, tags, settings,
                                   progress=lambda p, s: stages.append((time.perf_counter() - t, p, s)))
            pipe_times.append(time.perf_counter() - t)
            pipe_cpu.append(cpu_seconds() - c)
            pipe_runs = dict(RUNS - before)
            say(f"[{rnd + 1}/{args.rounds}] pipeline: {pipe_times[-1]:7.2f} s  ({pipe_runs}); stages: "
                + ", ".join(f"{s}@{w:.1f}" for w, _, s in stages if not s.startswith("tag:")))
        naive_s, pipeline_s = statistics.median(naive_times), statistics.median(pipe_times)

        before = RUNS.copy()
        t = time.perf_counter()
        again = run_release(src, store, work, tags, settings)
        repeat_s = time.perf_counter() - t
        repeat_runs = dict(RUNS - before)
        say(f"repeat:   {repeat_s:7.4f} s  (cached={again['cached']}, {repeat_runs or 'no processes'})")
        if not again["cached"] or repeat_runs:
            say("WARNING: the repeat run was not served from the cache")
        ab = None if args.no_ab else measure_ab(src, store, work, manifest, info)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

        cpu = os.cpu_count() or 1
        result = {
            "ratio": round(pipeline_s / naive_s, 4),
            "repeat_ratio": round(repeat_s / naive_s, 5),
            "pipeline_s": round(pipeline_s, 3),
            "repeat_s": round(repeat_s, 4),
            "naive_s": round(naive_s, 3),
            "cores": cpu,
            "cpu_model": cpu_model(),
            "song_seconds": round(info.duration, 2),
            "source_format": args.source,
            "renditions": len(manifest["renditions"]),
            "hls_variants": len(manifest["hls"]["variants"]),
            "ffmpeg_processes": {"pipeline": pipe_runs.get("ffmpeg", 0), "naive": naive_runs.get("ffmpeg", 0)},
            "workers": settings.worker_count,
            "rounds": args.rounds,
            "naive_cpu_s": round(statistics.median(naive_cpu), 2),
            "pipeline_cpu_s": round(statistics.median(pipe_cpu), 2),
            "cpu_ratio": round(statistics.median(pipe_cpu) / statistics.median(naive_cpu), 4),
            "naive_runs_s": [round(x, 3) for x in naive_times],
            "pipeline_runs_s": [round(x, 3) for x in pipe_times],
            "load_avg_1m_after": round(load, 2) if load is not None else None,
            "quick": bool(args.quick),
        }
        if ab is not None:
            result.update(ab, ab_ratio=round(ab["ab_s"] / pipeline_s, 4))
        print(json.dumps(result))
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
