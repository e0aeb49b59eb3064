"""A/B forensic marks for HLS streams: two marked variants per track, one keyed sequence per listener.

A track is marked twice (:func:`variants`: variant 0 and 1, same pilot, opposite data signs) and
both are cut into the same segments. A listener's playlist takes segment ``i`` from variant
:func:`listener_bits` ``[i]`` (:func:`pick_segments`), so nothing is encoded per listener. From a
captured stream of a few minutes, :func:`trace` reads each segment's variant and finds the
listener whose sequence matches (bench/watermark.py: ``stream_trace_minutes``).

Identification rule: the best candidate must agree on at least :data:`MIN_AGREEMENT` of the
segment decisions (weighted by their confidence), and the capture must hold enough segments that
another listener's random sequence matching as well is below one in a million for the number of
candidates (binomial tail times the number of candidates at most :data:`FALSE_ID`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy.stats import binom

from companion.rights import watermark as wm

MIN_AGREEMENT = 0.9
FALSE_ID = 1e-6  # the chance, over all candidates, that a wrong one agrees as well


def variants(samples: np.ndarray, sr: int, key: bytes, snr: float = wm.TARGET_SNR_DB) -> tuple[np.ndarray, np.ndarray]:
    """The track marked as variant 0 and variant 1 (44.1 kHz)."""
    return (wm.embed(samples, sr, wm.stream_field(key, 0), snr),
            wm.embed(samples, sr, wm.stream_field(key, 1), snr))


def listener_bits(key: bytes, track_id: int, listener: str, segments: int) -> list[int]:
    """The variant (0/1) of each of ``segments`` segments for ``listener`` on ``track_id`` (keyed)."""
    out: list[int] = []
    counter = 0
    while len(out) < segments:
        digest = hmac.new(key, f"ab|{track_id}|{listener}|{counter}".encode(), hashlib.sha256).digest()
        for byte in digest:
            for i in range(8):
                out.append((byte >> (7 - i)) & 1)
        counter += 1
    return out[:segments]


def pick_segments(uris_a: Sequence[str], uris_b: Sequence[str], bits: Sequence[int]) -> list[str]:
    """Segment URIs of one listener's playlist: segment ``i`` from variant ``bits[i]``."""
    if len(uris_a) != len(uris_b):
        raise wm.WatermarkError("the two variants have different segment counts")
    return [b if bit else a for a, b, bit in zip(uris_a, uris_b, bits)]


def boundaries(durations: Iterable[float]) -> np.ndarray:
    """Segment start times (seconds) from the playlist's segment durations, with the end appended."""
    return np.concatenate([[0.0], np.cumsum(list(durations))])


@dataclasses.dataclass(frozen=True)
class Trace:
    """What a capture says: the segments read (index -> soft value: >0 variant 0) and the listener."""

    soft: dict[int, float]
    listener: str | None
    agreement: float
    sync_z: float

    @property
    def bits(self) -> dict[int, int]:
        return {i: int(v < 0) for i, v in self.soft.items()}


