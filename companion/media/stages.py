"""The release pipeline's stages: small named functions, each with explicit inputs and one result.

Like beets' importer, a release is a chain of stages; here each stage is a plain function
whose inputs are its arguments (the run's fixed facts, bound when the graph is planned, and
the results of the stages it waits for) and whose output is its return value::

    probe_source -> decode_master -> measure_loudness
                 -> encode_rendition (masters, downloads)      -> tag_output -+
                 -> encode_rung -> segment_rung -> store_ladder              |
                 -> cut_preview (from the top rung)            -> tag_output -+-> build_manifest
                 -> make_peaks                                               |

No stage changes an object another stage reads: files go to content-addressed paths (the
:class:`~companion.media.cache.DiskCache`, the run's scratch folder) and objects into the store
through the run's :class:`~companion.media.cache.Journal`. :mod:`companion.media.pipeline`
plans the graph and runs it with :mod:`companion.media.scheduler`.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable

from companion.errors import Unprocessable
from companion.media import hls as hlsmod
from companion.media import loudness as loud
from companion.media.cache import DiskCache, Journal, Listed, Need, digest, load_complete
from companion.media.ffmpeg import ffmpeg, input_args
from companion.media.peaks import compute_peaks
from companion.media.probe import ProbeResult, check_decodes, probe
from companion.media.renditions import (
    MASTERS, PREVIEW, MasterFormat, RenditionSpec, master_format, output_args, rendition_bit_depth, stream_rung,
)
from companion.media.settings import PipelineSettings
from companion.media.tags import Tags, tag_file
from companion.storage.base import ObjectStore, content_key, sha256_file

#: 1.1: HLS segments are fMP4 (init.mp4 + .m4s, #EXT-X-MAP) instead of MPEG-TS.
#: 1.2: each rung and the preview are measured after encoding and corrected to meet the true-peak ceiling.
PIPELINE_VERSION = "1.2"


# --- the source -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Source:
    """The recording a run releases, as the probe found it."""

    path: Path
    filename: str  # the name the user gave it
    sha256: str
    info: ProbeResult
    fmt: MasterFormat  # the masters' PCM shape

    @property
    def pcm(self) -> bool:
        """WAV or AIFF: nothing to decode, so loudness is measured from the source itself."""
        return self.info.format_name in ("wav", "aiff")


def probe_source(path: Path, filename: str, sha256: str) -> Source:
    """Identify the source (typed errors for anything we cannot release). Compressed sources are
    decoded, and so checked for truncation, once: in :func:`decode_master`."""
    info = probe(path, filename, decode_check=False)
    return Source(path, filename, sha256, info, master_format(info))


def encode_args(src: Path, spec: RenditionSpec, fmt: MasterFormat, out: Path, filters: str | None = None,
                demuxer: str = "wav") -> list[str]:
    """ffmpeg arguments making ``spec`` from ``src`` (read as ``demuxer``: the WAV master unless
    told otherwise) into ``out`` (one thread, no metadata)."""
    args = ["-threads", "1", *input_args(src, demuxer), "-map", "0:a:0", "-map_metadata", "-1", "-vn"]
    if filters:
        args += ["-af", filters]
    return args + ["-threads", "1", *output_args(spec, fmt), "-y", str(out)]


def spec_digest(source: Source, spec: RenditionSpec, *extra: Any) -> str:
    """The cache name of ``spec`` made from ``source`` (plus whatever else changes its bytes)."""
    return digest(source.sha256, spec.fingerprint(), dataclasses.asdict(source.fmt), PIPELINE_VERSION, *extra)


# --- decode and measure -----------------------------------------------------------------------

def master_digest(source: Source) -> str:
    return digest("master", source.sha256, MASTERS[0].fingerprint(), dataclasses.asdict(source.fmt), PIPELINE_VERSION)


def decode_master(source: Source, cache: DiskCache) -> Path:
    """The WAV master, the intermediate every encoder reads, decoded once. A compressed source is
    decoded with ``-xerror`` and its decoded duration compared with the declared one."""
    spec = MASTERS[0]

    def make(tmp: Path) -> None:
        args = encode_args(source.path, spec, source.fmt, tmp, demuxer=source.info.demuxer)
        if source.pcm:
            ffmpeg(args)
        else:
            check_decodes(source.path, source.info, source.filename, *args[args.index("-vn") + 1:])

    return cache.file(master_digest(source), "master.wav", make)


def measure_loudness(source: Source, cache: DiskCache, master: Path | None = None) -> loud.Loudness:
    """EBU R128 loudness of the recording: of the source itself (PCM) or of its ``master``."""
    target, demuxer = (source.path, source.info.demuxer) if source.pcm else (master, "wav")
    if target is None:
        raise ValueError("a compressed source is measured from its master")
    data = cache.json("loudness", digest(source.sha256, PIPELINE_VERSION),
                      lambda: loud.measure(target, demuxer).to_dict())
    return loud.Loudness.from_dict(data)


def stream_gain(loudness: loud.Loudness, settings: PipelineSettings) -> float:
    """The gain of the normalised ladder and preview (``settings``: a PipelineSettings)."""
    return loud.normalization_gain(loudness, settings.target_lufs, settings.true_peak_ceiling)


# --- encoders ---------------------------------------------------------------------------------

def encode_rendition(source: Source, cache: DiskCache, spec: RenditionSpec, master: Path) -> Path:
    """An untagged master or download, encoded from the WAV master (cached on disk)."""
    return cache.file(spec_digest(source, spec), f"{spec.name}.{spec.extension}",
                      lambda tmp: ffmpeg(encode_args(master, spec, source.fmt, tmp)))


#: Encodes of one normalised stream at most (the first, then corrections; see loud.corrected_gain).
MAX_ENCODES = 4


@dataclasses.dataclass(frozen=True)
class Rung:
    """One AAC rung of the ladder, encoded and measured."""

    kbps: int
    path: Path
    gain_db: float  # the gain it was encoded with
    loudness: loud.Loudness  # measured from the encoding (ffmpeg ebur128, true peak)
    rejected: tuple[dict[str, Any], ...] = ()  # earlier encodes that missed: see normalise()


def measure_encoded(cache: DiskCache, path: Path, key: str) -> loud.Loudness:
    """EBU R128 loudness and true peak of an encoded stream (M4A), cached by the encoding's ``key``."""
    return loud.Loudness.from_dict(cache.json("stream-loudness", key, lambda: loud.measure(path, "mov").to_dict()))


