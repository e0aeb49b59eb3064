"""Inaudible, blind audio watermarks: a 64-bit delivery id per download, A/B variants for streams.

The method is spread-spectrum in the short-time magnitude spectrum, the family audiowmark uses
(Westerfeld; after Kirovski & Malvar's spread-spectrum audio marks), on numpy/scipy:

* The audio (any rate, resampled to 44.1 kHz) is cut into Hann-windowed frames of 1024 samples,
  hop 512. Two frames make a *column* (23 ms). Between 1.03 and 5.04 kHz (bins 24..116 of the
  1024-point FFT: 93 bins, inside what MP3 at 64 kbit/s, AAC, Vorbis and Opus keep, and under 22.05
  kHz after any resampling) each (column, bin) *cell* is scaled by ``exp(+delta)`` or ``exp(-delta)``.
  ``delta`` is chosen per file so that the mark is :data:`TARGET_SNR_DB` under the music (the
  signal-to-noise ratio of marked against original over the whole file; bench/watermark.py
  reports it).
* The cells of a *block* (512 columns, 11.9 s) are shuffled by a keyed generator: a quarter are
  *pilot* cells with a fixed keyed sign (for synchronisation), the rest carry the 306 bits of the
  codeword (64 payload bits + CRC-32, convolutional code K=7, rate 1/3), each bit spread over
  about 116 cells of one block. Blocks repeat through the file.
* The detector takes the log power of each cell, removes each bin's local average over seven
  columns (so gain, equalisation and the music's envelope drop out), folds the columns onto one
  block, finds the block's start by circular correlation with the pilot (for 8 sub-column sample
  shifts), sums each coded bit's cells into a soft value and decodes them with a soft Viterbi
  decoder. A mark is reported only when the pilot's correlation peak stands out
  (``sync_z >= SYNC_Z``) *and* the CRC-32 holds: about 2^-32 per decode of chance agreement, so
  unmarked audio says "no mark".

Limits (measured in bench/watermark.py and tests/rights/test_watermark.py): the shortest clip is
one block plus a little (about 15 s; 30 s recommended); the strongest attacks survived are MP3 at
64 kbit/s, MP3 then AAC, Opus 96, a resample to 48 kHz, and white noise at 20 dB below the music.
Not survived (by design of this family): time stretching or pitch shifting beyond about 0.5 %,
which moves the cells; anyone holding the key can also erase or forge marks, so the key is a secret.

Streams (:func:`stream_field`): the two variants of a track carry the same pilot and opposite
signs on keyed data cells that differ per block. A listener's playlist picks variant 0 or 1 per
segment from a keyed bit sequence (companion/rights/streams.py), so a capture of a few minutes spells
that listener's bits.
"""
from __future__ import annotations

import dataclasses
import hashlib
from functools import lru_cache
from math import gcd
from typing import Callable

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import resample_poly

from companion.errors import InvalidInput
from companion.rights import ecc

RATE = 44100
FRAME = 1024
HOP = 512
COLUMN = 2 * HOP  # samples per column (two frames)
BIN_LO, BIN_HI = 24, 117  # 1.03 .. 5.04 kHz
BINS = BIN_HI - BIN_LO
BLOCK = 512  # columns per block (11.9 s)
PILOT_FRACTION = 0.25
PAYLOAD_BITS = 64
CODED_BITS = ecc.coded_length(PAYLOAD_BITS + ecc.CRC_BITS)
TARGET_SNR_DB = 36.0
MAX_DELTA = 0.08
UNIT_DELTA = 1.0 / 256
SMOOTH = 7  # columns in each bin's local average
CLIP = 3.0  # whitened log power is clipped to +-CLIP (transients would dominate otherwise)
WEIGHT_EXP = 0.5  # cells quieter than their frame's band get relatively more (and louder ones less)
SHIFTS = 8  # sub-column sample shifts tried by the detector
CANDIDATES = 3  # pilot peaks decoded, best first
SYNC_Z = 5.0  # pilot peak, in robust standard deviations over all offsets and shifts
MIN_RHO = 0.15  # correlation of the soft bits with the re-encoded codeword

