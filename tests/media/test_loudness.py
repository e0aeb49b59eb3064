"""The stream ladder and the preview keep the loudness promise, as ffmpeg measures them after encoding.

The promise (docs/release-pipeline.md): every rung and the preview have a true peak at or under
the ceiling (-1 dBTP); every rung measures the target (-14 LUFS) within 0.5 LU, unless the
ceiling holds it back, in which case it is quieter (no limiter) and its true peak is within
1 dB of the ceiling; the loudness the manifest states for each rung and for the preview is what
ffmpeg measures, within 0.2 LU / 0.2 dB. Measured here by ffmpeg's own ebur128 filter and HLS
demuxer, parsed by this test, not by the companion's code.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from companion.media.loudness import normalization_gain
from companion.media.renditions import stream_rung

from .conftest import ff

TARGET, CEILING, TOLERANCE = -14.0, -1.0, 0.5


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of a file or an HLS playlist, by ffmpeg alone."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-protocol_whitelist", "file",
                          "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-500:]
    summary = out.stderr[out.stderr.rfind("Summary:"):]
    integrated = float(re.search(r"I:\s*(-?[\d.]+) LUFS", summary)[1])
    peak = float(re.search(r"Peak:\s*(-?[\d.]+|-inf) dBFS", summary)[1])
    return integrated, peak


def rung_files(run) -> list[tuple[dict, Path]]:
    return [(row, run.store.local_path(row["playlist_key"])) for row in run.manifest["hls"]["variants"]]


def preview_of(run) -> tuple[dict, Path]:
    row = next(r for r in run.manifest["renditions"] if r["name"] == "preview")
    return row, run.store.local_path(row["key"])


def test_the_hot_master_really_overshoots_when_encoded_plainly(tmp_path, hot_wav):
    """The input is a real case: encoded at the gain the source's measurement gives, AAC breaks the ceiling."""
    i, tp = ebur128(hot_wav)
    assert tp == pytest.approx(-0.1, abs=0.15) and i > -16
    from companion.media.loudness import Loudness

    gain = normalization_gain(Loudness(i, 0.0, tp), TARGET, CEILING)
    peaks = []
    for kbps in (48, 96, 192):
        out = tmp_path / f"plain-{kbps}.m4a"
        ff("-i", str(hot_wav), "-map", "0:a:0", "-af", f"volume={gain}dB", *[a for a in stream_rung(kbps).args if a != "{lossy_rate}"],
           str(out))
        peaks.append(ebur128(out)[1])
    assert max(peaks) > CEILING + 0.5, peaks


@pytest.mark.parametrize("which", ["release", "hot_release"])
def test_every_rung_and_the_preview_meet_the_ceiling(request, which):
    run = request.getfixturevalue(which)
    for row, playlist in rung_files(run):
        _, peak = ebur128(playlist)
        assert peak <= CEILING, (row["bitrate"], peak)
    _, peak = ebur128(preview_of(run)[1])
    assert peak <= CEILING


@pytest.mark.parametrize("which", ["release", "hot_release"])
def test_each_rung_is_at_the_target_unless_the_ceiling_holds_it_back(request, which, tmp_path):
    """A rung quieter than the target is one whose louder encodes broke the ceiling: the manifest
    lists them, and ffmpeg, encoding the master at those gains, finds them over the ceiling."""
    run = request.getfixturevalue(which)
    master = run.store.local_path(next(r for r in run.manifest["renditions"] if r["name"] == "master-wav")["key"])
    source_gain = run.manifest["stream_gain_db"]
    source_capped = source_gain < TARGET - run.manifest["loudness"]["integrated_lufs"] - 0.01
    for row, playlist in rung_files(run):
        integrated, peak = ebur128(playlist)
        assert integrated <= TARGET + TOLERANCE, row["bitrate"]
        if integrated >= TARGET - TOLERANCE:
            continue
        louder = [r for r in row["rejected"] if r["gain_db"] > row["gain_db"]]
        assert louder or source_capped, (row["bitrate"], integrated, peak, row["rejected"])
        for attempt in louder:
            out = tmp_path / f"again-{row['bitrate']}-{attempt['gain_db']}.m4a"
            ff("-i", str(master), "-map", "0:a:0", "-af", f"volume={attempt['gain_db']:.2f}dB",
               *[a for a in stream_rung(row["bitrate"] // 1000).args if a != "{lossy_rate}"], str(out))
            assert ebur128(out)[1] > CEILING or attempt["integrated_lufs"] > TARGET + TOLERANCE, attempt


def test_a_quiet_source_reaches_the_target_on_every_rung(release):
    for row, playlist in rung_files(release):
        assert ebur128(playlist)[0] == pytest.approx(TARGET, abs=TOLERANCE)


@pytest.mark.parametrize("which", ["release", "hot_release"])
def test_the_loudness_the_manifest_states_is_what_ffmpeg_measures(request, which):
    run = request.getfixturevalue(which)
    m = run.manifest
    assert m["target_lufs"] == TARGET and m["true_peak_ceiling_db"] == CEILING
    for row, playlist in rung_files(run):
        integrated, peak = ebur128(playlist)
        assert row["integrated_lufs"] == pytest.approx(integrated, abs=0.2)
        assert row["true_peak_dbtp"] == pytest.approx(peak, abs=0.2)
    row, path = preview_of(run)
    integrated, peak = ebur128(path)
    assert row["loudness"]["integrated_lufs"] == pytest.approx(integrated, abs=0.2)
    assert row["loudness"]["true_peak_dbtp"] == pytest.approx(peak, abs=0.2)


def test_corrected_rungs_record_their_own_gain(hot_release):
    """The hot master's rungs needed different corrections; each variant says which gain it got."""
    variants = hot_release.manifest["hls"]["variants"]
    base = hot_release.manifest["stream_gain_db"]
    assert any(v["gain_db"] != base for v in variants)
    assert all(v["gain_db"] <= base + 5 for v in variants)
    preview = preview_of(hot_release)[0]
    assert preview["gain_db"] <= next(v["gain_db"] for v in variants if v["bitrate"] == 192_000)
