"""Audio maths for stems and the mixdown, in numpy: WAV I/O, pan, automation, a convolution
reverb bus, a look-ahead limiter and an ITU-R BS.1770 loudness meter.

Everything is deterministic (the reverb's impulse response comes from a fixed seed), so the
same stems always give the same mixdown, bit for bit.
"""
from __future__ import annotations

import functools
import math
import mmap
import os
import struct
from pathlib import Path

import numpy as np

SR = 44100


# --------------------------------------------------------------------------- WAV files

def read_wav(path: str | Path) -> tuple[int, np.ndarray]:
    """(sample rate, float32 array of shape (frames, channels)) from PCM 16/24/32-bit or float WAV."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{Path(path).name} is not a WAV file")
    pos, fmt, raw = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, sr, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, sr, bits)
        elif cid == b"data":
            raw = body if size != 0xFFFFFFFF else data[pos + 8:]
        pos += 8 + size + (size & 1)
    if fmt is None or raw is None:
        raise ValueError(f"{Path(path).name}: no fmt or data chunk")
    tag, ch, sr, bits = fmt
    if tag == 3 and bits == 32:
        x = np.frombuffer(raw[: len(raw) // 4 * 4], "<f4").astype(np.float32)
    elif tag == 1 and bits == 16:
        x = np.frombuffer(raw[: len(raw) // 2 * 2], "<i2").astype(np.float32) / 32768.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3)
        i = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
        i = np.where(i >= 1 << 23, i - (1 << 24), i)
        x = i.astype(np.float32) / float(1 << 23)
    elif tag == 1 and bits == 32:
        x = np.frombuffer(raw[: len(raw) // 4 * 4], "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise ValueError(f"{Path(path).name}: unsupported WAV format {tag}/{bits}-bit")
    frames = len(x) // ch
    return sr, x[: frames * ch].reshape(frames, ch)


def quantize(x: np.ndarray, bits: int = 24) -> np.ndarray:
    """Float audio as PCM integers (int32): scaled, rounded half away from zero, clipped at full scale."""
    full = 32767.0 if bits == 16 else 8388607.0
    y = np.asarray(x, dtype=np.float32) * np.float32(full)
    y += np.copysign(np.float32(0.5), y)
    np.clip(y, -full, full, out=y)
    return y.astype("<i4")


def pack(i: np.ndarray, bits: int = 24) -> bytes:
    """PCM integers (any shape, interleaved order) as little-endian 16- or 24-bit bytes."""
    i = np.ascontiguousarray(i, dtype="<i4").reshape(-1)
    if bits == 16:
        return i.astype("<i2").tobytes()
    # 24-bit packing by words: 4 samples (4 x 3 bytes) are 3 little-endian 32-bit words
    m = len(i) // 4 * 4
    u = i[:m].view("<u4").reshape(-1, 4)
    w = np.empty((m // 4, 3), dtype="<u4")
    s1, s2 = u[:, 1] & 0xFFFFFF, u[:, 2] & 0xFFFFFF
    np.bitwise_or(u[:, 0] & 0xFFFFFF, s1 << 24, out=w[:, 0])
    np.bitwise_or(s1 >> 8, s2 << 16, out=w[:, 1])
    np.bitwise_or(s2 >> 16, u[:, 3] << 8, out=w[:, 2])
    return w.tobytes() + i[m:].view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def pcm_bytes(x: np.ndarray, bits: int = 24) -> bytes:
    """Float audio (frames, channels) as little-endian PCM bytes (16 or 24 bit): scaled, rounded half
    away from zero, clipped at full scale. Elementwise, so chunks convert exactly like the whole."""
    return pack(quantize(x, bits), bits)


def wav_header(frames: int, ch: int, sr: int, bits: int) -> bytes:
    block = ch * bits // 8
    size = frames * block
    return b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, ch, sr, sr * block, block, bits) + b"data" + struct.pack("<I", size)


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
    """A PCM WAV of known length written in pieces, in any order (``write(start_frame, chunk)`` is a
    positioned write, so threads may write different parts at once); renamed into place on close."""

    def __init__(self, path: str | Path, frames: int, ch: int = 2, sr: int = SR, bits: int = 24):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.frames, self.ch, self.bits = frames, ch, bits
        self.block = ch * bits // 8
        header = wav_header(frames, ch, sr, bits)
        self.offset = len(header)
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(self.fd, header)
        os.ftruncate(self.fd, self.offset + frames * self.block)

    def write(self, start: int, x: np.ndarray, same_channels: bool = False) -> None:
        """Write frames from ``start``; ``same_channels``: every channel of ``x`` holds the same samples
        (converted once)."""
        x = x[: max(0, self.frames - start)]
        if not len(x):
            return
        if same_channels and x.ndim == 2 and x.shape[1] > 1:
            data = pack(np.repeat(quantize(x[:, 0], self.bits), x.shape[1]), self.bits)
        else:
            data = pcm_bytes(x, self.bits)
        os.pwrite(self.fd, data, self.offset + start * self.block)

    def close(self) -> Path:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.close()
        else:
            self.abort()


def stereo(x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 1:
        return np.repeat(x, 2, axis=1)
    return x[:, :2]


def fit(x: np.ndarray, frames: int) -> np.ndarray:
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


def convolve(x: np.ndarray, ir: np.ndarray, block: int = 1 << 15) -> np.ndarray:
    """FFT overlap-add convolution of mono ``x`` with each channel of ``ir``: (len(x), channels)."""
    n = len(x)
    m = len(ir)
    size = 1 << int(math.ceil(math.log2(block + m - 1)))
    H = np.fft.rfft(ir, size, axis=0)
    out = np.zeros((n + size, ir.shape[1]))
    nblocks = (n + block - 1) // block
    pad = np.zeros(nblocks * block)
    pad[:n] = x
    blocks = pad.reshape(nblocks, block)
    for start in range(0, nblocks, 16):
        chunk = blocks[start:start + 16]
        X = np.fft.rfft(chunk, size, axis=1)
        for c in range(ir.shape[1]):
            y = np.fft.irfft(X * H[:, c][None, :], size, axis=1)
            for j in range(len(chunk)):
                o = (start + j) * block
                out[o:o + size, c] += y[j]
    return out[:n]


LIMITER_LOOKAHEAD = 0.005
LIMITER_RELEASE = 0.08


def limiter_block(sr: int = SR, lookahead: float = LIMITER_LOOKAHEAD) -> int:
    return max(16, int(lookahead * sr))


def block_peaks(x: np.ndarray, blk: int) -> np.ndarray:
    """The peak |sample| of each ``blk``-frame block of ``x`` (the last block may be short)."""
    frames = len(x)
    nb = (frames + blk - 1) // blk
    full_blocks = frames // blk
    bpeak = np.zeros(nb)
    if full_blocks:
        head = x[: full_blocks * blk].reshape(full_blocks, blk * x.shape[1])
        bpeak[:full_blocks] = np.maximum(head.max(axis=1), -head.min(axis=1))
    if frames > full_blocks * blk:
        bpeak[-1] = np.abs(x[full_blocks * blk:]).max()
    return bpeak


def block_peaks_planar(x: np.ndarray, blk: int) -> np.ndarray:
    """:func:`block_peaks` of planar audio (channels, frames)."""
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


def limit(x: np.ndarray, ceiling_db: float = -1.0, sr: int = SR, lookahead: float = LIMITER_LOOKAHEAD,
          release: float = LIMITER_RELEASE) -> tuple[np.ndarray, float]:
    """A look-ahead peak limiter: no sample exceeds the ceiling; gain recovers over ``release``.
    Returns (limited audio, most gain reduction in dB)."""
    ceiling = undb(ceiling_db)
    blk = limiter_block(sr, lookahead)
    g = limiter_gains(block_peaks(x, blk), ceiling, blk, sr, release)
    if g.min() >= 1.0:
        return x, 0.0
    y = x * gain_curve(g, blk, 0, len(x))[:, None]
    if (np.abs(y) > ceiling).any():  # interpolation corner cases: hard-clip the last fraction of a dB
        y = np.clip(y, -ceiling, ceiling)
    return y, db(float(g.min()))


# --------------------------------------------------------------------------- loudness (BS.1770-4)

def _k_weighting(freqs: np.ndarray, sr: int) -> np.ndarray:
    """|H|^2 of the BS.1770 K-weighting filter (high-shelf + high-pass biquads) at ``freqs``."""
    def biquad(b, a):
        z = np.exp(-2j * np.pi * freqs / sr)
        return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    # coefficients of the standard (48 kHz) design re-derived for sr
    f0, g, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10 ** (g / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = biquad([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
                   [1, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1 + k / q + k * k
    hp = biquad([1, -2, 1], [1, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return np.abs(shelf * hp) ** 2


@functools.lru_cache(maxsize=4)
def _k_weights(sr: int) -> np.ndarray:
    return _k_weighting(np.fft.rfftfreq(sr // 10, 1 / sr), sr)


def k_energies(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """The mean-square K-weighted energy (summed over the first two channels) of each complete 100 ms
    sub-block of ``x``: K-weighting in the frequency domain per sub-block (Parseval). Chunks that start on
    a sub-block boundary give exactly the energies of the whole."""
    sub = sr // 10
    n = len(x) // sub
    energy = np.zeros(n)
    if n == 0:
        return energy
    w = _k_weights(sr)
    for c in range(min(2, x.shape[1])):
        X = np.fft.rfft(x[: n * sub, c].reshape(n, sub), axis=1)
        p = np.abs(X) ** 2 * w[None, :]
        p[:, 1:-1] *= 2
        energy += p.sum(axis=1) / (sub * sub)
    return energy


def gated_loudness(energy: np.ndarray) -> float:
    """Integrated loudness from 100 ms sub-block energies: 400 ms blocks overlapping by 75 %, the
    -70 LUFS absolute and -10 LU relative gates."""
    if len(energy) < 4:
        return float("-inf")
    blocks = np.convolve(energy, np.ones(4) / 4, mode="valid")
    lk = -0.691 + 10 * np.log10(np.maximum(blocks, 1e-20))
    gated = blocks[lk > -70]
    if not len(gated):
        return float("-inf")
    rel = -0.691 + 10 * math.log10(gated.mean()) - 10
    gated = blocks[(lk > -70) & (lk > rel)]
    return -0.691 + 10 * math.log10(gated.mean())


def loudness(x: np.ndarray, sr: int = SR) -> float:
    """Integrated loudness (LUFS) with the BS.1770 gates (-70 LUFS absolute, -10 LU relative).

    K-weighting is applied in the frequency domain per 100 ms sub-block (Parseval), the 400 ms
    gating blocks overlap by 75% as the standard asks."""
    return gated_loudness(k_energies(x, sr))