def attempt_row(gain: float, measured: loud.Loudness) -> dict[str, Any]:
    return {"gain_db": gain, "integrated_lufs": measured.integrated_lufs,
            "true_peak_dbtp": measured.to_dict()["true_peak_dbtp"]}


def normalise(measure: Callable[[float], loud.Loudness], gain: float, settings: PipelineSettings, what: str,
              loudness_too: bool = True) -> tuple[float, loud.Loudness, tuple[dict[str, Any], ...]]:
    """Encode-and-measure (``measure(gain)``) until the encoding meets the true-peak ceiling (and,
    with ``loudness_too``, comes within tolerance of the target where the ceiling allows).

    AAC's overshoot does not follow the gain smoothly (a lower gain can overshoot more), so this
    searches by measuring, never by predicting. Returns (gain, measurement, rejected): the
    encoding that meets the promise, and the gains and measurements of the encodes that did not.
    Raises Unprocessable if none does within :data:`MAX_ENCODES` encodes (nothing that breaks
    the ceiling is released)."""
    rejected: list[dict[str, Any]] = []
    for attempt in range(MAX_ENCODES):
        measured = measure(gain)
        judged = measured if loudness_too else dataclasses.replace(measured, integrated_lufs=settings.target_lufs)
        new = loud.corrected_gain(gain, judged, settings.target_lufs, settings.true_peak_ceiling, attempt)
        if new is None or new == gain:
            if measured.true_peak_dbtp <= settings.true_peak_ceiling:
                return gain, measured, tuple(rejected)
            new = round(gain - loud.PEAK_MARGIN_DB, 2)
        rejected.append(attempt_row(gain, measured))
        gain = new
    raise Unprocessable(f"The {what} could not be brought under the {settings.true_peak_ceiling} dBTP ceiling.",
                        code="true_peak_ceiling", details={"gain_db": gain})


