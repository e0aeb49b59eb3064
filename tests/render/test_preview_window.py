"""The quick preview's window: rendered from only its measures, equal to the same seconds of a whole
render; the preview's paths (a fresh render segmented before it is stored, a cached render, a cached
preview, a failed render leaving nothing running or stored); a warm worker."""
from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest
import soundfile

from companion.algorithms.base import Params
from companion.algorithms.generate import compose
from companion.compositions.model import Composition
from companion.config import Config
from companion.render import audio as A
from companion.render.engines.slicing import window_composition
from companion.render.errors import EngineError
from companion.render.preview import quick_preview
from companion.render.service import RenderSettings, engine_versions, render_composition, render_version, warm_up
from companion.render.timeline import TempoMap
from companion.storage import open_store


@pytest.fixture(scope="module")
def piece():
    return compose(None, 5, Params(tempo=120), measures=12)


def test_window_holds_only_its_measures_and_parses_no_others(piece):
    files = piece.to_files()
    full = Composition.from_files(files)
    win = window_composition(full, 3)
    assert win.measures == 3 and [p.id for p in win.parts] == [p.id for p in full.parts]
    for p in full.parts:
        for m in (1, 2, 3):
            assert win.events(p.id, m) == full.events(p.id, m)
        assert not any(m > 3 for m, _ in win.all_events(p.id))
    assert all(g.measure <= 3 for g in win.global_events)
    # the rest of the piece was never parsed: a broken measure 10 does not stop the window
    broken = dict(files)
    name = "parts/guitar.txt"
    lines = files[name].decode().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("10|"))
    lines[k] = lines[k] + " ; this-is-not-an-event"
    broken[name] = ("\n".join(lines) + "\n").encode()
    comp = Composition.from_files(broken)
    window_composition(comp, 3).parse_all()
    with pytest.raises(ValueError):
        comp.parse_all()


@pytest.mark.parametrize("engine", ["fluidsynth", "supercollider"])
def test_windowed_render_equals_the_same_seconds_of_a_whole_render(piece, tmp_path, engine):
    """Each stem of the window's render is the whole render's stem over the window's seconds: within 1% of
    the stem's level (FluidSynth's voices may be grouped otherwise; notes still sounding at the window's
    end differ only in its tail, which is not compared)."""
    settings = RenderSettings(engine=engine)
    whole = render_composition(piece, tmp_path / "whole", settings)
    upto = 4
    win = render_composition(window_composition(piece, upto), tmp_path / "win",
                             dataclasses.replace(settings, upto_measure=upto, tail_seconds=0.5))
    n = int(TempoMap(piece).end(upto) * A.SR)
    whole_stems = {s["part"]: s["path"] for s in whole["stems"]}
    compared = 0
    for s in win["stems"]:
        a, _ = soundfile.read(s["path"], dtype="float32", always_2d=True)
        b, _ = soundfile.read(whole_stems[s["part"]], dtype="float32", always_2d=True)
        a, b = a[:n], b[:n]
        level = float(np.sqrt(np.mean(b ** 2)))
        if level < 1e-4:
            continue
        err = float(np.sqrt(np.mean((a - b) ** 2)))
        assert err <= 0.01 * level, f"{engine} {s['part']}: {err:.2e} against a level of {level:.2e}"
        compared += 1
    assert compared >= 3


def _changed(piece: Composition) -> dict[str, bytes]:
    comp = Composition.from_files(piece.to_files())
    evs = comp.events("bass", 1)
    i = next(k for k, e in enumerate(evs) if e.kind == "note")
    comp.set_events("bass", 1, evs[:i] + [dataclasses.replace(evs[i], vel=max(1, evs[i].vel - 30))] + evs[i + 1:])
    return comp.to_files()


def _segments_decode(store, res) -> float:
    """Seconds of audio ffmpeg decodes from the preview's init segment and media segments."""
    data = store.get_bytes(res["playlist_key"].rsplit("/", 1)[0] + "/preview_init.mp4")
    for key in res["segments"]:
        data += store.get_bytes(key)
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", "8000", "-"],
                         input=data, capture_output=True, check=True).stdout
    return len(out) / 4 / 8000


