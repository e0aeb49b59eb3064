"""Cutting a long recording into samples: at its onsets, or at points the caller gives.

The recording is read with soundfile a chunk at a time (memory stays small however long it is), and
each slice is written in the recording's own format and
sample type (a 24-bit WAV gives 24-bit WAV slices, a float FLAC gives float FLAC slices): the
samples between the cut points are the recording's own, bit for bit, except a 64-frame fade-out
where a slice was cut before the next sound (so it does not click).

Onsets: the RMS level in 1024-frame windows every 256 frames; an onset is where the level rises
above ``threshold_db`` below the recording's peak level after having been under it, at least
``min_gap_s`` after the previous one. The cut goes a few frames before the first sample that
crosses a quarter of that threshold (so the attack is kept whole).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from companion.errors import InvalidInput

WINDOW, HOP, PREROLL, FADE = 1024, 256, 32, 64
SUBTYPES = {"wav": "WAV", "aiff": "AIFF", "flac": "FLAC"}


@dataclasses.dataclass(frozen=True)
class Slice:
    index: int
    start: int  # frames
    end: int
    path: Path

    @property
    def frames(self) -> int:
        return self.end - self.start


CHUNK = 1 << 16  # frames read at a time: memory stays small whatever the recording's length


def envelope(path: Path) -> tuple[np.ndarray, int, int]:
    """One streaming pass: the sum of squares of the loudest channel per HOP frames; (sums, frames, rate)."""
    import soundfile as sf

    sums = []
    with sf.SoundFile(str(path)) as f:
        rate, total = f.samplerate, 0
        carry = np.zeros(0, dtype=np.float64)
        for block in f.blocks(blocksize=CHUNK, dtype="float64", always_2d=True):
            total += len(block)
            mono = np.concatenate([carry, np.abs(block).max(axis=1)])
            whole = len(mono) // HOP * HOP
            sums.append((mono[:whole].reshape(-1, HOP) ** 2).sum(axis=1))
            carry = mono[whole:]
        if len(carry):
            sums.append(np.array([(carry ** 2).sum()]))
    return (np.concatenate(sums) if sums else np.zeros(0)), total, rate


def first_above(path: Path, a: int, b: int, gate: float) -> int | None:
    """The first frame in a..b whose loudest channel is above ``gate``."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        f.seek(a)
        x = np.abs(f.read(b - a, dtype="float64", always_2d=True)).max(axis=1)
    hits = np.nonzero(x > gate)[0]
    return a + int(hits[0]) if len(hits) else None


def onsets(path: Path, threshold_db: float = 30.0, min_gap_s: float = 0.08) -> tuple[list[int], int, int]:
    """(frame positions where sounds start, frames, rate) of the recording at ``path`` (the module doc)."""
    sums, total, rate = envelope(path)
    if total == 0:
        return [], 0, rate
    per = WINDOW // HOP
    csum = np.concatenate([[0.0], np.cumsum(sums)])
    n = max(1, len(sums) - per + 1)
    starts = np.arange(n) * HOP
    ends = np.minimum(starts + WINDOW, total)
    rms = np.sqrt((csum[np.minimum(np.arange(n) + per, len(sums))] - csum[np.arange(n)]) / np.maximum(1, ends - starts))
    peak = rms.max()
    if peak <= 0:
        return [], total, rate
    above = 20 * np.log10(np.maximum(rms, 1e-12) / peak) > -threshold_db
    gate = 10 ** (-threshold_db / 20) * peak / 4
    out: list[int] = []
    was = False
    min_gap = int(min_gap_s * rate)
    for i, a in enumerate(above):
        if a and not was:
            lo = max(0, int(starts[i]) - HOP)
            hit = first_above(path, lo, int(ends[i]), gate)
            pos = max(0, (hit if hit is not None else lo) - PREROLL)
            if not out or pos - out[-1] >= min_gap:
                out.append(int(pos))
        was = bool(a)
    return out, total, rate


def cut_points(total: int, rate: int, points: list[float]) -> list[int]:
    """Given cut points (seconds): the slice starts, checked (increasing, inside the recording)."""
    frames = [int(round(p * rate)) for p in points]
    if any(b <= a for a, b in zip(frames, frames[1:])) or any(f <= 0 or f >= total for f in frames):
        raise InvalidInput(f"Cut points must increase and lie inside the recording (0..{total / rate:.3f} s).",
                           code="bad_slice_points", details={"points": points, "duration": total / rate})
    return [0] + frames


def slice_file(path: Path, fmt: str, out_dir: Path, *, points: list[float] | None = None,
               threshold_db: float = 30.0, min_gap_s: float = 0.08, max_slices: int = 256,
               progress: Callable[[int, int], None] | None = None) -> list[Slice]:
    """Slice the recording at ``path`` (``fmt``: wav, aiff or flac) into files in ``out_dir``.

    ``points`` (seconds) cut there; without them the recording is cut at its onsets. The recording
    is read a chunk at a time (float64 holds every PCM and float sample exactly, so the slices keep
    the recording's own samples). Raises InvalidInput when nothing (or too much) would come out."""
    import soundfile as sf

    if fmt not in SUBTYPES:
        raise InvalidInput(f"Only recordings (WAV, AIFF, FLAC) can be sliced, not {fmt.upper()}.",
                           code="cannot_slice", details={"format": fmt})
    info = sf.info(str(path))
    total, rate, subtype = info.frames, info.samplerate, info.subtype
    if points:
        starts = cut_points(total, rate, points)
    else:
        starts, total, rate = onsets(path, threshold_db, min_gap_s)
    if not starts:
        raise InvalidInput("No onsets were found in the recording: give cut points instead, or a smaller "
                           "threshold.", code="no_onsets", details={"threshold_db": threshold_db})
    if len(starts) > max_slices:
        raise InvalidInput(f"The recording would give {len(starts)} slices; at most {max_slices} per recording.",
                           code="too_many_slices", details={"slices": len(starts), "limit": max_slices})
    bounds = list(zip(starts, starts[1:] + [total]))
    out_dir.mkdir(parents=True, exist_ok=True)
    slices = []
    with sf.SoundFile(str(path)) as src:
        for i, (a, b) in enumerate(bounds):
            dest = out_dir / f"slice-{i + 1:03d}.{fmt}"
            fade = b < total and b - a > FADE
            with sf.SoundFile(str(dest), "w", samplerate=rate, channels=src.channels, subtype=subtype,
                              format=SUBTYPES[fmt]) as out:
                plain_end = b - FADE if fade else b
                src.seek(a)
                pos = a
                while pos < plain_end:
                    x = src.read(min(CHUNK, plain_end - pos), dtype="float64", always_2d=True)
                    if not len(x):
                        break
                    out.write(x)
                    pos += len(x)
                if fade:
                    x = src.read(FADE, dtype="float64", always_2d=True)
                    out.write(x * np.linspace(1.0, 0.0, len(x))[:, None])
            slices.append(Slice(i + 1, a, b, dest))
            if progress:
                progress(i + 1, len(bounds))
    return slices
