"""The renderer's output does not change by accident: the stems and mixdown of a fixed piece, the
single-part renders of both engines and the fluidsynth program path, compared sample for sample
with what was recorded (tests/render/render_bits.json) when the engines had the same versions.

A deliberate change of the output (a new RENDER_PATH or RENDER_VERSION) re-records the file:
    python tests/render/test_render_bits.py --record
On a machine with other engine versions the comparison cannot hold; outside CI the test is then
skipped, in CI it fails (the CI image must match the recorded engines).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
import soundfile

from companion.algorithms.base import Params
from companion.algorithms.generate import compose
from companion.algorithms.instruments import by_part, load_instruments
from companion.render.engines import FluidSynthEngine, SuperColliderEngine
from companion.render.service import RENDER_VERSION, RenderSettings, engine_versions, render_composition

RECORD = Path(__file__).with_name("render_bits.json")
CASES = {"workers-1": (1, RenderSettings()), "workers-2": (2, RenderSettings()),
         "limited": (2, RenderSettings(loudness_target_lufs=-8.0, upto_measure=8))}


def pcm_sha(path) -> str:
    """sha256 of a WAV's samples as integers (what the file says, whatever its header looks like)."""
    x, _ = soundfile.read(path, dtype="int32", always_2d=True)
    return hashlib.sha256(x.tobytes()).hexdigest()


def fingerprint(cases=CASES) -> dict:
    comp = compose(None, 3, Params(tempo=132), measures=16)
    out = {"engines": engine_versions(), "render_version": RENDER_VERSION}
    for name, (workers, settings) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            res = render_composition(comp, Path(d), settings, workers=workers)
            out[name] = {"mixdown": pcm_sha(res["mixdown"]),
                         "stems": {s["part"]: pcm_sha(s["path"]) for s in res["stems"]}}
    insts = by_part(load_instruments())
    for label, eng in (("fluidsynth", FluidSynthEngine()), ("supercollider", SuperColliderEngine()),
                       ("fluidsynth-program", FluidSynthEngine(in_process=False))):
        with tempfile.TemporaryDirectory() as d:
            p = eng.render_part(comp, "drums", insts["drums"], Path(d) / "a.wav", Path(d), 6.0, upto_measure=2)
            out[f"part-{label}"] = pcm_sha(p)
    return out


@pytest.fixture(scope="module")
def recorded():
    rec = json.loads(RECORD.read_text())
    now = engine_versions()
    if rec["engines"] != now:
        msg = f"the recorded renders are from other engine versions: {rec['engines']} here {now}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return rec


def test_recorded_for_this_render_version(recorded):
    assert recorded["render_version"] == RENDER_VERSION, "the output changed on purpose: re-record"


def test_render_output_is_the_recorded_one(recorded):
    now = fingerprint()
    for key in CASES:
        assert now[key]["stems"] == recorded[key]["stems"], f"{key}: stems differ"
        assert now[key]["mixdown"] == recorded[key]["mixdown"], f"{key}: mixdown differs"
    for key in ("part-fluidsynth", "part-supercollider", "part-fluidsynth-program"):
        assert now[key] == recorded[key], key


if __name__ == "__main__" and "--record" in sys.argv:
    RECORD.write_text(json.dumps(fingerprint(), indent=1, sort_keys=True) + "\n")
    print(f"recorded {RECORD}")
