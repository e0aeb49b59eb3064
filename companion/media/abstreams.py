"""A/B stream variants of a premium track: two forensically marked copies of its HLS ladder, and one
listener's media playlist picking a variant per segment.

The release job (:mod:`companion.media.release`) calls :func:`ensure_ab` after the pipeline for a
premium track (``Config.ab_streams``, on by default). It marks the recording twice with the stream
key (:func:`companion.rights.streams.variants`: variant 0 and 1), encodes each marked copy at every
rung of the track's ladder with the same gain the ladder was encoded with, and cuts both alike into
fMP4 segments. Everything goes to ``hls-ab/<ab>/`` (content-addressed: ``ab`` hashes the ladder, its
gains, the key's id and :data:`AB_VERSION`), the description ``ab.json`` last, so a stored
description means the whole set is there and a repeat release does nothing.

Segment names do not say their variant: each is an HMAC of (ab, rung, index, variant) under the
stream key, so a listener's playlist (segment ``i`` from variant ``listener_bits(key, ab, lid)[i]``)
shows nothing that would let them ask for the other variant, and asking for it needs a signature
bound to that object and to them, which only a playlist issued to them carries (docs/security.md).

Stored beside the segments: the master playlist (its variant URIs are this folder's playlists), and
each rung's variant-0 playlist and init segment (what the band gets unsigned). A signed request for
one of these playlists is answered by :func:`listener_media_playlist`, built per listener.

Cost (bench/pipeline.py ``ab_seconds``): two marks (numpy/scipy, about 50x real time each) plus two
encodes and two stream-copy segmentations per rung: roughly doubling the ladder's encoding time, and
twice its segments in the store.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import hashlib
import hmac
import json
import posixpath
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

from companion.errors import Unprocessable
from companion.media import hls as hlsmod
from companion.media.cache import Journal, Listed, Need, digest, load_complete
from companion.media.ffmpeg import ffmpeg, input_args
from companion.keys import machine_key
from companion.media.renditions import output_args, stream_rung
from companion.storage.base import ObjectStore, content_key

#: 1: both variants of every rung, opaque segment names, the ladder's gains.
AB_VERSION = "1"
PREFIX = "hls-ab"
DESCRIPTION = "ab.json"


class StreamKeyMissing(Unprocessable):
    """A premium release needs the stream-mark key (SCRIPTHAMMER_STREAM_MARK_KEY), and none is set."""

    code = "stream_mark_key_missing"


def stream_key(config) -> bytes:
    """The secret key of the stream marks: ``Config.stream_mark_key`` (the environment's
    SCRIPTHAMMER_STREAM_MARK_KEY, at least 16 characters; several companions that serve or trace streams
    must share it), or, when unset, the machine's generated one (var/keys/stream-mark.key, the embedded
    default, like the watermark key). Raises :class:`StreamKeyMissing` when a configured key is too short."""
    value = getattr(config, "stream_mark_key", "") or ""
    if not value:
        return machine_key(config.var_dir, "stream-mark")
    if len(value) < 16:
        raise StreamKeyMissing(
            "The stream-mark key SCRIPTHAMMER_STREAM_MARK_KEY is too short: it needs at least 16 characters "
            "(every companion that serves or traces streams must share it). Unset, the machine makes its own; "
            "SCRIPTHAMMER_AB_STREAMS=0 turns the variants off.",
            details={"setting": "SCRIPTHAMMER_STREAM_MARK_KEY"})
    return value.encode()


def key_id(key: bytes) -> str:
    """A public name of the key (changing the key makes new variants; the name does not reveal it)."""
    return hmac.new(key, b"scripthammer stream key id", hashlib.sha256).hexdigest()[:16]


def ab_digest(ladder: dict[str, Any], key: bytes) -> str:
    """The content address of a ladder's A/B variants."""
    rungs = sorted((int(v["bitrate"]), round(float(v.get("gain_db") or 0.0), 2)) for v in ladder["variants"])
    return digest("ab", ladder["master_key"], rungs, ladder["segment_seconds"], key_id(key), AB_VERSION)


def ab_key(ab: str, name: str) -> str:
    return content_key(PREFIX, ab, name)


def is_ab_key(key: str) -> bool:
    return key.startswith(PREFIX + "/")


def segment_name(key: bytes, ab: str, kbps: int, index: int, variant: int) -> str:
    """A segment's file name: keyed, so it says nothing of its variant."""
    mac = hmac.new(key, f"seg|{ab}|{kbps}|{index}|{variant}".encode(), hashlib.sha256).hexdigest()[:24]
    return f"{mac}{hlsmod.SEGMENT_SUFFIX}"


