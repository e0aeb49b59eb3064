"""The robots hear the members: Janus forwards the mix of the members' group of the room (everyone but
the robots, as AudioBridge's ``rtp_forward`` of a group) as Opus over RTP to a local port; an ffmpeg
of the session's own decodes it (mono, 16 kHz, raw PCM on its stdout) and :class:`Ears` keeps the last
seconds of it. At each bar line the runner asks what was heard during the bar that ends there
(:meth:`Ears.heard`: its level, and the pitch class that dominates it, if one does), and
:func:`follow` lets the robots react from the next bar on: a member who holds a clear note (a drone,
a tonic) moves the robots' key to that note, in the mode in force.
"""
from __future__ import annotations

import subprocess
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from companion.algorithms.base import Params
from companion.algorithms.theory import Key
from companion.live.analysis import PITCH_CLASSES, chroma
from companion.live.engine import need, stop_process

RATE = 16000
#: the members must be at least this loud (dBFS RMS over the bar) for the robots to follow them
FOLLOW_LEVEL_DB = -45.0
#: and one pitch class must hold at least this share of the bar's pitched energy (a clear note)
FOLLOW_SHARE = 0.45
KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


class Ears:
    """An ffmpeg reading the members' mix (Opus/RTP on ``port``) and a thread keeping its last samples
    with their arrival times."""

    def __init__(self, work: Path, port: int, payload_type: int = 100, keep_seconds: float = 8.0):
        self.work, self.port, self.pt = work, port, payload_type
        self.proc: subprocess.Popen | None = None
        self.chunks: deque[tuple[float, np.ndarray]] = deque(maxlen=int(keep_seconds * RATE / 320) + 1)
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        sdp = self.work / "ears.sdp"
        sdp.write_text("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=the members as the robots hear them\r\n"
                       "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                       f"m=audio {self.port} RTP/AVP {self.pt}\r\na=rtpmap:{self.pt} opus/48000/2\r\n")
        log = open(self.work / "ears.log", "wb")
        self.proc = subprocess.Popen(
            [need("ffmpeg", "ffmpeg"), "-nostdin", "-hide_banner", "-v", "warning", "-protocol_whitelist",
             "file,udp,rtp", "-fflags", "nobuffer", "-probesize", "32", "-analyzeduration", "0",
             "-i", str(sdp), "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True, cwd=self.work)
        log.close()
        self.thread = threading.Thread(target=self._read, name=f"live-ears-{self.port}", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            data = out.read(640)  # 20 ms
            if not data:
                return
            x = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
            with self.lock:
                self.chunks.append((time.time(), x))

    def heard(self, since: float, until: float) -> dict:
        """What reached the robots between wall times ``since`` and ``until``: ``level_db`` (RMS, dBFS;
        -120 for silence or nothing), ``pitch_class`` (the dominant one, or None) and its ``share``."""
        with self.lock:
            xs = [x for t, x in self.chunks if since <= t < until]
        x = np.concatenate(xs) if xs else np.zeros(0, dtype=np.float32)
        rms = float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0
        level = round(20 * np.log10(rms), 1) if rms > 1e-6 else -120.0
        out = {"level_db": level, "seconds": round(len(x) / RATE, 2), "pitch_class": None, "share": 0.0}
        if level > FOLLOW_LEVEL_DB and len(x) >= 8192:
            c = chroma(x, RATE, 0.0, len(x) / RATE, lo=80.0, hi=2000.0)
            if c.sum() > 0:
                i = int(np.argmax(c))
                out["share"] = round(float(c[i]), 3)
                if c[i] >= FOLLOW_SHARE:
                    out["pitch_class"] = PITCH_CLASSES[i]
        return out

    def dead(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> None:
        stop_process(self.proc)
        if self.thread is not None:
            self.thread.join(2)


def follow(params: Params, heard: dict | None) -> Params | None:
    """The parameters the robots take from what they heard, or None when they keep theirs: a clear note
    held by the members (:data:`FOLLOW_LEVEL_DB`, :data:`FOLLOW_SHARE`) becomes the key's tonic, in the
    mode in force."""
    if not heard or heard.get("pitch_class") is None:
        return None
    current = Key.parse(params.key)
    tonic = PITCH_CLASSES.index(heard["pitch_class"])
    if tonic == current.tonic:
        return None
    return replace(params, key=f"{KEY_NAMES[tonic]} {current.mode}")
