"""The release pipeline's domain code: probe, loudness, renditions, HLS, peaks, tags.

Pure functions over files (ffmpeg/ffprobe subprocesses, mutagen, numpy): no Flask, no RQ.
The job in jobs/ calls :func:`run_release`; the API reads the manifest it returns.
"""
from companion.media.loudness import Loudness, measure as measure_loudness, normalization_gain
from companion.media.peaks import compute_peaks
from companion.media.pipeline import PIPELINE_VERSION, PipelineSettings, load_cached, run_release
from companion.media.probe import ProbeResult, probe
from companion.media.renditions import DOWNLOADS, MASTERS, PREVIEW, RenditionSpec
from companion.media.tags import Tags, read_tags, tag_file

__all__ = [
    "DOWNLOADS", "MASTERS", "PREVIEW", "PIPELINE_VERSION", "Loudness", "PipelineSettings", "ProbeResult",
    "RenditionSpec", "Tags", "compute_peaks", "load_cached", "measure_loudness", "normalization_gain", "probe",
    "read_tags", "run_release", "tag_file",
]
