"""Waveform peaks in BBC audiowaveform's JSON format (version 2), computed with numpy.

The player draws its waveform from these. One pass over the decoded PCM (the WAV master,
read with soundfile) gives the finest zoom level; each coarser level whose samples-per-pixel
is a multiple of the finest is reduced from it (min of mins, max of maxes), so the audio is
read once::

    {"version": 2, "channels": 1, "sample_rate": 44100, "samples_per_pixel": 256,
     "bits": 8, "length": 3379, "data": [min0, max0, min1, max1, ...]}

Channels are mixed to mono by averaging, as audiowaveform does without --split-channels;
values are 8-bit (-128..127).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import soundfile

DEFAULT_ZOOMS = (256, 2048)


def _mono_min_max(path: str | Path, samples_per_pixel: int,
                  chunk_pixels: int = 4096) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-pixel min and max of the mono mix of a sound file (read by libsndfile in blocks of
    whole pixels), and its sample rate. Samples are in [-1, 1): integer PCM is scaled by
    2^(bits-1), as audiowaveform does; channels are averaged."""
    spp = int(samples_per_pixel)
    mins, maxs = [], []
    with soundfile.SoundFile(str(path)) as f:
        rate = f.samplerate
        for block in f.blocks(blocksize=spp * chunk_pixels, dtype="float64", always_2d=True):
            lo, hi = min_max(block.mean(axis=1), spp)
            mins.append(lo)
            maxs.append(hi)
    if not mins:
        return np.zeros(0), np.zeros(0), rate
    return np.concatenate(mins), np.concatenate(maxs), rate


def _to_8bit(x: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(x * 128.0), -128, 127).astype(np.int16)


def min_max(samples: np.ndarray, samples_per_pixel: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel minimum and maximum of a mono float signal (last pixel may be partial)."""
    n = len(samples)
    full = n // samples_per_pixel
    body = samples[: full * samples_per_pixel].reshape(full, samples_per_pixel)
    mins, maxs = body.min(axis=1), body.max(axis=1)
    if n % samples_per_pixel:
        tail = samples[full * samples_per_pixel:]
        mins = np.append(mins, tail.min())
        maxs = np.append(maxs, tail.max())
    return mins, maxs


def _reduce(mins: np.ndarray, maxs: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(mins)
    pad = (-n) % factor
    if pad:
        mins = np.append(mins, np.full(pad, np.inf, dtype=mins.dtype))
        maxs = np.append(maxs, np.full(pad, -np.inf, dtype=maxs.dtype))
    return mins.reshape(-1, factor).min(axis=1), maxs.reshape(-1, factor).max(axis=1)


def waveform_json(mins: np.ndarray, maxs: np.ndarray, sample_rate: int, samples_per_pixel: int) -> dict[str, Any]:
    data = np.empty(2 * len(mins), dtype=np.int16)
    data[0::2] = _to_8bit(mins)
    data[1::2] = _to_8bit(maxs)
    return {"version": 2, "channels": 1, "sample_rate": int(sample_rate),
            "samples_per_pixel": int(samples_per_pixel), "bits": 8, "length": int(len(mins)),
            "data": data.tolist()}


def peaks_from_samples(samples: np.ndarray, sample_rate: int,
                       zooms: Iterable[int] = DEFAULT_ZOOMS) -> list[dict[str, Any]]:
    """audiowaveform JSON documents, one per zoom level, from mono float samples."""
    zooms = sorted(set(int(z) for z in zooms))
    if not zooms or zooms[0] <= 0:
        raise ValueError("zoom levels must be positive samples-per-pixel values")
    if len(samples) == 0:
        return [waveform_json(np.zeros(0), np.zeros(0), sample_rate, z) for z in zooms]
    base = zooms[0]
    bmins, bmaxs = min_max(samples, base)
    out = []
    for z in zooms:
        if z == base:
            mins, maxs = bmins, bmaxs
        elif z % base == 0:
            mins, maxs = _reduce(bmins, bmaxs, z // base)
        else:
            mins, maxs = min_max(samples, z)
        out.append(waveform_json(mins, maxs, sample_rate, z))
    return out


def compute_peaks(wav_path: str | Path, zooms: Iterable[int] = DEFAULT_ZOOMS) -> list[dict[str, Any]]:
    """Peaks of a sound file (WAV of 8/16/24/32-bit int or float; any format libsndfile reads)
    at each zoom level, reading it once for the finest level and the levels that are multiples of it."""
    zooms = sorted(set(int(z) for z in zooms))
    if not zooms or zooms[0] <= 0:
        raise ValueError("zoom levels must be positive samples-per-pixel values")
    base = zooms[0]
    bmins, bmaxs, rate = _mono_min_max(wav_path, base)
    out = []
    for z in zooms:
        if z % base:
            mins, maxs, _ = _mono_min_max(wav_path, z)
        else:
            mins, maxs = _reduce(bmins, bmaxs, z // base) if z != base else (bmins, bmaxs)
        out.append(waveform_json(mins, maxs, rate, z))
    return out