def read_segments(samples: np.ndarray, sr: int, key: bytes, starts: np.ndarray, *, guard: float = 0.25) -> tuple[dict[int, float], float]:
    """Each captured segment's soft variant value (>0: variant 0), found blindly from the pilot and the
    per-block keys. ``starts``: segment boundaries in seconds (:func:`boundaries`). Columns within
    ``guard`` seconds of a boundary are left out."""
    mono = wm.mono_at_rate(samples, sr)
    syncs = wm.synchronise(mono, key)
    sync = syncs[0]
    feats = sync.feats
    ncols = len(feats)
    total_cols = int(math.ceil(starts[-1] * wm.RATE / wm.COLUMN)) + 1
    n_blocks = max(1, -(-total_cols // wm.BLOCK))
    best: tuple[float, dict[int, float]] | None = None
    for b in range(-1, n_blocks):  # -1: the capture starts a little before the track (encoder priming)
        j0 = sync.offset + b * wm.BLOCK
        if j0 >= total_cols:
            break
        cols = j0 + np.arange(ncols)
        keep = (cols >= 0) & (cols < total_cols)
        cols_k = cols[keep]
        signs = np.zeros((len(cols_k), wm.BINS))
        for blk in np.unique(cols_k // wm.BLOCK):
            sel = cols_k // wm.BLOCK == blk
            signs[sel] = wm._stream_block(key, int(blk))[cols_k[sel] % wm.BLOCK]
        per_col = np.sum(feats[keep] * signs, axis=1)
        t = (cols_k + 0.75) * wm.COLUMN / wm.RATE  # a column's middle, in track seconds
        seg = np.searchsorted(starts, t, side="right") - 1
        near = np.min(np.abs(t[:, None] - starts[None, :]), axis=1) < guard
        ok = ~near & (seg >= 0) & (seg < len(starts) - 1)
        soft: dict[int, float] = {}
        for i in np.unique(seg[ok]):
            soft[int(i)] = float(per_col[ok & (seg == i)].sum())
        score = float(sum(v * v for v in soft.values()))
        if best is None or score > best[0]:
            best = (score, soft)
    return (best[1] if best else {}), sync.z


def trace(samples: np.ndarray, sr: int, key: bytes, track_id: int, starts: np.ndarray,
          candidates: Sequence[str]) -> Trace:
    """The listener (among ``candidates``) whose A/B sequence a captured stream carries, or None."""
    soft, z = read_segments(samples, sr, key, starts)
    if not soft or not candidates:
        return Trace(soft, None, 0.0, z)
    idx = sorted(soft)
    vals = np.array([soft[i] for i in idx])
    total = float(np.abs(vals).sum()) or 1.0
    n = max(idx) + 1
    best, best_score = None, -np.inf
    for cand in candidates:
        bits = np.array(listener_bits(key, track_id, cand, n))[idx]
        score = float(vals @ (1 - 2 * bits)) / total
        if score > best_score:
            best, best_score = cand, score
    agreement = (best_score + 1) / 2
    bits = np.array(listener_bits(key, track_id, best, n))[idx]
    agreed = int(np.sum((vals > 0) == (bits == 0)))
    # chance that some other candidate's random sequence agrees on as many segments
    chance = len(candidates) * float(binom.sf(agreed - 1, len(idx), 0.5))
    sure = agreement >= MIN_AGREEMENT and chance <= FALSE_ID
    return Trace(soft, best if sure else None, agreement, z)


def trace_known(soft: Mapping[int, float]) -> int:
    """How many segments a capture read (for reports)."""
    return len(soft)


# --- A/B HLS ladders and one listener's media playlist ---------------------------------------------

def ab_ladders(samples: np.ndarray, sr: int, key: bytes, out_dir, bitrates=(48, 96, 192), segment_seconds: int = 4,
               snr: float = wm.TARGET_SNR_DB) -> dict[int, tuple]:
    """Both marked variants encoded as AAC rungs and cut into fMP4 segments alike, under
    ``out_dir/a`` and ``out_dir/b``: ``{kbps: (variant 0, variant 1)}`` (companion.media.hls.Variant).
    Encoded once per track, whatever the number of listeners."""
    from pathlib import Path

    import soundfile as sf

    from companion.media import hls
    from companion.media.ffmpeg import ffmpeg, input_args

    out_dir = Path(out_dir)
    ladders: dict[int, list] = {k: [] for k in bitrates}
    for name, marked in zip("ab", variants(samples, sr, key, snr)):
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        wav = folder / "marked.wav"
        sf.write(wav, marked, wm.RATE, subtype="PCM_16")
        for kbps in bitrates:
            rung = folder / f"rung-{kbps}.m4a"
            ffmpeg(["-threads", "1", *input_args(wav, "wav"), "-c:a", "aac", "-b:a", f"{kbps}k", "-f", "mp4", str(rung)])
            ladders[kbps].append(hls.segment(rung, folder, kbps, segment_seconds))
            rung.unlink()
        wav.unlink()
    return {k: tuple(v) for k, v in ladders.items()}


def listener_media_playlist(playlist_a: str, playlist_b: str, bits: Sequence[int], *, prefix_a: str = "",
                            prefix_b: str = "") -> str:
    """One listener's media playlist from the two variants' playlists (same segmentation): segment
    ``i`` from variant ``bits[i]`` (URIs prefixed with ``prefix_a`` / ``prefix_b``); the init segment is
    variant 0's (both variants' encoders are set alike)."""
    from companion.media import hls

    a, b = hls.read_media_playlist(playlist_a), hls.read_media_playlist(playlist_b)
    if len(a.segments) != len(b.segments) or len(bits) < len(a.segments):
        raise wm.WatermarkError("the two variants are not segmented alike")
    segs = [(prefix_b + sb.uri if bit else prefix_a + sa_.uri, sa_.duration)
            for sa_, sb, bit in zip(a.segments, b.segments, bits)]
    return hls.write_media_playlist(segs, init=prefix_a + a.init if a.init else None)