def ab_needs(doc: dict) -> Iterable[Need]:
    """What a description names: the master playlist, each rung's playlist and init, every segment."""
    yield doc["master_key"]
    total = 0
    for v in doc["variants"]:
        yield v["playlist_key"]
        if v.get("init_key"):
            yield v["init_key"]
        total += 2 * len(v["segments"])
    if total:
        yield Listed(doc["prefix"] + "/", hlsmod.SEGMENT_SUFFIX, total)


def stored_ab(store: ObjectStore, ab: str) -> dict[str, Any] | None:
    """The stored description of ``ab``, if every object it names is in the store."""
    return load_complete(store, ab_key(ab, DESCRIPTION), ab_needs)


def _decode(path: Path, folder: Path):
    """The recording as float samples and its rate (ffmpeg decodes anything the pipeline releases)."""
    import soundfile as sf

    wav = folder / "decoded.wav"
    ffmpeg(["-threads", "1", *input_args(path), "-map", "0:a:0", "-c:a", "pcm_f32le", "-f", "wav", "-y", str(wav)])
    data, sr = sf.read(wav, dtype="float32", always_2d=True)
    wav.unlink()
    return data, int(sr)


def make_ab(store: ObjectStore, source: Path, ladder: dict[str, Any], fmt, key: bytes, work_dir: Path,
            progress=lambda pct, stage: None, workers: int = 0) -> dict[str, Any]:
    """Both marked variants of ``ladder`` (a release manifest's ``hls``) from the recording ``source``
    (``fmt``: its masters' PCM shape, as the pipeline probed it), stored under ``hls-ab/<ab>/``;
    the stored description when it is already there. ``workers``: ffmpeg processes at once (0: one
    per core). Everything this call stored is removed again if it fails."""
    import soundfile as sf

    from companion.rights import watermark as wm

    ab = ab_digest(ladder, key)
    known = stored_ab(store, ab)
    if known is not None:
        return known
    journal = Journal(store)
    work_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="ab-", dir=work_dir))
    rungs = sorted(ladder["variants"], key=lambda v: v["bitrate"])
    seconds = int(ladder["segment_seconds"])
    try:
        samples, sr = _decode(source, scratch)

        def encode_and_cut(variant: int, wav: Path, v: dict) -> tuple[int, int, hlsmod.Variant]:
            kbps = int(v["bitrate"]) // 1000
            rung = scratch / f"rung-{variant}-{kbps}.m4a"
            gain = float(v.get("gain_db") or 0.0)
            ffmpeg(["-threads", "1", *input_args(wav, "wav"), "-map", "0:a:0", "-map_metadata", "-1", "-vn",
                    "-af", f"volume={gain:.2f}dB", "-threads", "1", *output_args(stream_rung(kbps), fmt),
                    "-y", str(rung)])
            cut_rung = hlsmod.segment(rung, scratch / f"v{variant}", kbps, seconds)
            rung.unlink()
            return variant, kbps, cut_rung

        # Variant 0's encoders (one ffmpeg process per rung, ``workers`` at once) run while variant 1 is marked.
        futures = []
        with ThreadPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1)) as pool:
            for variant in (0, 1):
                progress(10 + 30 * variant, f"ab:mark-{variant}")
                marked = wm.embed(samples, sr, wm.stream_field(key, variant))
                wav = scratch / f"marked-{variant}.wav"
                sf.write(wav, marked, wm.RATE, subtype="FLOAT")
                del marked
                futures += [pool.submit(encode_and_cut, variant, wav, v) for v in rungs]
            del samples
            progress(70, "ab:encode")
            done = [f.result() for f in futures]
        cut: dict[int, list[hlsmod.Variant]] = {}
        for variant, kbps, cut_rung in sorted(done, key=lambda d: (d[1], d[0])):
            cut.setdefault(kbps, []).append(cut_rung)
        progress(90, "ab:store")
        doc = _store(journal, scratch, ab, key, cut, seconds)
        return doc
    except BaseException:
        journal.rollback()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _store(journal: Journal, scratch: Path, ab: str, key: bytes, cut: dict[int, list[hlsmod.Variant]],
           seconds: int) -> dict[str, Any]:
    """Store both variants' segments under keyed names, the variant-0 playlists, the master playlist,
    and the description last."""
    m3u8 = hlsmod.MIME_TYPES[".m3u8"]
    rows, firsts = [], []
    for kbps, (va, vb) in sorted(cut.items()):
        if len(va.segments) != len(vb.segments):
            raise Unprocessable("The two marked variants were cut into different numbers of segments.",
                                code="ab_segments_differ", details={"kbps": kbps})
        stem = hlsmod.variant_stem(kbps)
        pairs = []
        for i, (sa_, sb) in enumerate(zip(va.segments, vb.segments)):
            na, nb = segment_name(key, ab, kbps, i, 0), segment_name(key, ab, kbps, i, 1)
            journal.put(ab_key(ab, na), sa_, hlsmod.MIME_TYPES[".m4s"])
            journal.put(ab_key(ab, nb), sb, hlsmod.MIME_TYPES[".m4s"])
            pairs.append([na, nb])
        init_name = f"{stem}_init.mp4" if va.init is not None else None
        if init_name:
            journal.put(ab_key(ab, init_name), va.init, hlsmod.MIME_TYPES[".mp4"])
        durations = [round(float(d), 6) for d in va.durations]
        playlist = hlsmod.write_media_playlist([(p[0], d) for p, d in zip(pairs, durations)], init=init_name)
        journal.put(ab_key(ab, f"{stem}.m3u8"), playlist.encode(), m3u8)
        # the master playlist declares the larger of the two variants' bandwidths
        va.bandwidth, va.average_bandwidth = max(va.bandwidth, vb.bandwidth), max(va.average_bandwidth, vb.average_bandwidth)
        firsts.append(va)
        rows.append({"bitrate": va.bitrate, "bandwidth": va.bandwidth, "average_bandwidth": va.average_bandwidth,
                     "playlist_key": ab_key(ab, f"{stem}.m3u8"),
                     "init_key": ab_key(ab, init_name) if init_name else None, "init": init_name,
                     "durations": durations, "segments": pairs})
    master_key = ab_key(ab, "master.m3u8")
    doc = {"ab": ab, "version": AB_VERSION, "prefix": master_key.rsplit("/", 1)[0], "master_key": master_key,
           "segment_seconds": seconds, "variants": rows}
    journal.put(master_key, hlsmod.master_playlist(firsts).encode(), m3u8)
    journal.put(ab_key(ab, DESCRIPTION), json.dumps(doc).encode(), "application/json")
    return doc


