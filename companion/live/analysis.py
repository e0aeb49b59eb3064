"""Listening to a session's recording: where its clock starts (the count-in click), and how busy each
bar is (onsets per bar), with numpy. Used by the tests and bench/live.py to hear what the robots
played, from the captured audio rather than from what the companion says it sent."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def read_mono(path: Path | str) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), sr


def first_sound(x: np.ndarray, sr: int, threshold: float = 0.02) -> float | None:
    """Seconds to the first sample louder than ``threshold`` (the count-in click), None if silent."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return None if idx.size == 0 else float(idx[0]) / sr


def onsets(x: np.ndarray, sr: int, frame: float = 0.005, rise_db: float = 9.0, floor_db: float = -50.0,
           min_gap: float = 0.06) -> np.ndarray:
    """Onset times (seconds): frames whose level jumps ``rise_db`` above the quietest of the previous
    30 ms and over ``floor_db``, at least ``min_gap`` apart."""
    n = int(sr * frame)
    frames = len(x) // n
    if frames == 0:
        return np.zeros(0)
    rms = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    back = max(1, int(0.03 / frame))
    out: list[float] = []
    for i in range(back, frames):
        if db[i] > floor_db and db[i] - db[i - back:i].min() > rise_db:
            t = i * frame
            if not out or t - out[-1] >= min_gap:
                out.append(t)
    return np.array(out)


def onsets_per_bar(x: np.ndarray, sr: int, t0: float, bar_starts: list[float], bar_lengths: list[float]
                   ) -> list[int]:
    """How many onsets fall in each bar (bar starts and lengths in seconds after ``t0``)."""
    times = onsets(x, sr)
    return [int(((times >= t0 + s) & (times < t0 + s + ln)).sum()) for s, ln in zip(bar_starts, bar_lengths)]


PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def chroma(x: np.ndarray, sr: int, start: float, length: float, lo: float = 80.0, hi: float = 2000.0) -> np.ndarray:
    """The share of spectral energy (``lo``..``hi`` Hz) in each of the 12 pitch classes over
    ``start``..``start + length`` seconds of ``x``."""
    seg = x[int(start * sr): int((start + length) * sr)]
    out = np.zeros(12)
    win = 8192
    if len(seg) < win:
        return out
    w = np.hanning(win)
    freqs = np.fft.rfftfreq(win, 1 / sr)
    band = (freqs >= lo) & (freqs <= hi)
    pcs = (np.round(12 * np.log2(freqs[band] / 440.0)).astype(int) + 9) % 12
    for i in range(0, len(seg) - win + 1, win // 2):
        mag = np.abs(np.fft.rfft(seg[i:i + win] * w))[band] ** 2
        np.add.at(out, pcs, mag)
    total = out.sum()
    return out / total if total > 0 else out


def scale_share(c: np.ndarray, key: str) -> float:
    """How much of chroma ``c`` falls on the scale of ``key`` ("E major", "D minor")."""
    from companion.algorithms.theory import Key

    k = Key.parse(key)
    return float(sum(c[(k.tonic + step) % 12] for step in k.scale))
