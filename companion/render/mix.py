"""The mixdown: stems -> gain, pan and Form's automation -> a reverb bus -> limiter -> loudness target.

Per stem: the instrument file's mix defaults (gain, pan, reverb send), then Form's automation
for the part's channel (CC7 volume, CC11 expression, CC10 pan, CC91 reverb send). The sends
feed one convolution reverb (the bus settings from Form's console file); the sum is brought to
the loudness target and peak-limited under the ceiling. Loudness is measured by ffmpeg's ebur128
(:mod:`companion.render.loudness`, the release pipeline's meter): once on the mix, and again on the
result where the limiter touched it (one correction pass if the limiter cost loudness).

:class:`StreamMixer` does this as the stems arrive (the engines stream them): each region is
mixed into the dry and send buses as soon as every stem has it, the reverb convolves each
finished block of the send bus (FFT overlap-add), and each finished stretch of the mix goes to the
loudness meter (an ffmpeg process on the other core) and to the limiter's block peaks. What is left
when the last stem ends is the part that needs the whole piece: the loudness gain, the limiter's gain
curve and one pass that applies them and writes the file (in two threads). Every sum is taken over the
same blocks whatever the timing of the engines, so the same stems always give the same mixdown, bit
for bit.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import audio as A
from .loudness import LoudnessMeter


@dataclass
class StemMix:
    part: str
    audio: np.ndarray | None  # (frames, 2) float32; None when the stem is streamed
    gain_db: float = 0.0
    pan: float = 0.0
    reverb_send: float = 0.0
    volume: list[tuple[float, int]] = field(default_factory=list)      # CC7 (seconds, value)
    expression: list[tuple[float, int]] = field(default_factory=list)  # CC11
    pan_points: list[tuple[float, int]] = field(default_factory=list)  # CC10
    send_points: list[tuple[float, int]] = field(default_factory=list)  # CC91


#: the mixdown may miss the loudness target by this much before a correction pass (LU)
LOUDNESS_TOLERANCE = 0.2


@dataclass(frozen=True)
class BusSettings:
    reverb_seconds: float = 2.2
    reverb_predelay_ms: float = 20.0
    reverb_return_db: float = -6.0
    limiter_ceiling_db: float = -1.0
    loudness_target_lufs: float = -14.0


class Curve:
    """An automation curve from (seconds, value) steps, each reached over ``ramp`` seconds, evaluated
    for any range of frames."""

    def __init__(self, points, fn, default, sr: int = A.SR, ramp: float = 0.02):
        self.sr = sr
        self.const = None
        if not points:
            self.const = float(default)
            return
        pts = sorted((t, fn(v)) for t, v in points)
        xs, ys = [0.0], [default if pts[0][0] > 0 else pts[0][1]]
        cur = ys[0]
        for t, v in pts:
            xs += [t, t + ramp]
            ys += [cur, v]
            cur = v
        xs.append(1e9)
        ys.append(cur)
        self.xs, self.ys = np.asarray(xs), np.asarray(ys)

    def at(self, a: int, b: int):
        if self.const is not None:
            return self.const
        return np.interp(np.arange(a, b) / self.sr, self.xs, self.ys).astype(np.float32)


class _Stem:
    def __init__(self, s: StemMix, sr: int):
        self.gain = A.undb(s.gain_db)
        self.volume = Curve(s.volume, lambda v: (v / 100.0) ** 2, 1.0, sr)
        self.expression = Curve(s.expression, lambda v: v / 127.0, 1.0, sr)
        self.pan = Curve(s.pan_points, lambda v: (v - 64) / 63.0, s.pan, sr) if s.pan_points else None
        self.send = Curve(s.send_points, lambda v: v / 127.0, 1.0, sr)
        self.send_amount = s.reverb_send
        self.static = self.volume.const is not None and self.expression.const is not None and self.pan is None
        if self.static:
            g = self.gain * self.volume.const * self.expression.const
            gl, gr = A.pan_gains(s.pan)
            self.gl, self.gr = np.float32(gl * g), np.float32(gr * g)

    def gains(self, a: int, b: int):
        if self.static:
            return self.gl, self.gr
        g = self.gain * np.asarray(self.volume.at(a, b)) * np.asarray(self.expression.at(a, b))
        pan = self.pan.at(a, b) if self.pan is not None else 0.0
        gl, gr = A.pan_gains(pan)
        return (np.asarray(gl) * g).astype(np.float32), (np.asarray(gr) * g).astype(np.float32)

    def sends(self, a: int, b: int):
        s = self.send.at(a, b)
        if isinstance(s, float):
            return s * self.send_amount if s * self.send_amount > 0 else None
        s = s * np.float32(self.send_amount)
        return s if np.any(s > 0) else None


class StreamMixer:
    """The mixdown of ``frames`` frames, fed region by region in time order (see the module doc)."""

    def __init__(self, stems: list[StemMix], bus: BusSettings, frames: int, sr: int = A.SR, nfft: int = 1 << 18):
        self.bus, self.frames, self.sr = bus, frames, sr
        self.stems = [_Stem(s, sr) for s in stems]
        self.mix = A.zeros((2, frames))  # planar: the dry bus, then dry + wet
        self.has_send = any(s.send_amount > 0 for s in self.stems)
        self.fed = 0
        self.blk = A.limiter_block(sr)
        sub = sr // 10
        self.grid = sub * self.blk // math.gcd(sub, self.blk)  # whole 100 ms sub-blocks and limiter blocks
        while self.grid < sr * 2:
            self.grid *= 2
        self.measured = 0
        self.meter = LoudnessMeter(sr, 2)
        self.peaks: list[np.ndarray] = []
        if self.has_send:
            ir = A.impulse_response(bus.reverb_seconds, bus.reverb_predelay_ms, sr)
            while nfft < 2 * len(ir):
                nfft *= 2
            self.nfft = nfft
            self.rblock = nfft - len(ir) + 1
            H = np.fft.rfft(ir.astype(np.float32), nfft, axis=0).T * np.float32(A.undb(bus.reverb_return_db))
            self.H = np.ascontiguousarray(H.astype(np.complex64))
            self.send = A.zeros(frames)
            self.wet = A.zeros((2, frames + nfft))
            self.convolved = 0
        self.timings = {"reverb_s": 0.0}

    # ------------------------------------------------------------------ streaming part
    def feed(self, start: int, stems: np.ndarray | list[np.ndarray]) -> None:
        """Mix frames ``start:start+k`` of every stem (in the order given at construction): ``stems`` is
        (stems, 2, k), or a list of (2, k) planar arrays."""
        if start != self.fed:
            raise ValueError(f"regions must arrive in order (expected frame {self.fed}, got {start})")
        k = min([x.shape[-1] for x in stems] + [self.frames - start])
        a, b = start, start + k
        dry = self.mix[:, a:b]
        for st, x in zip(self.stems, stems):
            gl, gr = st.gains(a, b)
            left, right = x[0, :k] * gl, x[1, :k] * gr
            dry[0] += left
            dry[1] += right
            if self.has_send:
                sg = st.sends(a, b)
                if sg is not None:
                    self.send[a:b] += ((left + right) * np.float32(0.5) * sg).astype(np.float32)
        self.fed = b
        self._advance()

    def _advance(self, final: bool = False) -> None:
        if self.has_send:
            while self.convolved < self.frames and (self.convolved + self.rblock <= self.fed or final):
                self._convolve_block()
            ready = self.frames if final else self.convolved
        else:
            ready = self.fed
        while self.measured < self.frames and (self.measured + self.grid <= ready or final):
            a, b = self.measured, min(self.measured + self.grid, self.frames)
            seg = self.mix[:, a:b]
            if self.has_send:
                seg += self.wet[:, a:b]
            self.meter.feed(seg, planar=True)
            self.peaks.append(A.block_peaks_planar(seg, self.blk))
            self.measured = b

    def _convolve_block(self) -> None:
        t = time.perf_counter()
        o = self.convolved
        x = self.send[o:o + self.rblock]
        if np.any(x):
            X = np.fft.rfft(x, self.nfft)
            y = np.fft.irfft(X[None, :] * self.H, self.nfft, axis=1)
            self.wet[:, o:o + self.nfft] += y
        self.convolved = min(self.frames, o + self.rblock)
        self.timings["reverb_s"] += time.perf_counter() - t

    # ------------------------------------------------------------------ the whole-piece part
    def finish(self, path: str | Path | None = None, bits: int = 24, threads: int = 2):
        """Loudness gain, limiter, the output pass. Returns (audio or None when written to ``path``, info)."""
        if self.fed < self.frames:
            raise ValueError(f"the mixer has {self.fed} of {self.frames} frames")
        self._advance(final=True)
        bus = self.bus
        if self.frames:
            before = self.meter.result()
        else:
            self.meter.abort()
            before = float("-inf")
        if not math.isfinite(before):
            out = self.mix.T
            if path is not None:
                A.write_wav(path, out, self.sr, bits)
            return (None if path is not None else out), {"loudness_lufs": None, "gain_db": 0.0, "limiter_db": 0.0,
                                                         "peak_dbfs": None}
        bpeak = np.concatenate(self.peaks)
        ceiling = A.undb(bus.limiter_ceiling_db)
        gain = bus.loudness_target_lufs - before
        after, peak, g = self._output(gain, before, bpeak, ceiling, path, bits, threads)
        if abs(after - bus.loudness_target_lufs) > LOUDNESS_TOLERANCE:  # the limiter cost loudness
            gain += bus.loudness_target_lufs - after
            after, peak, g = self._output(gain, before, bpeak, ceiling, path, bits, threads)
        info = {"loudness_lufs": round(after, 2), "gain_db": round(gain, 2),
                "limiter_db": round(A.db(float(g.min())), 2),
                "peak_dbfs": round(A.db(peak), 2), "before_lufs": round(before, 2)}
        if path is not None:
            return None, info
        return self.out.T, info

    def abort(self) -> None:
        """Stop the loudness meter of a mix that will not be finished."""
        self.meter.abort()

    def _output(self, gain_db: float, before: float, bpeak: np.ndarray, ceiling: float, path, bits: int,
                threads: int):
        """One pass over the mix: loudness gain x limiter gain, hard clip of interpolation corners, the
        peak of the result and (with ``path``) its PCM written in place. Returns (loudness, peak, gains).

        Where the limiter leaves the whole mix alone, the result is the mix times the loudness gain, so
        its loudness is the measured one plus that gain (K-weighting is linear); otherwise the result is
        measured again, streamed to the meter in order as the chunks are done."""
        G = A.undb(gain_db)
        g = A.limiter_gains(bpeak * G, ceiling, self.blk, self.sr)
        if g.min() >= 1.0:
            g = None
        meter = LoudnessMeter(self.sr, 2) if g is not None else None
        chunks = [(a, min(a + self.grid, self.frames)) for a in range(0, self.frames, self.grid)]
        writer = A.WavWriter(path, self.frames, 2, self.sr, bits) if path is not None else None
        if writer is None:
            self.out = np.empty_like(self.mix)  # planar
        blk = self.blk

        def one(ab):
            a, b = ab
            ba, bb = a // blk, -(-b // blk)
            if g is None or g[max(0, ba - 1): bb + 1].min() >= 1.0:
                y = self.mix[:, a:b] * np.float32(G)
                pk = float(G * bpeak[ba:bb].max()) if bb > ba else 0.0
            else:
                y = self.mix[:, a:b] * (A.gain_curve(g, blk, a, b) * np.float32(G))[None, :]
                pk = float(np.max(np.abs(y))) if y.size else 0.0
                if pk > ceiling:
                    np.clip(y, -ceiling, ceiling, out=y)
                    pk = min(pk, ceiling)
            if writer is not None:
                writer.write(a, y.T)
            else:
                self.out[:, a:b] = y
            return y, pk

        peak = 0.0
        try:
            if threads > 1 and len(chunks) > 1:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    done = pool.map(one, chunks)
                    peak = self._collect(done, meter)
            else:
                peak = self._collect(map(one, chunks), meter)
            after = meter.result() if meter is not None else before + gain_db
        except BaseException:
            if writer is not None:
                writer.abort()
            if meter is not None:
                meter.abort()
            raise
        if writer is not None:
            writer.close()
        return after, peak, (g if g is not None else np.ones(1))

    @staticmethod
    def _collect(done, meter: LoudnessMeter | None) -> float:
        """The peak over the output chunks, each fed to ``meter`` (in order) as it is done."""
        peak = 0.0
        for y, pk in done:
            if meter is not None:
                meter.feed(y, planar=True)
            peak = max(peak, pk)
        return peak


def mixdown(stems: list[StemMix], bus: BusSettings, sr: int = A.SR) -> tuple[np.ndarray, dict]:
    """The whole mixdown of stems already in memory (the streaming mixer fed in one region)."""
    frames = max((len(s.audio) for s in stems), default=0)
    m = StreamMixer(stems, bus, frames, sr)
    if frames:
        m.feed(0, [np.ascontiguousarray(A.fit(s.audio.astype(np.float32, copy=False), frames).T) for s in stems])
    else:
        m.fed = 0
    return m.finish()


__all__ = ["BusSettings", "StemMix", "StreamMixer", "mixdown"]
