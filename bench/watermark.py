"""Bench: the watermark (companion/rights) on a 3-minute band song, 20 delivery ids, the issue's attacks.

    .venv/bin/python bench/watermark.py            # the full run
    .venv/bin/python bench/watermark.py --quick    # 4 ids, 100 unmarked clips

Attacks (ffmpeg, as a pirate would): MP3 128 and 64 kbit/s, AAC 128, Ogg Vorbis 128, Opus 96,
MP3 128 then AAC 128, a 30 s crop at a random offset (of the MP3 128 file; MP3 then AAC also starts from that MP3), +2 dB and -2 dB gain,
a resample to 48 kHz. Each of the 20 marked files goes through each attack and the detector must
return its delivery id. False positives: 1,000 unmarked clips (20 s at random offsets of the
original, of its MP3 and of noise) must all say "no mark". SNR: marked against original. Embedding
speed: seconds of audio per second of CPU of :func:`companion.rights.watermark.embed`
(wall beside it), medians. Streams: two A/B variants, 4 s segments, five listeners' streams encoded
as AAC 128 (the HLS rung), captures of growing length at random offsets traced among 1,000
candidates: the shortest length at which every capture names its listener.

Anchor: audiowmark's published robustness at these rates (its README and its test matrix
recover 128-bit marks after MP3/AAC/Ogg down to 64-128 kbit/s); the goal is recovery >= 0.99.

Order: the unmarked clips, then the stream trace, then the ids; after each id one JSON line with
every figure so far, so the last line of stdout is always the whole result: {"recovery", "false_positives", "snr_db", "embed_realtime", "embed_realtime_wall",
"stream_trace_minutes", ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from companion.demo import render_midi, write_demo_midi  # noqa: E402
from companion.rights import streams  # noqa: E402
from companion.rights import watermark as wm  # noqa: E402

OUT = ROOT / "bench" / "out"
KEY = b"bench-watermark-key"


def say(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def demo_song(seconds: int) -> Path:
    wav = OUT / f"demo-{seconds}s.wav"
    if not wav.is_file():
        OUT.mkdir(parents=True, exist_ok=True)
        mid = OUT / f"demo-{seconds}s.mid"
        write_demo_midi(mid, seconds=seconds, seed=1)
        render_midi(mid, wav)
    return wav


def ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args], check=True)


def encode_decode(src: Path, work: Path, codec: list[str], ext: str, tag: str) -> Path:
    enc = work / f"{tag}.{ext}"
    ff("-i", str(src), *codec, str(enc))
    dec = work / f"{tag}.dec.wav"
    ff("-i", str(enc), str(dec))
    return dec


MP3_128 = ["-c:a", "libmp3lame", "-b:a", "128k"]
ATTACKS = ["mp3_128", "mp3_64", "aac_128", "ogg_128", "opus_96", "mp3_then_aac", "crop_30s",
           "gain_plus_2db", "gain_minus_2db", "resample_48k"]


def attacked(name: str, marked: Path, work: Path, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    if name == "mp3_128":
        p = encode_decode(marked, work, MP3_128, "mp3", name)
    elif name == "mp3_64":
        p = encode_decode(marked, work, ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3", name)
    elif name == "aac_128":
        p = encode_decode(marked, work, ["-c:a", "aac", "-b:a", "128k"], "m4a", name)
    elif name == "ogg_128":
        p = encode_decode(marked, work, ["-c:a", "libvorbis", "-b:a", "128k"], "ogg", name)
    elif name == "opus_96":
        p = encode_decode(marked, work, ["-c:a", "libopus", "-b:a", "96k"], "opus", name)
    elif name == "mp3_then_aac":  # the AAC of the MP3 128 decode (made by the mp3_128 attack just before)
        p = encode_decode(work / "mp3_128.dec.wav", work, ["-c:a", "aac", "-b:a", "128k"], "m4a", name)
    elif name == "crop_30s":  # a crop of the MP3 128 decode
        x, sr = sf.read(work / "mp3_128.dec.wav")
        off = int(rng.integers(0, len(x) - 30 * sr))
        return x[off: off + 30 * sr], sr
    elif name.startswith("gain"):
        x, sr = sf.read(marked)
        db = 2.0 if "plus" in name else -2.0
        return np.clip(x * 10 ** (db / 20), -1, 1), sr
    elif name == "resample_48k":
        p = work / "r48.wav"
        ff("-i", str(marked), "-af", "aresample=48000:resampler=soxr", "-ar", "48000", str(p))
    else:
        raise ValueError(name)
    return sf.read(p)


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ids", type=int, default=20)
    ap.add_argument("--clips", type=int, default=1000)
    args = ap.parse_args()
    n_ids = 4 if args.quick else args.ids
    n_clips = 100 if args.quick else args.clips
    rng = np.random.default_rng(13)
    src = demo_song(180)
    x, sr = sf.read(src)
    say(f"song {len(x) / sr:.0f} s at {sr} Hz, {n_ids} ids, {len(ATTACKS)} attacks, {n_clips} unmarked clips")
    ids = [int(v) for v in rng.integers(1, 2 ** 63, size=n_ids)]
    results: dict[str, list[bool]] = {a: [] for a in ATTACKS}
    snrs, rt_cpu, rt_wall, detect_s = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # False positives: unmarked clips of the original, its MP3, and noise.
        mp3 = encode_decode(src, work, MP3_128, "mp3", "orig")
        xm, srm = sf.read(mp3)
        fps = 0
        for i in range(n_clips):
            kind = i % 3
            if kind == 2:
                clip, csr = rng.normal(0, 0.1, size=(20 * 44100, 2)), 44100
            else:
                base, csr = (x, sr) if kind == 0 else (xm, srm)
                off = int(rng.integers(0, len(base) - 20 * csr))
                clip = base[off: off + 20 * csr]
            if wm.detect(clip, csr, KEY).found:
                fps += 1
                say(f"  false positive on unmarked clip {i}")
        say(f"false positives: {fps}/{n_clips}")

        # Streams: A/B variants, listeners' streams as AAC 128, captures of growing length.
        a_var, b_var = streams.variants(x, sr, KEY)
        seg = 4.0
        n_seg = int(np.ceil(len(a_var) / wm.RATE / seg))
        starts = streams.boundaries([seg] * n_seg)
        starts[-1] = len(a_var) / wm.RATE
        candidates = [f"l.{i}" for i in range(1000)]
        listeners = candidates[:3] if args.quick else candidates[:5]
        captured: dict[str, np.ndarray] = {}
        for lid in listeners:
            bits = streams.listener_bits(KEY, 1, lid, n_seg)
            mix = a_var.copy()
            for i, bit in enumerate(bits):
                if bit:
                    lo, hi = int(i * seg * wm.RATE), int(min(len(a_var), (i + 1) * seg * wm.RATE))
                    mix[lo:hi] = b_var[lo:hi]
            path = work / "stream.wav"
            sf.write(path, mix, wm.RATE, subtype="PCM_16")
            captured[lid], _ = sf.read(encode_decode(path, work, ["-c:a", "aac", "-b:a", "128k"], "m4a", "stream"))
        trace_minutes = None
        for minutes in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
            n = int(minutes * 60 * wm.RATE)
            ok = True
            for lid, cap in captured.items():
                off = int(rng.integers(0, max(1, len(cap) - n)))
                tr = streams.trace(cap[off: off + n], wm.RATE, KEY, 1, starts, candidates)
                ok &= tr.listener == lid
                say(f"  stream {minutes} min, {lid}: traced {tr.listener} (agreement {tr.agreement:.2f}, "
                    f"{len(tr.soft)} segments)")
            if ok:
                trace_minutes = minutes
                break

        # The delivery ids through the attack matrix. After each id one JSON line with the figures so
        # far (so the last line is always the whole result up to then).
        for n, pid in enumerate(ids):
            c0, w0 = cpu(), time.perf_counter()
            y = wm.embed(x, sr, wm.payload_field(KEY, pid))
            c1, w1 = cpu(), time.perf_counter()
            rt_cpu.append(len(x) / sr / max(c1 - c0, 1e-9))
            rt_wall.append(len(x) / sr / max(w1 - w0, 1e-9))
            snrs.append(wm.snr_db(x, y))
            marked = work / "marked.wav"
            sf.write(marked, y, wm.RATE, subtype="PCM_16")
            for a in ATTACKS:
                clip, csr = attacked(a, marked, work, rng)
                t = time.perf_counter()
                det = wm.detect(clip, csr, KEY)
                detect_s.append(time.perf_counter() - t)
                ok = det.payload == pid
                results[a].append(ok)
                if not ok:
                    say(f"  id {n} {a}: MISSED (found {det.payload}, sync z {det.sync_z:.1f})")
            say(f"id {n + 1}/{n_ids}: snr {snrs[-1]:.1f} dB, embed {rt_cpu[-1]:.0f}x (CPU), "
                f"{sum(r[-1] for r in results.values())}/{len(ATTACKS)} attacks recovered")
            per_attack = {a: sum(v) / len(v) for a, v in results.items()}
            recovery = sum(sum(v) for v in results.values()) / sum(len(v) for v in results.values())
            out = {"recovery": round(recovery, 4), "false_positives": fps, "unmarked_clips": n_clips,
                   "snr_db": round(statistics.median(snrs), 2), "embed_realtime": round(statistics.median(rt_cpu), 1),
                   "embed_realtime_wall": round(statistics.median(rt_wall), 1),
                   "detect_s_median": round(statistics.median(detect_s), 2),
                   "stream_trace_minutes": trace_minutes, "per_attack": per_attack, "ids": n + 1,
                   "ids_planned": n_ids, "song_seconds": round(len(x) / sr, 1), "cores": os.cpu_count()}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