def encode_rung(source: Source, cache: DiskCache, settings: PipelineSettings, kbps: int, master: Path,
                loudness: loud.Loudness) -> Rung:
    """One AAC rung of the ladder: encoded from the master at the stream gain, measured after
    encoding, and encoded again with a corrected gain when the encoder moved its true peak over
    the ceiling or its loudness away from the target (each encoding cached on disk)."""
    spec = stream_rung(kbps)
    paths: dict[float, Path] = {}

    def encode_and_measure(gain: float) -> loud.Loudness:
        key = spec_digest(source, spec, round(gain, 2))
        paths[gain] = cache.file(key, f"{spec.name}.m4a", lambda tmp: ffmpeg(
            encode_args(master, spec, source.fmt, tmp, f"volume={gain:.2f}dB")))
        return measure_encoded(cache, paths[gain], key)

    gain, measured, rejected = normalise(encode_and_measure, stream_gain(loudness, settings), settings,
                                         f"{kbps} kbps stream")
    return Rung(kbps, paths[gain], gain, measured, rejected)


# --- the HLS ladder ---------------------------------------------------------------------------

def ladder_digest(source: Source, settings: PipelineSettings) -> str:
    s = settings
    return digest("hls", source.sha256, dataclasses.asdict(source.fmt), sorted(s.hls_bitrates), s.segment_seconds,
                  s.target_lufs, s.true_peak_ceiling, [stream_rung(k).fingerprint() for k in s.hls_bitrates],
                  PIPELINE_VERSION)


def ladder_key(ladder: str, name: str) -> str:
    return content_key("hls", ladder, name)


def ladder_needs(entry: dict) -> Iterable[Need]:
    """What a ladder's description names: master and variant playlists, init segments, segments."""
    variants = entry["variants"]
    yield entry["master_key"]
    for v in variants:
        yield v["playlist_key"]
        if v.get("init_key"):
            yield v["init_key"]
    count = sum(v.get("segments", 0) for v in variants)
    if count:
        yield Listed(entry["prefix"], hlsmod.SEGMENT_SUFFIX, count)


def stored_ladder(store: ObjectStore, ladder: str) -> dict[str, Any] | None:
    """The stored ladder's description, if the whole ladder is in the store."""
    return load_complete(store, ladder_key(ladder, "ladder.json"), ladder_needs)


@dataclasses.dataclass(frozen=True)
class Segmented:
    """A rung and its segments."""

    rung: Rung
    variant: hlsmod.Variant


def segment_rung(out_dir: Path, segment_seconds: int, rung: Rung) -> Segmented:
    """Cut a rung into fMP4 segments by stream copy."""
    return Segmented(rung, hlsmod.segment(rung.path, out_dir, rung.kbps, segment_seconds))


def variant_row(ladder: str, seg: Segmented) -> dict[str, Any]:
    """One variant as the ladder's description lists it: bandwidths, keys, gain and loudness."""
    v, lv = seg.variant, seg.rung.loudness
    row = v.to_dict()
    row["playlist_key"] = ladder_key(ladder, v.playlist.name)
    if v.init is not None:
        row["init_key"] = ladder_key(ladder, v.init.name)
    row.update(gain_db=seg.rung.gain_db, integrated_lufs=lv.integrated_lufs,
               true_peak_dbtp=lv.to_dict()["true_peak_dbtp"], rejected=list(seg.rung.rejected))
    return row


