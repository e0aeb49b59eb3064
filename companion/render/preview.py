"""The quick preview: the first seconds of a changed piece, playable as HLS as soon as possible.

Only the measures covering ``seconds`` are rendered (through the render cache, so an unchanged
opening costs nothing), then one AAC rendition is cut into HLS segments by ffmpeg and each
segment is stored as soon as it exists, first segment first, with the playlist after them.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..compositions.model import Composition
from ..storage.base import ObjectStore
from .service import RenderSettings, render_version
from .timeline import TempoMap


def measures_for(comp: Composition, seconds: float) -> int:
    tm = TempoMap(comp)
    for m in range(1, comp.measures + 1):
        if tm.end(m) >= seconds:
            return m
    return comp.measures


def quick_preview(store: ObjectStore, files: dict[str, bytes], work_dir: Path, seconds: float = 8.0,
                  segment_seconds: int = 4, bitrate: int = 128, settings: RenderSettings | None = None,
                  workers: int = 2) -> dict:
    t0 = time.perf_counter()
    comp = Composition.from_files(files)
    upto = measures_for(comp, seconds)
    base = settings or RenderSettings()
    import dataclasses
    rs = dataclasses.replace(base, upto_measure=upto, stems=False, tail_seconds=0.5)
    manifest = render_version(store, files, work_dir, rs, workers=workers)
    t_render = time.perf_counter() - t0
    prefix = f"previews/{manifest['key'][:2]}/{manifest['key']}"
    playlist_key = f"{prefix}/preview.m3u8"
    if store.exists(playlist_key):
        return {"playlist_key": playlist_key, "cached": True, "render_key": manifest["key"], "measures": upto,
                "first_segment_s": round(time.perf_counter() - t0, 3), "segments": None}
    work = Path(tempfile.mkdtemp(prefix="preview-", dir=work_dir))
    try:
        src = store.local_path(manifest["mixdown"]["key"])
        if src is None:
            src = work / "mix.wav"
            store.download(manifest["mixdown"]["key"], src)
        proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", "aac", "-b:a",
                                 f"{bitrate}k", "-ac", "2", "-f", "hls", "-hls_time", str(segment_seconds),
                                 "-hls_playlist_type", "vod", "-hls_segment_filename", str(work / "seg%03d.ts"),
                                 str(work / "preview.m3u8")], stderr=subprocess.PIPE)
        stored, first = [], None
        while True:
            done = proc.poll() is not None
            segs = sorted(work.glob("seg*.ts"))
            ready = segs if done else segs[:-1]  # the newest one may still be written
            for seg in ready:
                key = f"{prefix}/{seg.name}"
                if key not in stored:
                    store.put_file(key, seg, "video/mp2t")
                    stored.append(key)
                    if first is None:
                        first = time.perf_counter() - t0
            if done:
                break
            time.sleep(0.01)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg could not segment the preview: {proc.stderr.read().decode()[-300:]}")
        store.put_file(playlist_key, work / "preview.m3u8", "application/vnd.apple.mpegurl")
        return {"playlist_key": playlist_key, "segments": stored, "cached": False, "render_key": manifest["key"],
                "render_cached": manifest.get("cached", False), "measures": upto, "render_s": round(t_render, 3),
                "first_segment_s": round(first if first is not None else time.perf_counter() - t0, 3),
                "total_s": round(time.perf_counter() - t0, 3)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
