"""EBU R128 loudness (integrated LUFS, loudness range, true peak) and the gains derived from it.

Measured by ffmpeg's ``ebur128`` filter with ``peak=true`` and parsed from the summary it
logs at the end. :func:`normalization_gain` turns a measurement into the gain that brings a
stream to a target loudness without pushing its true peak over a ceiling;
:func:`replaygain_tags` gives ReplayGain 2.0 (-18 LUFS reference) and Opus R128 tags.
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

from companion.errors import Unprocessable
from companion.media.ffmpeg import MediaToolError, ffmpeg, input_args

#: Below this the programme is treated as silence (the ebur128 absolute gate is -70 LUFS).
SILENCE_LUFS = -70.0
REPLAYGAIN_REFERENCE_LUFS = -18.0
R128_REFERENCE_LUFS = -23.0

#: The filter, for use inside a larger filter graph; framelog=verbose keeps per-frame lines quiet.
EBUR128_FILTER = "ebur128=peak=true:framelog=verbose"


@dataclasses.dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    range_lu: float
    true_peak_dbtp: float  # -inf for digital silence

    def to_dict(self) -> dict[str, float | None]:
        tp = self.true_peak_dbtp
        return {"integrated_lufs": self.integrated_lufs, "range_lu": self.range_lu,
                "true_peak_dbtp": tp if math.isfinite(tp) else None}

    @classmethod
    def from_dict(cls, d: dict) -> "Loudness":
        tp = d.get("true_peak_dbtp")
        return cls(float(d["integrated_lufs"]), float(d["range_lu"]), float("-inf") if tp is None else float(tp))

    @property
    def silent(self) -> bool:
        return self.integrated_lufs <= SILENCE_LUFS


_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>-?[\d.]+|-?inf)\s*LUFS.*?"
    r"Loudness range:\s*LRA:\s*(?P<lra>-?[\d.]+|-?inf)\s*LU.*?"
    r"True peak:\s*Peak:\s*(?P<tp>-?[\d.]+|-?inf)\s*dBFS",
    re.S,
)


def parse_ebur128(log: str) -> Loudness:
    """Read the last ``Summary:`` block the ebur128 filter logged."""
    idx = log.rfind("Summary:")
    match = _SUMMARY.search(log, idx if idx >= 0 else 0)
    if not match:
        raise ValueError("no ebur128 summary in ffmpeg's log")
    return Loudness(float(match["i"]), float(match["lra"]), float(match["tp"]))


def measure(path: str | Path, demuxer: str | None = None) -> Loudness:
    """Integrated loudness, loudness range and true peak of the file's first audio stream
    (``demuxer``: the format to read it as, see :func:`companion.media.ffmpeg.input_args`)."""
    try:
        proc = ffmpeg(["-threads", "1", *input_args(path, demuxer), "-map", "0:a:0", "-af", EBUR128_FILTER,
                       "-f", "null", "-"], loglevel="info")
    except MediaToolError as exc:
        raise Unprocessable(f"Could not measure the loudness of {Path(path).name}.", code="loudness_failed",
                            details={"tool_message": exc.stderr[-300:]}) from exc
    return parse_ebur128(proc.stderr.decode("utf-8", "replace"))


def normalization_gain(loudness: Loudness, target_lufs: float = -14.0, true_peak_ceiling: float = -1.0) -> float:
    """The gain (dB) taking ``loudness`` to ``target_lufs``, lowered so that the measured true
    peak plus the gain stays at or under ``true_peak_ceiling``. Silence gets 0 dB."""
    if loudness.silent:
        return 0.0
    gain = target_lufs - loudness.integrated_lufs
    if math.isfinite(loudness.true_peak_dbtp):
        gain = min(gain, true_peak_ceiling - loudness.true_peak_dbtp)
    return round(gain, 2)


#: How far a normalised stream may measure from the target when the ceiling does not hold it back.
LOUDNESS_TOLERANCE_LU = 0.5
#: Headroom taken beyond a measured overshoot when a correction lowers the gain (dB, per attempt).
PEAK_MARGIN_DB = 0.1


def corrected_gain(gain: float, measured: Loudness, target_lufs: float = -14.0, true_peak_ceiling: float = -1.0,
                   attempt: int = 0) -> float | None:
    """The gain to encode a normalised stream again with, after measuring its encoding, or None
    when the encoding ``measured`` (made with ``gain``) is right as it is.

    Lossy encoders move the level: AAC overshoots the true peak (most at low bit rates) and its
    low-pass filter takes loudness away. The encoding is right when its true peak is at or under
    ``true_peak_ceiling`` and its loudness is within :data:`LOUDNESS_TOLERANCE_LU` of the target,
    or under it because the ceiling leaves no room (the stream stays quieter: no limiter).

    Args:
        gain: the gain the measured encoding was made with (dB).
        measured: its EBU R128 measurement (ffmpeg ebur128 with true peak).
        target_lufs, true_peak_ceiling: the promise.
        attempt: 0 for the first re-encode; later attempts only lower the gain, by more margin.
    """
    if measured.silent or not math.isfinite(measured.true_peak_dbtp):
        return None
    headroom = true_peak_ceiling - measured.true_peak_dbtp
    if headroom < 0:
        return round(gain + headroom - PEAK_MARGIN_DB * (attempt + 1), 2)
    short = target_lufs - measured.integrated_lufs
    if abs(short) <= LOUDNESS_TOLERANCE_LU or attempt > 0:
        return None
    step = min(short, headroom - PEAK_MARGIN_DB)
    if step < 0.1 and short > 0:  # the ceiling holds it back: quieter than the target, as promised
        return None
    return round(gain + step, 2)


def replaygain_tags(loudness: Loudness) -> dict[str, str]:
    """ReplayGain 2.0 track tags: gain to -18 LUFS, peak as a linear amplitude (true peak)."""
    gain = 0.0 if loudness.silent else REPLAYGAIN_REFERENCE_LUFS - loudness.integrated_lufs
    tp = loudness.true_peak_dbtp
    peak = 10 ** (tp / 20) if math.isfinite(tp) else 0.0
    return {"REPLAYGAIN_TRACK_GAIN": f"{gain:+.2f} dB", "REPLAYGAIN_TRACK_PEAK": f"{peak:.6f}"}


def r128_track_gain(loudness: Loudness) -> str:
    """Opus ``R128_TRACK_GAIN``: Q7.8 fixed point (1/256 dB) to -23 LUFS, as a decimal string."""
    gain = 0.0 if loudness.silent else R128_REFERENCE_LUFS - loudness.integrated_lufs
    q = int(round(gain * 256))
    return str(max(-32768, min(32767, q)))