def store_ladder(journal: Journal, ladder: str, settings: PipelineSettings, out_dir: Path, loudness: loud.Loudness,
                 *rungs: Segmented) -> dict[str, Any]:
    """Write the master playlist and store the ladder: segments and variant playlists first, the
    master playlist and the ladder's description (``ladder.json``) last, so a stored description
    means the whole ladder is there. Returns the description."""
    rungs = tuple(sorted(rungs, key=lambda r: r.variant.bitrate))
    (out_dir / "master.m3u8").write_text(hlsmod.master_playlist([r.variant for r in rungs]))
    entry: dict[str, Any] = {
        "prefix": ladder_key(ladder, "master.m3u8").rsplit("/", 1)[0],
        "master_key": ladder_key(ladder, "master.m3u8"), "segment_seconds": settings.segment_seconds,
        "segment_type": "fmp4", "gain_db": stream_gain(loudness, settings), "target_lufs": settings.target_lufs,
        "true_peak_ceiling_db": settings.true_peak_ceiling, "variants": [variant_row(ladder, r) for r in rungs]}
    files = [(entry["master_key"], out_dir / "master.m3u8", hlsmod.MIME_TYPES[".m3u8"])]
    for r in rungs:
        v = r.variant
        files.append((ladder_key(ladder, v.playlist.name), v.playlist, hlsmod.MIME_TYPES[".m3u8"]))
        if v.init is not None:
            files.append((ladder_key(ladder, v.init.name), v.init, hlsmod.MIME_TYPES[".mp4"]))
        files += [(ladder_key(ladder, seg.name), seg, hlsmod.MIME_TYPES[seg.suffix]) for seg in v.segments]
    for key, path, mime in files[1:] + files[:1]:
        journal.put(key, path, mime)
    journal.put(ladder_key(ladder, "ladder.json"), json.dumps(entry).encode(), "application/json")
    return entry


# --- the preview ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Clip:
    """The preview clip, measured."""

    path: Path
    gain_db: float
    loudness: loud.Loudness
    rejected: tuple[dict[str, Any], ...] = ()


def preview_digest(source: Source, settings: PipelineSettings) -> str:
    s = settings
    return digest("preview", spec_digest(source, stream_rung(s.preview_rung)), s.preview_start, s.preview_seconds,
                  s.target_lufs, s.true_peak_ceiling, PREVIEW.fingerprint())


def cached_preview(cache: DiskCache, key: str) -> Clip | None:
    """The preview made by an earlier run, if its file and measurement are in the cache."""
    known = cache.peek_json("preview", key)
    if known is None or not cache.has(known["file_key"], "preview.m4a"):
        return None
    return Clip(cache.path(known["file_key"], "preview.m4a"), known["gain_db"],
                loud.Loudness.from_dict(known["loudness"]), tuple(known.get("rejected", ())))


def preview_args(source: Source, settings: PipelineSettings, master: Path, gain: float, out: Path) -> list[str]:
    """ffmpeg arguments encoding the preview from the master (when a cut from the rung overshoots)."""
    rung = [a for a in output_args(stream_rung(settings.preview_rung), source.fmt) if a not in ("-f", "mp4")]
    return ["-threads", "1", "-ss", f"{settings.preview_start:.3f}", *input_args(master, "wav"),
            "-t", str(settings.preview_seconds), "-map", "0:a:0", "-map_metadata", "-1", "-vn",
            "-af", f"volume={gain:.2f}dB", "-threads", "1", *rung, "-movflags", "+faststart", "-f", "ipod",
            "-y", str(out)]


