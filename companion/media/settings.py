"""The release pipeline's settings: loudness promise, ladder, preview, peaks, workers."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from companion.media.renditions import RenditionSpec


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """Settings of the release pipeline (see :meth:`from_config` for the companion's Config).

    Attributes:
        target_lufs: integrated loudness of the stream ladder and preview.
        true_peak_ceiling: every rung and the preview, measured after encoding, have a true peak
            at or under this (dBTP).
        hls_bitrates: AAC rungs in kbps.
        segment_seconds: HLS segment length.
        preview_seconds: length of the preview clip.
        workers: ffmpeg processes side by side (0: one per core).
        preview_start: where the preview starts (seconds into the track).
        preview_bitrate: the rung the preview is cut from (kbps; None: the highest rung).
        peaks_zooms: samples per pixel of each waveform zoom level.
        extra_renditions: more download specs to make (e.g. a label's own format).
    """

    target_lufs: float = -14.0
    true_peak_ceiling: float = -1.0
    hls_bitrates: tuple[int, ...] = (48, 96, 192)
    segment_seconds: int = 4
    preview_seconds: int = 30
    workers: int = 0
    preview_start: float = 0.0
    preview_bitrate: int | None = None
    peaks_zooms: tuple[int, ...] = (256, 2048)
    extra_renditions: tuple[RenditionSpec, ...] = ()

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "PipelineSettings":
        """Settings from a :class:`companion.config.Config`."""
        values = dict(target_lufs=config.loudness_target_lufs, true_peak_ceiling=config.true_peak_ceiling_db,
                      hls_bitrates=tuple(config.hls_ladder), segment_seconds=config.hls_segment_seconds,
                      preview_seconds=config.preview_seconds, workers=config.encode_workers)
        values.update(overrides)
        return cls(**values)

    def fingerprint_data(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("workers")  # does not change any output
        d["extra_renditions"] = [s.fingerprint() for s in self.extra_renditions]
        return d

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    @property
    def preview_rung(self) -> int:
        rungs = sorted(self.hls_bitrates)
        if self.preview_bitrate is None:
            return rungs[-1]
        return min(rungs, key=lambda r: abs(r - self.preview_bitrate))
