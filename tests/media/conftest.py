"""Fixtures of the media tests: short real audio made with ffmpeg once per session, and one
real release run (real ffmpeg, mutagen, numpy; no mocks) that several tests inspect."""
from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from companion.catalog.covers import default_cover_png
from companion.media.ffmpeg import RUNS
from companion.media.loudness import measure
from companion.media.pipeline import PipelineSettings, run_release
from companion.media.tags import Tags
from companion.storage import LocalStore
from tests.conftest import IN_CI

SOURCE_SECONDS = 12.0
QUIET_LUFS = -30.0

if shutil.which("ffmpeg") is None:  # pragma: no cover
    if IN_CI:
        raise RuntimeError("ffmpeg is not installed (scripts/setup.sh installs it)")
    pytest.skip("ffmpeg is not installed", allow_module_level=True)


def ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True)


def music_like(path: Path, seconds: float, gain_db: float = 0.0, *codec: str) -> Path:
    """A chord with pulsing pink noise (so loudness gating and peaks see real dynamics)."""
    graph = (
        f"sine=f=220:d={seconds}[a];sine=f=277.2:d={seconds}[b];sine=f=329.6:d={seconds}[c];"
        f"anoisesrc=d={seconds}:c=pink:a=0.3,volume='0.6+0.4*sin(2*PI*t*2)':eval=frame[n];"
        f"[a][b][c][n]amix=inputs=4:normalize=0,volume={gain_db}dB,aresample=44100,aformat=channel_layouts=stereo"
    )
    ff("-filter_complex", graph, *codec, str(path))
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def quiet_wav(media_dir) -> Path:
    """A 12 s, 16-bit stereo WAV measuring about -30 LUFS."""
    probe_path = music_like(media_dir / "level.wav", SOURCE_SECONDS)
    level = measure(probe_path).integrated_lufs
    return music_like(media_dir / "quiet.wav", SOURCE_SECONDS, QUIET_LUFS - level, "-c:a", "pcm_s16le")


@pytest.fixture(scope="session")
def hot_wav(media_dir) -> Path:
    """A hot 24-bit master: bass and bursts of bright noise (hi-hats), true peak at -0.1 dBTP,
    about -13 LUFS. AAC pushes its true peak well over -1 dBTP once it is normalised."""
    graph = (f"sine=f=110:d={SOURCE_SECONDS}[a];sine=f=165:d={SOURCE_SECONDS}[b];"
             f"anoisesrc=d={SOURCE_SECONDS}:c=white:a=0.9:seed=7,volume='if(lt(mod(t,0.5),0.04),1,0.15)':eval=frame[n];"
             f"[a][b][n]amix=inputs=3:normalize=0,aresample=44100,aformat=channel_layouts=stereo")
    raw = media_dir / "hot-raw.wav"
    ff("-filter_complex", graph, "-c:a", "pcm_s24le", str(raw))
    peak = measure(raw).true_peak_dbtp
    out = media_dir / "hot.wav"
    ff("-i", str(raw), "-af", f"volume={-0.1 - peak:.2f}dB", "-c:a", "pcm_s24le", str(out))
    return out


@pytest.fixture(scope="session")
def sources(media_dir, quiet_wav) -> dict[str, Path]:
    """The same music in every accepted format (and a 24-bit FLAC)."""
    out = {"wav": quiet_wav}
    for name, args in {
        "flac24.flac": ("-c:a", "flac", "-sample_fmt", "s32"),
        "aiff.aiff": ("-c:a", "pcm_s16be"),
        "mp3.mp3": ("-c:a", "libmp3lame", "-b:a", "192k"),
        "vorbis.ogg": ("-c:a", "libvorbis", "-q:a", "4"),
        "opus.opus": ("-c:a", "libopus", "-b:a", "96k"),
        "aac.m4a": ("-c:a", "aac", "-b:a", "128k"),
        "alac.m4a": ("-c:a", "alac"),
        "float.wav": ("-c:a", "pcm_f32le"),
    }.items():
        path = media_dir / name
        ff("-i", str(quiet_wav), *args, str(path))
        out[name.split(".")[0]] = path
    return out


@pytest.fixture(scope="session")
def cover() -> bytes:
    return default_cover_png("Test Orbit")


@pytest.fixture(scope="session")
def tags(cover) -> Tags:
    return Tags(title="Test Orbit", album="Night Tests", track_number=2, track_total=7, year=2026,
                track_id="trk_test_42", cover=cover)


@pytest.fixture(scope="session")
def settings() -> PipelineSettings:
    return PipelineSettings(workers=2, preview_seconds=5)


class ReleaseRun:
    """One pipeline run and what it cost."""

    def __init__(self, manifest, store, work_dir, seconds, runs, progress):
        self.manifest = manifest
        self.store = store
        self.work_dir = work_dir
        self.seconds = seconds
        self.runs = runs
        self.progress = progress


@pytest.fixture(scope="session")
def release(media_dir, quiet_wav, tags, settings) -> ReleaseRun:
    store = LocalStore(media_dir / "store")
    work = media_dir / "work"
    progress: list[tuple[int, str]] = []
    before = RUNS.copy()
    t = time.perf_counter()
    manifest = run_release(quiet_wav, store, work, tags, settings, progress=lambda p, s: progress.append((p, s)))
    return ReleaseRun(manifest, store, work, time.perf_counter() - t, RUNS - before, progress)


@pytest.fixture(scope="session")
def hot_release(media_dir, hot_wav, tags, settings) -> ReleaseRun:
    store = LocalStore(media_dir / "hot-store")
    work = media_dir / "hot-work"
    before = RUNS.copy()
    t = time.perf_counter()
    manifest = run_release(hot_wav, store, work, tags, settings)
    return ReleaseRun(manifest, store, work, time.perf_counter() - t, RUNS - before, [])


def ffprobe_stream(path: Path) -> dict:
    import json

    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          str(path)], check=True, capture_output=True).stdout
    data = json.loads(out)
    audio = [s for s in data["streams"] if s["codec_type"] == "audio"][0]
    audio["format"] = data["format"]
    return audio


class Recorder(http.server.ThreadingHTTPServer):
    """A real HTTP server on a free local port that remembers every request it gets
    (method and path) and answers 200 with a small JSON body."""

    def __init__(self):
        self.hits: list[tuple[str, str]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.hits.append((self.command, self.path))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def listener():
    """A :class:`Recorder` serving in a thread for one test."""
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