def cut_preview(source: Source, cache: DiskCache, settings: PipelineSettings, key: str, top: Rung, master: Path) -> Clip:
    """The preview clip: cut from the top rung by stream copy, measured; if the cut's true peak is
    over the ceiling, encoded from the master with a lower gain until it is not (cached on disk)."""
    def cut(tmp: Path) -> None:
        ffmpeg(["-ss", f"{settings.preview_start:.3f}", *input_args(top.path, "mov"), "-map", "0:a:0",
                "-t", str(settings.preview_seconds), *PREVIEW.args, "-y", str(tmp)])

    keys: dict[float, str] = {}

    def make_and_measure(gain: float) -> loud.Loudness:
        keys[gain] = key if gain == top.gain_db else digest(key, "encoded", round(gain, 2))
        make = cut if gain == top.gain_db else (lambda tmp: ffmpeg(preview_args(source, settings, master, gain, tmp)))
        path = cache.file(keys[gain], "preview.m4a", make)
        return measure_encoded(cache, path, keys[gain])

    gain, measured, rejected = normalise(make_and_measure, top.gain_db, settings, "preview", loudness_too=False)
    cache.store_json("preview", key, {"file_key": keys[gain], "gain_db": gain, "loudness": measured.to_dict(),
                                      "rejected": list(rejected)})
    return Clip(cache.path(keys[gain], "preview.m4a"), gain, measured, rejected)


# --- peaks ------------------------------------------------------------------------------------

def peaks_keys(source: Source, zooms: Iterable[int]) -> dict[int, str]:
    key = digest("peaks", source.sha256, sorted(zooms), PIPELINE_VERSION)
    return {z: content_key("peaks", key, f"peaks-{z}.json") for z in sorted(zooms)}


def make_peaks(journal: Journal, keys: dict[int, str], master: Path) -> list[dict[str, Any]]:
    """audiowaveform JSON at each zoom level, from the WAV master (or already in the store)."""
    store = journal.store
    if all(store.exists(k) for k in keys.values()):
        return [{"samples_per_pixel": z, "length": json.loads(store.get_bytes(k))["length"], "key": k}
                for z, k in keys.items()]
    rows = []
    for doc in compute_peaks(master, list(keys)):
        z = doc["samples_per_pixel"]
        journal.put(keys[z], json.dumps(doc, separators=(",", ":")).encode(), "application/json")
        rows.append({"samples_per_pixel": z, "length": doc["length"], "key": keys[z]})
    return rows


# --- tags -------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Tagged:
    """A finished, tagged file in the store."""

    spec: RenditionSpec
    path: Path
    read: dict[str, Any]
    sha256: str
    key: str
    gain_db: float = 0.0
    normalized: bool = False
    measured: loud.Loudness | None = None  # normalised files: as ffmpeg measured the encoding
    rejected: tuple[dict[str, Any], ...] = ()  # normalised files: encodes that missed the promise


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:60] or "track"


def level_tags(spec: RenditionSpec, loudness: loud.Loudness) -> dict[str, str]:
    """ReplayGain (Opus: R128) tags of masters and downloads; none on the normalised preview."""
    if spec.kind not in ("master", "download"):
        return {}
    if spec.codec == "opus":
        return {"R128_TRACK_GAIN": loud.r128_track_gain(loudness)}
    return loud.replaygain_tags(loudness)


def tag_output(journal: Journal, out_dir: Path, tags: Tags, spec: RenditionSpec, untagged: Path,
               loudness: loud.Loudness, gain_db: float = 0.0, measured: loud.Loudness | None = None,
               rejected: tuple[dict[str, Any], ...] = ()) -> Tagged:
    """Copy an untagged file, tag it, read the tags back, hash it and store it under its content key."""
    out = out_dir / f"{slug(tags.title)}-{spec.name}.{spec.extension}"
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(untagged, out)
    read = tag_file(out, spec.tag_format, tags, level_tags(spec, loudness))
    sha = sha256_file(out)
    key = journal.put(content_key("renditions", sha, out.name), out, spec.mime)
    normalized = spec.kind == "preview"
    return Tagged(spec, out, read, sha, key, gain_db if normalized else 0.0, normalized,
                  measured if normalized else None, rejected if normalized else ())


