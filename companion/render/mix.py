"""The mixdown: stems -> gain, pan and Form's automation -> a reverb bus -> limiter -> loudness target.

Per stem: the instrument file's mix defaults (gain, pan, reverb send), then Form's automation
for the part's channel (CC7 volume, CC11 expression, CC10 pan, CC91 reverb send). The sends
feed one convolution reverb (the bus settings from Form's console file); the sum is brought to
the loudness target (BS.1770, measured here) and peak-limited under the ceiling, and measured
again (one correction pass if the limiter cost loudness).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import audio as A


@dataclass
class StemMix:
    part: str
    audio: np.ndarray  # (frames, 2) float32
    gain_db: float = 0.0
    pan: float = 0.0
    reverb_send: float = 0.0
    volume: list[tuple[float, int]] = field(default_factory=list)      # CC7 (seconds, value)
    expression: list[tuple[float, int]] = field(default_factory=list)  # CC11
    pan_points: list[tuple[float, int]] = field(default_factory=list)  # CC10
    send_points: list[tuple[float, int]] = field(default_factory=list)  # CC91


@dataclass(frozen=True)
class BusSettings:
    reverb_seconds: float = 2.2
    reverb_predelay_ms: float = 20.0
    reverb_return_db: float = -6.0
    limiter_ceiling_db: float = -1.0
    loudness_target_lufs: float = -14.0


def _curve(points, frames, fn, default):
    return A.envelope([(t, fn(v)) for t, v in points], frames, default=default)


def mixdown(stems: list[StemMix], bus: BusSettings, sr: int = A.SR) -> tuple[np.ndarray, dict]:
    frames = max((len(s.audio) for s in stems), default=0)
    dry = np.zeros((frames, 2), dtype=np.float32)
    send = np.zeros(frames, dtype=np.float32)
    for s in stems:
        x = A.fit(s.audio.astype(np.float32, copy=False), frames)
        g = A.undb(s.gain_db) * _curve(s.volume, frames, lambda v: (v / 100.0) ** 2, 1.0) \
            * _curve(s.expression, frames, lambda v: v / 127.0, 1.0)
        if s.pan_points:
            pan = _curve(s.pan_points, frames, lambda v: (v - 64) / 63.0, s.pan)
        else:
            pan = s.pan
        gl, gr = A.pan_gains(pan)
        gl = (np.asarray(gl) * g).astype(np.float32)
        gr = (np.asarray(gr) * g).astype(np.float32)
        left, right = x[:, 0] * gl, x[:, 1] * gr
        dry[:, 0] += left
        dry[:, 1] += right
        sendg = _curve(s.send_points, frames, lambda v: v / 127.0, 1.0) * s.reverb_send
        if np.any(np.asarray(sendg) > 0):
            send += ((left + right) * 0.5 * sendg).astype(np.float32)
    wet = np.zeros_like(dry)
    if np.any(send):
        ir = A.impulse_response(bus.reverb_seconds, bus.reverb_predelay_ms, sr)
        wet = (A.convolve(send, ir) * A.undb(bus.reverb_return_db)).astype(np.float32)
    mix = dry + wet
    before = A.loudness(mix, sr)
    if not math.isfinite(before):
        return mix, {"loudness_lufs": None, "gain_db": 0.0, "limiter_db": 0.0, "peak_dbfs": None}
    gain = bus.loudness_target_lufs - before
    out, gr = A.limit(mix * A.undb(gain), bus.limiter_ceiling_db, sr)
    after = A.loudness(out, sr)
    if abs(after - bus.loudness_target_lufs) > 0.3:  # the limiter cost loudness: one correction
        gain += bus.loudness_target_lufs - after
        out, gr = A.limit(mix * A.undb(gain), bus.limiter_ceiling_db, sr)
        after = A.loudness(out, sr)
    return out, {"loudness_lufs": round(after, 2), "gain_db": round(gain, 2), "limiter_db": round(gr, 2),
                 "peak_dbfs": round(A.db(float(np.max(np.abs(out)))), 2), "before_lufs": round(before, 2)}
