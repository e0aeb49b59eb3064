"""The quick preview: the first seconds of a changed piece, playable as HLS as soon as possible.

Only the measures covering ``seconds`` are rendered (through the render cache, so an unchanged
opening costs nothing), then one AAC rendition is cut by ffmpeg (started with the request and fed the
window's mixdown as soon as it is written, while the render is still being stored in the cache) into fragmented-MP4 HLS segments
(an init segment named by ``#EXT-X-MAP`` and ``.m4s`` media segments, like the release ladder), and
each segment is stored as soon as ffmpeg has finished it (it writes ``.tmp`` files and renames
them), init and first segment first. The playlist is read and written by the media room's m3u8
helpers (companion/media/hls.py) once every segment it names is stored.
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ..compositions.model import Composition
from ..media.hls import MIME_TYPES as MIME
from ..media.hls import load_media_playlist, write_media_playlist
from ..storage.base import ObjectStore
from .errors import EngineError
from .service import RenderSettings, render_version
from .timeline import TempoMap

PLAYLIST = "preview.m3u8"
INIT = "preview_init.mp4"
SEGMENTS = "preview_%03d.m4s"


def measures_for(comp: Composition, seconds: float) -> int:
    tm = TempoMap(comp)
    for m in range(1, comp.measures + 1):
        if tm.end(m) >= seconds:
            return m
    return comp.measures


def segmenter(src: Path | None, work: Path, segment_seconds: int, bitrate: int) -> list[str]:
    """ffmpeg encoding ``src`` (None: a WAV on its standard input) to AAC and cutting it into fMP4 HLS
    segments in ``work``."""
    inp = ["-f", "wav", "-i", "pipe:0"] if src is None else ["-nostdin", "-i", str(src)]
    return ["ffmpeg", "-v", "error", "-y", *inp, "-c:a", "aac", "-aac_coder", "fast", "-b:a", f"{bitrate}k",
            "-ac", "2", "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT,
            "-hls_flags", "independent_segments+temp_file",
            "-hls_segment_filename", str(work / SEGMENTS), str(work / PLAYLIST)]


def quick_preview(store: ObjectStore, files: dict[str, bytes], work_dir: Path, seconds: float = 8.0,
                  segment_seconds: int = 4, bitrate: int = 128, settings: RenderSettings | None = None,
                  workers: int = 2) -> dict:
    """The first ``seconds`` of a version as HLS in the store, the first segment stored first.

    ffmpeg is started with the request (its start-up overlaps the render) and fed the window's mixdown as
    soon as it is written (``on_mixdown``), while the render is still being hashed and stored in the
    render cache: the first segment waits for neither. A cached render is segmented from the stored mixdown; a cached preview costs nothing."""
    t0 = time.perf_counter()
    comp = Composition.from_files(files)
    upto = measures_for(comp, seconds)
    rs = dataclasses.replace(settings or RenderSettings(), upto_measure=upto, stems=False, tail_seconds=0.5)
    work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="preview-", dir=work_dir))
    # the segmenter starts now, waiting for the mixdown on its standard input: its start-up overlaps the render
    proc = subprocess.Popen(segmenter(None, work, segment_seconds, bitrate), stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    feeder: threading.Thread | None = None

    def feed(path: Path) -> None:
        """Hand the mixdown WAV to the segmenter (opened here: the file may be removed while it is read)."""
        nonlocal feeder
        f = open(path, "rb")

        def copy() -> None:
            try:
                with f:
                    shutil.copyfileobj(f, proc.stdin, 1 << 20)
            except (BrokenPipeError, ValueError, OSError):
                pass  # ffmpeg stopped: its exit status says why
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        feeder = threading.Thread(target=copy, name="preview-feed", daemon=True)
        feeder.start()

    try:
        # on_mixdown: the window's mixdown is written; segments are cut while the render is stored
        manifest = render_version(store, files, work_dir, rs, workers=workers, on_mixdown=lambda k, p: feed(p))
        t_render = time.perf_counter() - t0
        prefix = f"previews/{manifest['key'][:2]}/{manifest['key']}"
        playlist_key = f"{prefix}/{PLAYLIST}"
        if feeder is None:  # a cached render: maybe a cached preview too
            if store.exists(playlist_key):
                return {"playlist_key": playlist_key, "cached": True, "render_key": manifest["key"],
                        "measures": upto, "first_segment_s": round(time.perf_counter() - t0, 3), "segments": None}
            src = store.local_path(manifest["mixdown"]["key"])
            if src is None:
                src = work / "mix.wav"
                store.download(manifest["mixdown"]["key"], src)
            feed(Path(src))
        stored: list[str] = []
        first = None

        def put(name: str) -> None:
            key = f"{prefix}/{name}"
            if key not in stored:
                store.put_file(key, work / name, MIME[Path(name).suffix])
                stored.append(key)

        while True:
            done = proc.poll() is not None
            segs = sorted(p.name for p in work.glob("preview_*.m4s"))  # finished ones: ffmpeg renames .tmp
            if segs and (work / INIT).exists():
                put(INIT)
                for name in segs:
                    put(name)
                if first is None:
                    first = time.perf_counter() - t0
            if done:
                break
            time.sleep(0.005)
        err = proc.stderr.read().decode(errors="replace")
        if proc.returncode != 0:
            raise EngineError(f"ffmpeg could not segment the preview: {err[-300:]}", code="preview_failed")
        playlist = load_media_playlist(work / PLAYLIST)
        for name in [n for n in (playlist.init, *playlist.uris) if n]:
            put(name)  # anything ffmpeg finished after the last look
        store.put_bytes(playlist_key, write_media_playlist(playlist.segments, init=playlist.init,
                                                           target_duration=playlist.target_duration).encode(),
                        MIME[".m3u8"])
        return {"playlist_key": playlist_key, "segments": [k for k in stored if k.endswith(".m4s")], "cached": False,
                "render_key": manifest["key"], "render_cached": manifest.get("cached", False), "measures": upto,
                "render_s": round(t_render, 3),
                "first_segment_s": round(first if first is not None else time.perf_counter() - t0, 3),
                "total_s": round(time.perf_counter() - t0, 3)}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if feeder is not None:
            feeder.join()
        else:
            proc.stdin.close()
        proc.stderr.close()
        shutil.rmtree(work, ignore_errors=True)
