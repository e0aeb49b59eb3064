"""Audio maths for stems and the mixdown, in numpy: WAV files (through soundfile), pan, the reverb's
impulse response and a look-ahead limiter. Loudness is measured by ffmpeg's ebur128
(:mod:`companion.render.loudness`).

Everything is deterministic (the reverb's impulse response comes from a fixed seed), so the
same stems always give the same mixdown, bit for bit.
"""
from __future__ import annotations

import functools
import math
import mmap
import threading
from pathlib import Path

import numpy as np
import soundfile

SR = 44100
SUBTYPES = {16: "PCM_16", 24: "PCM_24"}


# --------------------------------------------------------------------------- WAV files

def read_wav(path: str | Path) -> tuple[int, np.ndarray]:
    """(sample rate, float32 array of shape (frames, channels)) of a sound file (WAV, FLAC, AIFF...)."""
    try:
        x, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise ValueError(f"{Path(path).name} is not a sound file soundfile can read: {exc}") from None
    return sr, x


def quantize(x: np.ndarray, bits: int = 24, dtype: str = "<i4") -> np.ndarray:
    """Float audio as PCM integers (int32, or ``dtype``): scaled, rounded half away from zero, clipped at
    full scale. Elementwise, so chunks convert exactly like the whole."""
    full = 32767.0 if bits == 16 else 8388607.0
    y = np.asarray(x, dtype=np.float32) * np.float32(full)
    y += np.copysign(np.float32(0.5), y)
    np.clip(y, -full, full, out=y)
    return y.astype(dtype)


def write_wav(path: str | Path, x: np.ndarray, sr: int = SR, bits: int = 24) -> Path:
    """Write float audio (frames, channels) as PCM WAV (16 or 24 bit), clipping at full scale."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    frames, ch = x.shape
    with WavWriter(path, frames, ch, sr, bits) as w:
        w.write(0, x)
    return Path(path)


class WavWriter:
    """A PCM WAV of known length written in pieces, in any order (``write(start_frame, chunk)``; threads
    may convert their chunks at once, the file writes take turns), under a temporary name renamed into
    place on :meth:`close`.

    Samples are converted by :func:`quantize` (our rounding rule), so soundfile only stores integers."""

    def __init__(self, path: str | Path, frames: int, ch: int = 2, sr: int = SR, bits: int = 24):
        if bits not in SUBTYPES:
            raise ValueError(f"WAV stems are 16 or 24 bit, not {bits}")
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.frames, self.ch, self.bits = frames, ch, bits
        self._file: soundfile.SoundFile | None = soundfile.SoundFile(
            self.tmp, "w", samplerate=sr, channels=ch, subtype=SUBTYPES[bits], format="WAV")
        self._lock = threading.Lock()

    #: frames converted at a time: the float and integer scratch of a block stay in the CPU's cache
    #: (converting a whole region at once streams it through memory five times, in fresh pages)
    BLOCK = 8192

    def _ints(self, x: np.ndarray, same_channels: bool) -> np.ndarray:
        """The frames as the integers soundfile stores, C-ordered: int16, or int32 whose top 24 bits are
        the sample. The same numbers as :func:`quantize` (the same float32 operations, element by element)."""
        full = 32767.0 if self.bits == 16 else 8388607.0
        dtype = np.int16 if self.bits == 16 else np.int32
        k = len(x)
        one = same_channels and x.ndim == 2 and x.shape[1] > 1  # convert one channel, repeat it
        if x.ndim == 1:
            x = x[:, None]
        ch = x.shape[1]
        q = np.empty((k, ch), dtype=dtype)
        cols = 1 if one else ch
        y = np.empty((min(k, self.BLOCK), cols), dtype=np.float32)
        half = np.empty_like(y)
        once = np.empty(min(k, self.BLOCK), dtype=dtype) if one else None
        for a in range(0, k, self.BLOCK):
            b = min(k, a + self.BLOCK)
            yb, hb = y[: b - a], half[: b - a]
            np.multiply(x[a:b, :cols], np.float32(full), out=yb, dtype=np.float32, casting="unsafe")
            np.copysign(np.float32(0.5), yb, out=hb)
            yb += hb
            np.clip(yb, -full, full, out=yb)
            if one:  # cast once, copy into each channel (a broadcasting cast is several times slower)
                ob = once[: b - a]
                np.copyto(ob, yb[:, 0], casting="unsafe")
                for c in range(ch):
                    q[a:b, c] = ob
            else:
                np.copyto(q[a:b], yb, casting="unsafe")  # truncation toward zero, as astype
        if self.bits == 24:
            q <<= 8
        return q

    def write(self, start: int, x: np.ndarray, same_channels: bool = False) -> None:
        """Write frames from ``start``; ``same_channels``: every channel of ``x`` holds the same samples
        (converted once)."""
        x = x[: max(0, self.frames - start)]
        if not len(x):
            return
        q = self._ints(x, same_channels)
        with self._lock:
            if self._file.tell() != start:
                self._file.seek(start)
            self._file.write(q)

    def close(self) -> Path:
        if self._file is not None:
            self._file.close()
            self._file = None
            self.tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.close()
        else:
            self.abort()


def fit(x: np.ndarray, frames: int) -> np.ndarray:
    """``x`` (frames, channels) cut or padded with silence to ``frames``."""
    if len(x) >= frames:
        return x[:frames]
    return np.vstack([x, np.zeros((frames - len(x), x.shape[1]), dtype=x.dtype)])


def zeros(shape, dtype=np.float32) -> np.ndarray:
    """A zeroed array for a big bus: private anonymous memory asking for transparent huge pages
    (a few hundred page faults instead of tens of thousands for a 3-minute stereo bus)."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if n < 1 << 22 or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(shape, dtype=dtype)
    mm = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        mm.madvise(mmap.MADV_HUGEPAGE)
    except OSError:
        pass
    return np.frombuffer(mm, dtype=dtype).reshape(shape)


