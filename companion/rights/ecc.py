"""Error correction for watermark payloads: CRC-32 plus a rate-1/3 convolutional code (K=7).

The code is the one of 3GPP/CCSDS kind (generators 133, 171, 165 octal), decoded with a soft-decision
Viterbi decoder vectorised over its 64 states in numpy. Soft inputs are real numbers whose sign is the
bit (positive: 1) and whose size is the confidence; a decode returns the bits and whether the CRC holds.
"""
from __future__ import annotations

import zlib

import numpy as np

K = 7
POLYS = (0o133, 0o171, 0o165)
RATE = len(POLYS)
STATES = 1 << (K - 1)
CRC_BITS = 32


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


# For each state (the last K-1 input bits, newest in bit 0) and input bit: the outputs and the next state.
_state = np.arange(STATES)
_OUT = np.zeros((STATES, 2, RATE), dtype=np.int8)
_NEXT = np.zeros((STATES, 2), dtype=np.int64)
for _b in (0, 1):
    _reg = (_state << 1) | _b  # K bits: newest in bit 0
    for _i, _p in enumerate(POLYS):
        _OUT[:, _b, _i] = _parity(_reg & _p)
    _NEXT[:, _b] = _reg & (STATES - 1)
# Predecessors of each next state: (previous state, input bit) pairs, two per state.
_PREV = [[] for _ in range(STATES)]
for _s in range(STATES):
    for _b in (0, 1):
        _PREV[_NEXT[_s, _b]].append((_s, _b))
_PREV_S = np.array([[p[0] for p in ps] for ps in _PREV])  # (STATES, 2)
_PREV_B = np.array([[p[1] for p in ps] for ps in _PREV])
_PREV_OUT = _OUT[_PREV_S, _PREV_B].astype(np.float64) * 2 - 1  # (STATES, 2, RATE) in {-1, +1}


def to_bits(value: int, n: int) -> np.ndarray:
    """``value`` as ``n`` bits, most significant first."""
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.int8)


def from_bits(bits) -> int:
    out = 0
    for b in bits:
        out = (out << 1) | int(b)
    return out


def with_crc(payload: int, n: int) -> np.ndarray:
    """The ``n`` payload bits followed by their CRC-32."""
    data = payload.to_bytes((n + 7) // 8, "big")
    return np.concatenate([to_bits(payload, n), to_bits(zlib.crc32(data), CRC_BITS)])


def check_crc(bits: np.ndarray, n: int) -> int | None:
    """The payload when the CRC of ``n`` payload bits holds, else None."""
    payload = from_bits(bits[:n])
    if from_bits(bits[n:n + CRC_BITS]) != zlib.crc32(payload.to_bytes((n + 7) // 8, "big")):
        return None
    return payload


def encode(bits: np.ndarray) -> np.ndarray:
    """Convolutionally encode ``bits`` (terminated with K-1 zeros): ``RATE * (len + K - 1)`` bits."""
    state = 0
    out = []
    for b in list(bits) + [0] * (K - 1):
        out.extend(_OUT[state, int(b)])
        state = _NEXT[state, int(b)]
    return np.array(out, dtype=np.int8)


def coded_length(n_bits: int) -> int:
    return RATE * (n_bits + K - 1)


def decode(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi: the most likely input bits (tail removed) for ``soft`` (positive: 1)."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, RATE)
    steps = len(soft)
    metric = np.full(STATES, -np.inf)
    metric[0] = 0.0
    choice = np.zeros((steps, STATES), dtype=np.int8)
    for t in range(steps):
        branch = _PREV_OUT @ soft[t]  # (STATES, 2): correlation of each incoming branch
        cand = metric[_PREV_S] + branch
        pick = np.argmax(cand, axis=1)
        choice[t] = pick
        metric = cand[np.arange(STATES), pick]
    state = 0  # terminated: ends in state 0
    bits = np.zeros(steps, dtype=np.int8)
    for t in range(steps - 1, -1, -1):
        p = choice[t, state]
        bits[t] = _PREV_B[state, p]
        state = _PREV_S[state, p]
    return bits[: steps - (K - 1)]