_WINDOW = np.sqrt(np.hanning(FRAME + 1)[:-1])  # periodic sqrt-Hann: analysis x synthesis sums to one at hop 512


class WatermarkError(InvalidInput):
    """Audio that cannot carry or be searched for a mark (too short), or a bad payload or variant."""

    code = "watermark_input"


@dataclasses.dataclass(frozen=True)
class Layout:
    """The keyed arrangement of one block's cells."""

    pilot: np.ndarray  # (BLOCK, BINS) in {-1, 0, +1}: the pilot's sign on pilot cells, 0 elsewhere
    data_col: np.ndarray  # (n,) block column of each data cell
    data_bin: np.ndarray  # (n,) bin (0..BINS-1) of each data cell
    data_bit: np.ndarray  # (n,) coded bit each data cell carries
    data_sign: np.ndarray  # (n,) the cell's keyed sign
    pilot_fft: np.ndarray  # rfft of the pilot along columns, for the detector's correlation


def _rng(key: bytes, *label: object) -> np.random.Generator:
    seed = hashlib.sha256(key + b"|" + "|".join(str(x) for x in label).encode()).digest()
    return np.random.default_rng(np.frombuffer(seed, dtype=np.uint64))


@lru_cache(maxsize=16)
def layout(key: bytes) -> Layout:
    rng = _rng(key, "layout")
    cells = BLOCK * BINS
    perm = rng.permutation(cells)
    signs = rng.choice(np.array([-1.0, 1.0]), size=cells)
    n_pilot = int(cells * PILOT_FRACTION)
    pilot = np.zeros(cells)
    pilot[perm[:n_pilot]] = signs[perm[:n_pilot]]
    pilot = pilot.reshape(BLOCK, BINS)
    data = perm[n_pilot:]
    return Layout(pilot=pilot, data_col=data // BINS, data_bin=data % BINS,
                  data_bit=np.arange(len(data)) % CODED_BITS, data_sign=signs[data],
                  pilot_fft=np.fft.rfft(pilot, axis=0))


# --- the mark fields: the sign (+1/-1) of each cell, per absolute column ---------------------------

Field = Callable[[np.ndarray], np.ndarray]  # absolute column indices -> (len, BINS) signs


def payload_field(key: bytes, payload: int) -> Field:
    """The field carrying ``payload`` (64 bits), the same in every block."""
    if not 0 <= payload < (1 << PAYLOAD_BITS):
        raise WatermarkError(f"a payload is {PAYLOAD_BITS} bits")
    lay = layout(key)
    code = ecc.encode(ecc.with_crc(payload, PAYLOAD_BITS)).astype(np.float64) * 2 - 1
    block = lay.pilot.copy()
    block[lay.data_col, lay.data_bin] = lay.data_sign * code[lay.data_bit]
    return lambda cols: block[cols % BLOCK]


@lru_cache(maxsize=64)
def _stream_block(key: bytes, index: int) -> np.ndarray:
    """Block ``index``'s data signs for streams (pilot cells 0), keyed per block so the block's place
    in the track can be told."""
    lay = layout(key)
    out = np.zeros((BLOCK, BINS))
    out[lay.data_col, lay.data_bin] = _rng(key, "stream", index).choice(np.array([-1.0, 1.0]), size=len(lay.data_col))
    return out


