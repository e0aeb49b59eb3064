"""The release pipeline's domain code: probe, loudness, renditions, HLS, peaks, tags.

Functions over files (ffmpeg/ffprobe subprocesses, mutagen, soundfile, numpy, m3u8): no Flask,
no RQ. The release job calls :func:`companion.media.release.release_track`, which runs
:func:`run_release` and puts the manifest it returns on the track; docs/release-pipeline.md
maps the modules.
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
