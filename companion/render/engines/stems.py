"""Stem buffers: the float32 stereo stems the engines fill while the mixer reads what is finished.

An engine renders into :class:`StemBuffers` and calls :meth:`StemBuffers.advance` as frames are
done; the consumer (the render service) waits for frames every part has (:meth:`StemBuffers.wait`)
and reads them in place (:meth:`StemBuffers.region`). Stems an engine writes from another process
live in shared anonymous memory; the others in private memory on huge pages.
"""
from __future__ import annotations

import mmap
import threading
import time

import numpy as np

from ..audio import zeros
from ..errors import EngineError

#: madvise(2) advice that maps pages another process has written into ours in one call (Linux 5.14).
#: Python's mmap module does not export it (3.11), so this is the kernel's value from
#: <asm-generic/mman-common.h>.
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)


class StemBuffers:
    """Float32 stereo stems of ``frames`` frames, planar (``data[part]`` is (2, frames): engines write
    each channel in place), filled by engine threads while a consumer reads the frames every part has
    finished (:meth:`wait`, :meth:`region`).

    ``shared`` parts live in shared anonymous memory (a forked engine writes them); the others in
    private memory on huge pages. ``mono`` parts (left and right always the same samples) keep one
    row, seen twice."""

    def __init__(self, parts: list[str], frames: int, shared=(), mono=()):
        self.frames = frames
        self.parts = list(parts)
        self.data: dict[str, np.ndarray] = {}
        self.mono = {p for p in self.parts if p in set(mono)}
        self.same_channels: set[str] = set(self.mono)  # stems whose left and right are the same samples
        self.shared_index: dict[str, int] = {}
        self._populate = True
        sh = [p for p in self.parts if p in set(shared)]
        if sh:
            self._mm = mmap.mmap(-1, len(sh) * 2 * frames * 4)
            block = np.frombuffer(self._mm, dtype=np.float32).reshape(len(sh), 2, frames)
            self.shared_index = {p: i for i, p in enumerate(sh)}
            for i, p in enumerate(sh):
                self.data[p] = block[i]
        for p in self.parts:
            if p in self.data:
                continue
            if p in self.mono:
                row = zeros((1, frames))
                self.data[p] = np.lib.stride_tricks.as_strided(row, shape=(2, frames), strides=(0, 4))
            else:
                self.data[p] = zeros((2, frames))
        self.ready = {p: 0 for p in self.parts}
        self.cond = threading.Condition()
        self.error: BaseException | None = None

    def map_shared(self, parts, a: int, b: int) -> None:
        """Map frames ``a:b`` of shared stems another process has written into this process's page
        tables in one call per row (MADV_POPULATE_READ) rather than a page fault per 4 KiB."""
        if b <= a or not self._populate:
            return
        page = mmap.PAGESIZE
        for p in parts:
            for c in range(2):
                lo = ((self.shared_index[p] * 2 + c) * self.frames + a) * 4
                hi = ((self.shared_index[p] * 2 + c) * self.frames + b) * 4
                lo -= lo % page
                try:
                    self._mm.madvise(MADV_POPULATE_READ, lo, hi - lo)
                except (OSError, ValueError):  # an older kernel: page faults it is
                    self._populate = False
                    return

    def put(self, part: str, start: int, x: np.ndarray) -> None:
        """Frames ``x`` (frames, 2) of ``part`` from frame ``start``."""
        k = min(len(x), self.frames - start)
        if k > 0:
            if part in self.mono:
                raise ValueError(f"{part} is a mono stem: put_mono")
            self.data[part][:, start:start + k] = x[:k].T

    def put_mono(self, part: str, start: int, x: np.ndarray) -> None:
        """Frames ``x`` (frames,) of ``part`` from frame ``start``, the same on both sides."""
        k = min(len(x), self.frames - start)
        if k > 0:
            self.same_channels.add(part)
            dst = self.data[part][:, start:start + k]
            dst[0] = x[:k]
            if part not in self.mono:
                dst[1] = x[:k]

    def advance(self, parts, upto: int) -> None:
        """The ``parts`` are finished up to frame ``upto``."""
        with self.cond:
            for p in parts:
                self.ready[p] = max(self.ready[p], min(upto, self.frames))
            self.cond.notify_all()

    def fail(self, exc: BaseException) -> None:
        """An engine failed: the consumer's :meth:`wait` raises ``exc``."""
        with self.cond:
            self.error = exc
            self.cond.notify_all()

    def region(self, part: str, a: int, b: int) -> np.ndarray:
        """Frames ``a:b`` of a stem as a (frames, 2) view."""
        return self.data[part][:, a:b].T

    def available(self) -> int:
        return min(self.ready.values(), default=self.frames)

    def wait(self, have: int, timeout: float = 1200) -> int:
        """Block until every part has more than ``have`` frames; returns how many they all have."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.error is not None:
                    raise self.error
                n = self.available()
                if n > have or n >= self.frames:
                    return n
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EngineError("the engines stopped delivering audio", code="render_stalled")
                self.cond.wait(min(left, 1.0))