# --------------------------------------------------------------------------- mix maths

def db(g: float) -> float:
    return 20 * math.log10(max(g, 1e-12))


def undb(d: float) -> float:
    return 10 ** (d / 20)


def pan_gains(pan: np.ndarray | float) -> tuple:
    """Constant-power pan law, unity at the centre: pan -1 (left) .. +1 (right)."""
    theta = (np.asarray(pan, dtype=np.float64) + 1) * math.pi / 4
    return np.cos(theta) * math.sqrt(2), np.sin(theta) * math.sqrt(2)


def impulse_response(seconds: float, predelay_ms: float, sr: int = SR, seed: int = 1971) -> np.ndarray:
    """A copy of :func:`_impulse_response` (computed once per setting)."""
    return _impulse_response(float(seconds), float(predelay_ms), sr, seed).copy()


@functools.lru_cache(maxsize=8)
def _impulse_response(seconds: float, predelay_ms: float, sr: int = SR, seed: int = 1971) -> np.ndarray:
    """A stereo reverb impulse response: decorrelated noise under an exponential decay (RT60 =
    ``seconds``), darker as it decays, after ``predelay_ms``. Fixed seed: always the same IR."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    decay = np.exp(-6.9078 * t / seconds)
    ir = rng.standard_normal((n, 2)) * decay[:, None]
    # a gentle low-pass that closes with time (moving average of growing width, by cumulative sums)
    c = np.cumsum(np.vstack([np.zeros((1, 2)), ir]), axis=0)
    width = (1 + (t / seconds) * 12).astype(int)
    idx = np.arange(n)
    lo = np.maximum(0, idx - width + 1)
    ir = (c[idx + 1] - c[lo]) / (idx - lo + 1)[:, None]
    ir /= np.sqrt(np.sum(ir ** 2) / 2)
    pre = np.zeros((int(predelay_ms * sr / 1000), 2))
    return np.vstack([pre, ir]).astype(np.float64)


# --------------------------------------------------------------------------- the limiter

LIMITER_LOOKAHEAD = 0.005
LIMITER_RELEASE = 0.08


def limiter_block(sr: int = SR, lookahead: float = LIMITER_LOOKAHEAD) -> int:
    return max(16, int(lookahead * sr))


def block_peaks_planar(x: np.ndarray, blk: int) -> np.ndarray:
    """The peak |sample| of each ``blk``-frame block of planar audio (channels, frames); the last
    block may be short."""
    frames = x.shape[1]
    nb = (frames + blk - 1) // blk
    full_blocks = frames // blk
    bpeak = np.zeros(nb)
    for c in range(x.shape[0]):
        if full_blocks:
            head = x[c, : full_blocks * blk].reshape(full_blocks, blk)
            np.maximum(bpeak[:full_blocks], np.maximum(head.max(axis=1), -head.min(axis=1)),
                       out=bpeak[:full_blocks])
        if frames > full_blocks * blk:
            bpeak[-1] = max(bpeak[-1], float(np.abs(x[c, full_blocks * blk:]).max()))
    return bpeak


def limiter_gains(bpeak: np.ndarray, ceiling: float, blk: int, sr: int = SR,
                  release: float = LIMITER_RELEASE) -> np.ndarray:
    """Per-block gains of the look-ahead limiter from the block peaks: each block honours its own and its
    neighbours' need (look-ahead on both sides of the interpolation); gain falls at once and recovers by
    at most ``blk / (release * sr)`` per block."""
    need = np.minimum(1.0, ceiling / np.maximum(bpeak, 1e-12))
    g = np.minimum(need, np.minimum(np.r_[need[1:], 1.0], np.r_[1.0, need[:-1]]))
    step = blk / (release * sr)
    # release: g'[i] = min_j<=i (g[j] + (i-j) step), vectorised with a running minimum
    idx = np.arange(len(g)) * step
    return np.minimum(g, np.minimum.accumulate(g - idx) + idx)


def gain_curve(g: np.ndarray, blk: int, start: int, stop: int) -> np.ndarray:
    """The per-frame gain for frames ``start:stop`` interpolated between block centres."""
    centres = (np.arange(len(g)) + 0.5) * blk
    return np.interp(np.arange(start, stop, dtype=np.float64), centres, g).astype(np.float32)