def test_preview_paths_fresh_cached_render_and_cached_preview(piece, tmp_path):
    store = open_store(Config(var_dir=tmp_path / "var"))
    files = _changed(piece)
    first = quick_preview(store, files, tmp_path / "work", seconds=6)
    assert not first["cached"] and not first["render_cached"] and first["segments"]
    assert first["first_segment_s"] <= first["total_s"]
    seconds = TempoMap(piece).end(first["measures"]) + 0.5
    assert abs(_segments_decode(store, first) - seconds) < 0.2
    # the render was stored in the cache too (while the segments were cut), and nothing else is left
    assert store.exists(f"renders/{first['render_key'][:2]}/{first['render_key']}/render.json") or any(
        first["render_key"] in k for k in store.list("renders/"))
    assert not list((tmp_path / "work").glob("preview-*")) and not list((tmp_path / "work").glob("render-*"))
    # the same request again: the cached preview, nothing rendered or segmented
    again = quick_preview(store, files, tmp_path / "work", seconds=6)
    assert again["cached"] and again["playlist_key"] == first["playlist_key"]
    # a cached render without a preview (another store holding only the render): segmented from it
    other = open_store(Config(var_dir=tmp_path / "var2"))
    rs = RenderSettings(upto_measure=first["measures"], stems=False, tail_seconds=0.5)
    manifest = render_version(other, files, tmp_path / "work2", rs)
    assert manifest["key"] == first["render_key"]
    from_cache = quick_preview(other, files, tmp_path / "work2", seconds=6)
    assert not from_cache["cached"] and from_cache["render_cached"] and from_cache["segments"]
    assert abs(_segments_decode(other, from_cache) - seconds) < 0.2


def test_a_failed_preview_render_leaves_no_segmenter_and_nothing_stored(piece, tmp_path, monkeypatch):
    import companion.render.preview as P

    started = []
    real_popen = subprocess.Popen

    def popen(*a, **k):
        proc = real_popen(*a, **k)
        started.append(proc)
        return proc

    def broken(*a, **k):
        raise EngineError("the engine broke", code="engine_failed")

    monkeypatch.setattr(P.subprocess, "Popen", popen)
    monkeypatch.setattr(P, "render_version", broken)
    store = open_store(Config(var_dir=tmp_path / "var"))
    with pytest.raises(EngineError):
        quick_preview(store, _changed(piece), tmp_path / "work", seconds=6)
    assert len(started) == 1 and started[0].poll() is not None  # the waiting ffmpeg was ended
    assert list(store.list("previews/")) == []
    assert not list((tmp_path / "work").glob("preview-*"))


def test_warm_up_renders_no_users_piece_and_stores_nothing(piece, tmp_path):
    took = warm_up(tmp_path / "warm")
    assert set(took) == {"load_s", "render_s"} and took["render_s"] > 0
    assert list((tmp_path / "warm").iterdir()) == []  # its scratch is gone
    assert engine_versions() == engine_versions(fresh=True)  # the cached answer is the machine's
    # a warm worker still renders a new piece from scratch (no cache of it anywhere)
    store = open_store(Config(var_dir=tmp_path / "var"))
    res = quick_preview(store, _changed(piece), tmp_path / "work", seconds=6)
    assert not res["cached"] and not res["render_cached"]


def test_a_web_worker_warms_its_engines_in_the_background_unless_told_not_to(tmp_path, caplog):
    """companion/wsgi.py: each gunicorn worker calls warm_up_in_background with its config."""
    import logging

    from companion.render.service import warm_up_in_background

    assert warm_up_in_background(Config(var_dir=tmp_path / "off", render_warm_up=False)) is None
    with caplog.at_level(logging.INFO, logger="companion.render"):
        t = warm_up_in_background(Config(var_dir=tmp_path / "on", render_warm_up=True))
        assert t is not None and t.daemon
        t.join(120)
    assert not t.is_alive()
    warm = [r.getMessage() for r in caplog.records if r.getMessage().startswith("render engines warm")]
    assert len(warm) == 1 and "render_s" in warm[0], caplog.text
