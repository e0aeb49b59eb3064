"""Waveform peaks in BBC audiowaveform's JSON format (version 2), computed with numpy.

The player draws its waveform from these. One pass over the decoded PCM (the WAV master)
gives the finest zoom level; each coarser level whose samples-per-pixel is a multiple of the
finest is reduced from it (min of mins, max of maxes), so the audio is read once::

    {"version": 2, "channels": 1, "sample_rate": 44100, "samples_per_pixel": 256,
     "bits": 8, "length": 3379, "data": [min0, max0, min1, max1, ...]}

Channels are mixed to mono by averaging, as audiowaveform does without --split-channels;
values are 8-bit (-128..127).
"""
from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any, Iterable

import numpy as np

DEFAULT_ZOOMS = (256, 2048)


class WavLayout:
    """Where the samples of a PCM/float WAV are and how to read them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            head = fh.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise ValueError(f"{self.path.name} is not a RIFF WAVE file")
            size = self.path.stat().st_size
            pos = 12
            fmt = None
            while pos + 8 <= size:
                fh.seek(pos)
                cid, csize = struct.unpack("<4sI", fh.read(8))
                if cid == b"fmt ":
                    fmt = fh.read(csize)
                elif cid == b"data":
                    self.data_offset = pos + 8
                    self.data_size = min(csize, size - pos - 8)
                    break
                pos += 8 + csize + (csize & 1)
            else:
                raise ValueError(f"{self.path.name} has no data chunk")
        if fmt is None:
            raise ValueError(f"{self.path.name} has no fmt chunk")
        tag, self.channels, self.sample_rate, _, self.block_align, self.bits = struct.unpack("<HHIIHH", fmt[:16])
        if tag == 0xFFFE and len(fmt) >= 26:
            tag = struct.unpack("<H", fmt[24:26])[0]
        if tag not in (1, 3):
            raise ValueError(f"{self.path.name}: unsupported WAV sample format {tag}")
        self.float = tag == 3
        self.frames = self.data_size // self.block_align

    def _sum_channels(self, raw: np.ndarray) -> np.ndarray:
        """Sum of the channels of raw frame bytes, as int64/int32/float32 (unscaled)."""
        ch = self.channels
        if self.float:
            x = raw.view("<f4" if self.bits == 32 else "<f8").reshape(-1, ch)
            acc = x[:, 0].astype(np.float32)
            for c in range(1, ch):
                acc += x[:, c]
            return acc
        if self.bits == 16:
            x = raw.view("<i2").reshape(-1, ch)
            acc = x[:, 0].astype(np.int32)
        elif self.bits == 32:
            x = raw.view("<i4").reshape(-1, ch)
            acc = x[:, 0].astype(np.int64)
        elif self.bits == 24:
            b = raw.reshape(-1, 3).astype(np.int32)
            x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8) >> 8  # sign-extend 24 -> 32
            x = x.reshape(-1, ch)
            acc = x[:, 0].copy()
        elif self.bits == 8:
            x = raw.astype(np.int16).reshape(-1, ch) - 128
            acc = x[:, 0].astype(np.int32)
        else:
            raise ValueError(f"unsupported bit depth {self.bits}")
        for c in range(1, ch):
            acc += x[:, c]
        return acc

    @property
    def full_scale(self) -> float:
        """Divide a channel sum by this to get the mono mix in [-1, 1)."""
        per = 1.0 if self.float else float(2 ** (self.bits - 1))
        return per * self.channels

    def min_max(self, samples_per_pixel: int, chunk_pixels: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel min and max of the mono mix, in [-1, 1), reading the file in chunks."""
        spp = int(samples_per_pixel)
        raw = np.memmap(self.path, dtype=np.uint8, mode="r", offset=self.data_offset,
                        shape=(self.frames * self.block_align,)) if self.frames else np.zeros(0, np.uint8)
        step = spp * chunk_pixels * self.block_align
        mins, maxs = [], []
        for start in range(0, len(raw), step):
            mono = self._sum_channels(np.asarray(raw[start:start + step]))
            full = len(mono) // spp
            if full:
                body = mono[: full * spp].reshape(full, spp)
                mins.append(body.min(axis=1))
                maxs.append(body.max(axis=1))
            if len(mono) % spp:  # only the last chunk can be partial
                tail = mono[full * spp:]
                mins.append(np.array([tail.min()]))
                maxs.append(np.array([tail.max()]))
        if not mins:
            return np.zeros(0), np.zeros(0)
        scale = 1.0 / self.full_scale
        return (np.concatenate(mins).astype(np.float64) * scale, np.concatenate(maxs).astype(np.float64) * scale)


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
    """Peaks of a WAV file (8/16/24/32-bit int or float) at each zoom level, reading it once."""
    wav = WavLayout(wav_path)
    zooms = sorted(set(int(z) for z in zooms))
    if not zooms or zooms[0] <= 0:
        raise ValueError("zoom levels must be positive samples-per-pixel values")
    base = zooms[0]
    bmins, bmaxs = wav.min_max(base)
    out = []
    for z in zooms:
        if z % base:
            mins, maxs = wav.min_max(z)
        else:
            mins, maxs = _reduce(bmins, bmaxs, z // base) if z != base else (bmins, bmaxs)
        out.append(waveform_json(mins, maxs, wav.sample_rate, z))
    return out


def expected_length(frames: int, samples_per_pixel: int) -> int:
    return math.ceil(frames / samples_per_pixel)
