"""Integrated loudness (EBU R128 / ITU-R BS.1770) by ffmpeg's ``ebur128`` filter, the meter the
release pipeline measures with (companion/media/loudness.py), fed float samples through a pipe.

The mixer streams the mix into a :class:`LoudnessMeter` while the engines still run (ffmpeg works on
the other core) and reads the result when the last region is in; :func:`loudness` measures an array
in one go.
"""
from __future__ import annotations

import queue
import re
import shutil
import subprocess
import tempfile
import threading

import numpy as np

from .audio import SR
from .errors import EngineError, EngineMissing

#: at or below this the programme is silence (the ebur128 absolute gate is -70 LUFS)
SILENCE_LUFS = -70.0
_INTEGRATED = re.compile(r"Integrated loudness:\s*I:\s*(-?[\d.]+|-?inf)\s*LUFS")


class LoudnessMeter:
    """ffmpeg's ebur128 over float32 audio fed in time order (:meth:`feed`); :meth:`result` ends it.

    A thread of its own writes to ffmpeg's pipe, so a caller that feeds never waits for ffmpeg to read
    (on a busy machine it may be scheduled late)."""

    def __init__(self, sr: int = SR, channels: int = 2):
        exe = shutil.which("ffmpeg")
        if exe is None:
            raise EngineMissing("ffmpeg is not installed (apt-get install ffmpeg)")
        self.channels = channels
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: ffmpeg never waits for us to read
        self._proc = subprocess.Popen(
            [exe, "-nostdin", "-hide_banner", "-nostats", "-threads", "1", "-f", "f32le", "-ar", str(sr),
             "-ac", str(channels), "-i", "pipe:", "-af", "ebur128=framelog=verbose", "-f", "null", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._write_error: BaseException | None = None
        self._writer = threading.Thread(target=self._write, name="loudness-meter", daemon=True)
        self._writer.start()

    def _write(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                self._proc.stdin.write(data)
        except BaseException as exc:  # noqa: BLE001 - ffmpeg went away: result() reports it
            self._write_error = exc
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def feed(self, x: np.ndarray, planar: bool = False) -> None:
        """Frames of audio: (frames, channels), or (channels, frames) when ``planar``."""
        if planar:
            x = x.T
        self._queue.put(np.ascontiguousarray(x, dtype="<f4").tobytes())

    def result(self) -> float:
        """The integrated loudness in LUFS of everything fed (-inf for silence or under 400 ms)."""
        self._queue.put(None)
        self._writer.join()
        code = self._proc.wait()
        self._log.seek(0)
        log = self._log.read().decode("utf-8", "replace")
        self._log.close()
        found = _INTEGRATED.findall(log)
        if code != 0 or not found or self._write_error is not None:
            raise EngineError(f"ffmpeg could not measure the mix's loudness (exit {code}): {log[-300:]}",
                              code="loudness_failed")
        lufs = float(found[-1])
        return lufs if lufs > SILENCE_LUFS else float("-inf")

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._queue.put(None)
        self._writer.join()
        self._log.close()


def loudness(x: np.ndarray, sr: int = SR) -> float:
    """Integrated loudness (LUFS) of audio (frames, channels); -inf for silence."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    meter = LoudnessMeter(sr, x.shape[1])
    try:
        meter.feed(x)
    except BaseException:
        meter.abort()
        raise
    return meter.result()