def tag_preview(journal: Journal, out_dir: Path, tags: Tags, clip: Clip, loudness: loud.Loudness) -> Tagged:
    return tag_output(journal, out_dir, tags, PREVIEW, clip.path, loudness, clip.gain_db, clip.loudness,
                      clip.rejected)


# --- the manifest -----------------------------------------------------------------------------

def rendition_row(spec: RenditionSpec, tagged: Tagged, source: Source, settings: PipelineSettings) -> dict[str, Any]:
    """One rendition as the manifest lists it (``spec`` may reuse another's file)."""
    read = tagged.read or {}
    fmt = source.fmt
    sample_rate = read.get("sample_rate") or (48000 if spec.codec == "opus" else fmt.sample_rate)
    bitrate = None if spec.lossless else (spec.bitrate or read.get("bitrate"))
    if spec.kind == "preview":
        bitrate = settings.preview_rung * 1000
    return {
        "name": spec.name, "kind": spec.kind, "label": spec.label, "format": spec.extension, "codec": spec.codec,
        "container": spec.container, "mime": spec.mime, "extension": spec.extension, "bitrate": bitrate,
        "sample_rate": sample_rate, "channels": read.get("channels") or fmt.channels,
        "bit_depth": rendition_bit_depth(spec, fmt), "duration": round(float(read.get("length") or 0.0), 3),
        "size": tagged.path.stat().st_size, "key": tagged.key, "sha256": tagged.sha256,
        "normalized": tagged.normalized, "gain_db": tagged.gain_db,
        **({"loudness": tagged.measured.to_dict(), "rejected": list(tagged.rejected)}
           if tagged.measured is not None else {}),
    }


def build_manifest(source: Source, settings: PipelineSettings, specs: Iterable[RenditionSpec], cache_key: str,
                   loudness: loud.Loudness, tagged: dict[str, Tagged], ladder: dict[str, Any],
                   peaks: list[dict[str, Any]]) -> dict[str, Any]:
    """The release's JSON manifest: every rendition, the ladder, the peaks, the loudness (of the
    source; of each rung and of the preview as ffmpeg measured their encodings)."""
    specs = tuple(specs)
    rows = [rendition_row(spec, tagged[spec.reuse or spec.name], source, settings) for spec in specs]
    for spec, row in zip(specs, rows):
        row["name"], row["kind"], row["label"] = spec.name, spec.kind, spec.label
    info = source.info
    return {
        "pipeline_version": PIPELINE_VERSION,
        "cache_key": cache_key,
        "cached": False,
        "source": {"sha256": source.sha256, "filename": source.filename, "format": info.format_name,
                   "codec": info.codec, "sample_rate": info.sample_rate, "channels": info.channels,
                   "bit_depth": info.bit_depth, "duration": round(info.duration, 3)},
        "loudness": loudness.to_dict(),
        "replaygain": loud.replaygain_tags(loudness),
        "stream_gain_db": stream_gain(loudness, settings),
        "target_lufs": settings.target_lufs,
        "true_peak_ceiling_db": settings.true_peak_ceiling,
        "renditions": rows,
        "hls": {"master_key": ladder["master_key"], "prefix": ladder["prefix"],
                "segment_seconds": ladder["segment_seconds"], "segment_type": ladder.get("segment_type", "mpegts"),
                "gain_db": ladder["gain_db"], "variants": ladder["variants"]},
        "peaks": peaks,
    }


def manifest_needs(manifest: dict) -> Iterable[Need]:
    """What a release manifest names: every rendition, the peaks, the whole ladder."""
    for row in manifest["renditions"]:
        yield row["key"]
    for p in manifest.get("peaks", []):
        yield p["key"]
    yield from ladder_needs(manifest["hls"])