# --- serving: one listener's media playlist ---------------------------------------------------------

class _Descriptions:
    """Stored descriptions by key (content-addressed: read once per process)."""

    def __init__(self, size: int = 256):
        self.size = size
        self._items: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: ObjectStore, key: str) -> dict:
        with self._lock:
            doc = self._items.get(key)
            if doc is not None:
                self._items.move_to_end(key)
                return doc
        doc = json.loads(store.get_bytes(key))  # KeyError when absent
        with self._lock:
            self._items[key] = doc
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return doc


DESCRIPTIONS = _Descriptions()


def is_variant_playlist(key: str) -> bool:
    """Is ``key`` a rung's playlist of an A/B folder (built per listener when signed)?"""
    return is_ab_key(key) and key.endswith(".m3u8") and posixpath.basename(key) != "master.m3u8"


@dataclasses.dataclass(frozen=True)
class Choice:
    """What one listener's playlist of one rung serves: the object keys in order, and their durations."""

    init_key: str | None
    segment_keys: tuple[str, ...]
    durations: tuple[float, ...]
    bits: tuple[int, ...]


def choice(store: ObjectStore, playlist_key: str, key: bytes, lid: str) -> Choice:
    """The segments ``lid`` is served for the rung playlist ``playlist_key`` (KeyError: no such rung)."""
    from companion.rights.streams import listener_bits

    folder = posixpath.dirname(playlist_key)
    doc = DESCRIPTIONS.get(store, f"{folder}/{DESCRIPTION}")
    row = next((v for v in doc["variants"] if v["playlist_key"] == playlist_key), None)
    if row is None:
        raise KeyError(playlist_key)
    bits = listener_bits(key, doc["ab"], lid, len(row["segments"]))
    keys = tuple(f"{folder}/{pair[bit]}" for pair, bit in zip(row["segments"], bits))
    return Choice(row.get("init_key"), keys, tuple(row["durations"]), tuple(bits))


def listener_media_playlist(store: ObjectStore, playlist_key: str, signer, key: bytes, lid: str, exp: int) -> str:
    """The rung playlist ``playlist_key`` as ``lid`` gets it: segment ``i`` from their variant, every URI
    signed for them until ``exp`` (KeyError when the playlist is not an A/B rung's)."""
    c = choice(store, playlist_key, key, lid)

    def uri(k: str) -> str:
        return f"{posixpath.basename(k)}?{signer.sign_until(k, lid, exp).query()}"

    return hlsmod.write_media_playlist([(uri(k), d) for k, d in zip(c.segment_keys, c.durations)],
                                       init=uri(c.init_key) if c.init_key else None)


def description_of(store: ObjectStore, master_key: str) -> dict:
    """A track's A/B description, from its A/B master playlist's key (KeyError when absent)."""
    return DESCRIPTIONS.get(store, f"{posixpath.dirname(master_key)}/{DESCRIPTION}")
