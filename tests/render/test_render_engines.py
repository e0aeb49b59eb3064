"""Both engines render stems; the mixdown is normalised; the render cache does no work twice."""
from __future__ import annotations

import dataclasses
import time
from fractions import Fraction

import numpy as np
import pytest

from companion.algorithms.instruments import by_part, load_instruments
from companion.compositions.model import Composition
from companion.config import Config
from companion.render import audio as A
from companion.render.engines import FluidSynthEngine, SuperColliderEngine
from companion.render.service import RenderSettings, render_composition, render_version
from companion.storage import open_store


@pytest.fixture(scope="module")
def rendered(short_piece, tmp_path_factory):
    work = tmp_path_factory.mktemp("render")
    return render_composition(short_piece, work, RenderSettings())


def test_each_part_gets_a_stem_from_its_instruments_engine(rendered, short_piece):
    insts = by_part(load_instruments())
    parts = {s["part"]: s for s in rendered["stems"]}
    assert set(parts) >= {"drums", "bass", "guitar", "keys", "synth"}
    for part, st in parts.items():
        assert st["engine"] == insts[part].engine
        sr, x = A.read_wav(st["path"])
        # FluidSynth's stems are stereo (General MIDI pans them); SuperCollider's are centred: mono files
        assert sr == A.SR and x.shape[1] == (1 if st["engine"] == "supercollider" else 2), part
        assert abs(len(x) / sr - rendered["duration"]) < 0.01
        assert np.max(np.abs(x)) > 0.01, f"{part} is silent"
    assert {s["engine"] for s in rendered["stems"]} == {"fluidsynth", "supercollider"}


def test_mixdown_normalised_by_ffmpegs_meter(rendered):
    from companion.media.loudness import measure

    assert abs(measure(rendered["mixdown"]).integrated_lufs - (-14.0)) <= 0.2
    assert abs(rendered["mix"]["loudness_lufs"] - (-14.0)) <= 0.1
    sr, x = A.read_wav(rendered["mixdown"])
    assert np.max(np.abs(x)) <= A.undb(-1.0) + 1e-6


def test_vocoder_sings_the_lyrics(tmp_path):
    from companion.algorithms.base import Params
    from companion.algorithms.generate import compose
    from companion.render.timeline import part_notes

    piece = compose(None, 3, Params(tempo=132), measures=16)  # its own: Verse sings in it
    notes = part_notes(piece, "vocals")
    assert len(notes) > 5, "Verse sings in this piece (seed 3, 16 measures)"
    out = SuperColliderEngine().render_part(piece, "vocals", by_part(load_instruments())["vocals"],
                                            tmp_path / "v.wav", tmp_path, notes[-1].start + notes[-1].duration + 1)
    _, x = A.read_wav(out)
    s = int(notes[0].start * A.SR)
    assert np.abs(x[s: s + A.SR]).max() > 0.01  # sound where the first syllable is
    assert np.abs(x[: max(1, s - A.SR // 2)]).max() < 0.005  # silence before the line


@pytest.mark.parametrize("engine", ["fluidsynth", "supercollider"])
def test_engines_are_deterministic(short_piece, tmp_path, engine):
    insts = by_part(load_instruments())
    eng = FluidSynthEngine() if engine == "fluidsynth" else SuperColliderEngine()
    a = eng.render_part(short_piece, "drums", insts["drums"], tmp_path / "a.wav", tmp_path, 6.0, upto_measure=2)
    b = eng.render_part(short_piece, "drums", insts["drums"], tmp_path / "b.wav", tmp_path, 6.0, upto_measure=2)
    assert a.read_bytes() == b.read_bytes()


def test_render_cache(short_piece, tmp_path):
    store = open_store(Config(var_dir=tmp_path))
    files = short_piece.to_files()
    settings = RenderSettings(upto_measure=4, engine="supercollider")
    first = render_version(store, files, tmp_path / "work", settings)
    assert not first["cached"] and store.exists(first["mixdown"]["key"])
    assert all(store.exists(s["key"]) for s in first["stems"])
    t = time.perf_counter()
    again = render_version(store, files, tmp_path / "work", settings)
    assert again["cached"] and again["key"] == first["key"] and time.perf_counter() - t < 1.0
    # one changed note: a new key and a new render
    comp = Composition.from_files(files)
    evs = comp.events("bass", 1)
    comp.set_events("bass", 1, [dataclasses.replace(evs[0], vel=max(1, evs[0].vel - 20))] + evs[1:])
    changed = render_version(store, comp.to_files(), tmp_path / "work", settings)
    assert not changed["cached"] and changed["key"] != first["key"]
    # other settings: another key
    other = render_version(store, files, tmp_path / "work", dataclasses.replace(settings, loudness_target_lufs=-18.0))
    assert other["key"] != first["key"] and abs(other["mixdown"]["loudness_lufs"] + 18) < 0.6


def test_mono_stem_files_hold_what_the_mixer_was_fed(short_piece, tmp_path):
    """SuperCollider's stems are stored as one channel: each file holds exactly the samples the mixer got
    (quantized to 24 bits by our rule), and the mixer got the same samples on both sides."""
    import soundfile

    from companion.render.service import parts_to_render, render_stems

    settings = RenderSettings(engine="supercollider", upto_measure=4)
    parts = parts_to_render(short_piece, load_instruments(), 4)  # the order consume gets them in
    fed: dict[str, list] = {p: [] for p in parts}

    def consume(start, regions):
        for p, r in zip(parts, regions):
            fed[p].append(np.array(r))

    st = render_stems(short_piece, tmp_path, settings, workers=2, consume=consume)
    assert st.parts == parts and len(parts) >= 4
    for p in parts:
        x = np.concatenate(fed[p], axis=1)
        assert x.shape == (2, st.frames) and np.array_equal(x[0], x[1]), f"{p}: the mixer got different sides"
        info = soundfile.info(str(st.paths[p]))
        assert info.channels == 1 and info.subtype == "PCM_24" and info.frames == st.frames, p
        ints, _ = soundfile.read(str(st.paths[p]), dtype="int32")
        assert np.array_equal(ints >> 8, A.quantize(x[0], 24)), p
        assert np.abs(x[0]).max() > 0.01, f"{p} is silent"