def stream_field(key: bytes, variant: int) -> Field:
    """Variant 0 or 1 of a stream: the pilot, and the stream data signs times +1 (0) or -1 (1)."""
    if variant not in (0, 1):
        raise WatermarkError("a stream variant is 0 or 1")
    lay = layout(key)
    sign = 1.0 if variant == 0 else -1.0

    def field(cols: np.ndarray) -> np.ndarray:
        out = lay.pilot[cols % BLOCK].copy()
        for b in np.unique(cols // BLOCK):
            sel = cols // BLOCK == b
            out[sel] += sign * _stream_block(key, int(b))[cols[sel] % BLOCK]
        return out

    return field


# --- signal helpers -------------------------------------------------------------------------------

def to_rate(samples: np.ndarray, sr: int, target: int = RATE) -> np.ndarray:
    """``samples`` ((n,) or (n, ch) float) at ``target`` Hz."""
    if sr == target:
        return samples
    g = gcd(int(sr), target)
    return resample_poly(samples, target // g, int(sr) // g, axis=0)


def _frames(x: np.ndarray) -> np.ndarray:
    """Windowed frames (T, FRAME) at hop HOP, ``x`` padded to whole columns."""
    n = len(x)
    cols = max(1, -(-n // COLUMN))
    padded = np.zeros(cols * COLUMN + FRAME - HOP)
    padded[:n] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, FRAME)[::HOP]
    return view[: 2 * cols] * _WINDOW


def _overlap_add(frames: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`_frames` for hop FRAME/2 (frames already windowed again)."""
    t = len(frames)
    out = np.zeros((t + 1) * HOP)
    even, odd = frames[0::2], frames[1::2]
    out[: len(even) * FRAME] += even.reshape(-1)
    out[HOP: HOP + len(odd) * FRAME] += odd.reshape(-1)
    return out[:n]


def _watermark_signal(x: np.ndarray, field: Field, delta: float) -> np.ndarray:
    """The additive mark for one channel at RATE: STFT, scale band cells by exp(+-delta), inverse."""
    frames = _frames(x)
    spec = np.fft.rfft(frames, axis=1)
    cols = np.arange(len(frames)) // 2
    signs = field(cols)  # (T, BINS) in {-1, 0, 1}
    band = spec[:, BIN_LO:BIN_HI]
    mag = np.abs(band)
    ref = np.sqrt(np.mean(mag ** 2, axis=1, keepdims=True)) + 1e-12
    weight = np.clip((mag / ref + 1e-3) ** -WEIGHT_EXP, 0.25, 4.0)
    diff = np.zeros_like(spec)
    diff[:, BIN_LO:BIN_HI] = band * np.expm1(np.minimum(delta * weight, MAX_DELTA * 4) * signs)
    return _overlap_add(np.fft.irfft(diff, n=FRAME, axis=1) * _WINDOW, len(x))


def _as_2d(samples: np.ndarray) -> np.ndarray:
    a = np.asarray(samples, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def snr_db(original: np.ndarray, marked: np.ndarray) -> float:
    """Signal-to-noise ratio of ``marked`` against ``original`` (same rate and length), in dB."""
    o, m = _as_2d(original), _as_2d(marked)
    noise = float(np.sum((m - o) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(o ** 2)) / noise)


def embed(samples: np.ndarray, sr: int, field: Field, snr: float = TARGET_SNR_DB) -> np.ndarray:
    """``samples`` ((n,) or (n, channels), floats in [-1, 1], at ``sr``) marked with ``field``: the same
    cells in every channel, at 44.1 kHz, the mark ``snr`` dB under the music (float64, clipped to +-1)."""
    x = to_rate(_as_2d(samples), sr)
    if len(x) < BLOCK * COLUMN // 4:
        raise WatermarkError("too short to mark (under 3 s)")
    unit = np.stack([_watermark_signal(x[:, c], field, UNIT_DELTA) for c in range(x.shape[1])], axis=1)
    # The mark grows linearly with delta at these sizes (exp(d) - 1 ~ d): scale it to the target SNR.
    power = float(np.sum(unit ** 2))
    if power == 0:
        return x.copy()
    scale = min(MAX_DELTA / UNIT_DELTA, np.sqrt(float(np.sum(x ** 2)) / power / 10 ** (snr / 10)))
    return np.clip(x + unit * scale, -1.0, 1.0)


# --- detection ------------------------------------------------------------------------------------

def features(mono: np.ndarray) -> np.ndarray:
    """Whitened log power per (column, bin): (columns, BINS)."""
    spec = np.fft.rfft(_frames(mono), axis=1)[:, BIN_LO:BIN_HI]
    power = np.abs(spec) ** 2
    col = power[0::2] + power[1::2]
    logp = np.log(col + 1e-12)
    white = logp - uniform_filter1d(logp, SMOOTH, axis=0, mode="nearest")
    return np.clip(white, -CLIP, CLIP)


@dataclasses.dataclass(frozen=True)
class Sync:
    shift: int  # samples dropped from the clip's start
    offset: int  # the clip's first column is block column ``offset``
    z: float  # the pilot's peak in robust standard deviations
    feats: np.ndarray  # (columns, BINS) features at this shift


def mono_at_rate(samples: np.ndarray, sr: int) -> np.ndarray:
    x = _as_2d(samples)
    return to_rate(x.mean(axis=1), sr)


def synchronise(mono: np.ndarray, key: bytes, shifts: tuple[int, ...] | None = None) -> list[Sync]:
    """The likeliest block starts in a clip (44.1 kHz mono) from the pilot, best first."""
    if len(mono) < COLUMN * 64:
        raise WatermarkError("too short to search for a mark (under 1.5 s)")
    lay = layout(key)
    peaks = []
    all_r = []
    for shift in shifts if shifts is not None else [i * COLUMN // SHIFTS for i in range(SHIFTS)]:
        f = features(mono[shift:])
        folded = np.zeros((BLOCK, BINS))
        idx = np.arange(len(f)) % BLOCK
        np.add.at(folded, idx, f)
        # r[o] = sum_c sum_k pilot[(c + o) % BLOCK, k] * folded[c, k]
        r = np.fft.irfft(np.sum(lay.pilot_fft * np.conj(np.fft.rfft(folded, axis=0)), axis=1), n=BLOCK)
        all_r.append(r)
        for o in np.argsort(r)[-CANDIDATES:]:
            peaks.append((float(r[o]), shift, int(o), f))
    rs = np.concatenate(all_r)
    med = float(np.median(rs))
    mad = float(np.median(np.abs(rs - med))) * 1.4826 or 1e-12
    peaks.sort(key=lambda p: -p[0])
    return [Sync(shift=shift, offset=o, z=(peak - med) / mad, feats=f) for peak, shift, o, f in peaks[:CANDIDATES]]


@dataclasses.dataclass(frozen=True)
class Detection:
    """What the detector found: a payload (or None: no mark) and how sure it is."""

    payload: int | None
    confidence: float  # 0..1: correlation of the soft bits with the decoded codeword (0 when no mark)
    sync_z: float
    seconds: float

    @property
    def found(self) -> bool:
        return self.payload is not None


def _fold_data(sync: Sync, key: bytes) -> np.ndarray:
    lay = layout(key)
    f = sync.feats
    folded = np.zeros((BLOCK, BINS))
    np.add.at(folded, (np.arange(len(f)) + sync.offset) % BLOCK, f)  # by block column
    cell = folded[lay.data_col, lay.data_bin] * lay.data_sign
    return np.bincount(lay.data_bit, weights=cell, minlength=CODED_BITS)


def detect(samples: np.ndarray, sr: int, key: bytes) -> Detection:
    """Search ``samples`` for a payload mark."""
    mono = mono_at_rate(samples, sr)
    seconds = len(mono) / RATE
    # A whole file usually starts where the mark does: try that alignment alone first.
    first = synchronise(mono, key, (0,)) if seconds > 40 else []
    found = _decode(first, key, seconds)
    if found is not None:
        return found
    syncs = synchronise(mono, key)
    found = _decode(syncs, key, seconds)
    return found if found is not None else Detection(None, 0.0, syncs[0].z, seconds)


def _decode(syncs: list[Sync], key: bytes, seconds: float) -> Detection | None:
    for sync in syncs:
        if sync.z < SYNC_Z:
            break
        soft = _fold_data(sync, key)
        bits = ecc.decode(soft)
        payload = ecc.check_crc(bits, PAYLOAD_BITS)
        if payload is None:
            continue
        code = ecc.encode(bits).astype(np.float64) * 2 - 1
        rho = float(code @ soft / (np.linalg.norm(soft) * np.sqrt(len(soft)) or 1.0))
        if rho >= MIN_RHO:
            return Detection(payload, rho, sync.z, seconds)
    return None
