"""Both engines render from the sample library, the band's sound does not change, and SHF bundles
carry the exact samples a render used (regeneration needs nothing else)."""
from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from companion.algorithms.base import Params
from companion.algorithms.generate import compose
from companion.algorithms.instruments import load_instruments, parse_instrument
from companion.config import Config
from companion.render.engines import SuperColliderEngine
from companion.render.service import RenderSettings, render_composition, render_version
from companion.samples import service as S
from companion.samples.defaults import FONT_SHA256, migrate_defaults
from companion.samples.library import FileResolver, Memo, SampleMissing, StoreResolver, SystemResolver
from companion.services import Services
from tests.samples.conftest import tone, write

LIC = dict(licence="CC0-1.0", source="made by the tests")


def pcm(path) -> str:
    x, _ = sf.read(str(path), dtype="int32", always_2d=True)
    return hashlib.sha256(x.tobytes()).hexdigest()


def without_library(instruments: dict) -> dict:
    """The instruments as they were before the library: no soundfont line (the engine's own font by path)."""
    out = {}
    for k, inst in instruments.items():
        text = re.sub(r"(?m)^# the General MIDI SoundFont in the sample library.*\n^soundfont = .*\n", "", inst.source)
        out[k] = parse_instrument(text, k)
        assert out[k].soundfont is None
    return out


@pytest.fixture(scope="module")
def piece():
    return compose(None, 1, Params(tempo=120), measures=8)


@pytest.fixture
def svc(tmp_path):
    from companion.db import upgrade

    cfg = Config(var_dir=tmp_path / "var")
    upgrade(cfg.database_url)
    s = Services(cfg)
    yield s
    s.close()


def test_the_band_sounds_the_same_from_the_library(piece, svc, tmp_path):
    """The band's piece rendered before the library (the SoundFont by path) and after it (each
    instrument's SoundFont found by hash in the library's object store only): the same samples."""
    migrate_defaults(svc)
    shipped = load_instruments()
    assert {i.soundfont.sha256 for i in shipped.values() if i.soundfont} == {FONT_SHA256}
    for inst in shipped.values():  # every ref names a library sample of that name, version and hash
        if inst.soundfont:
            ref = inst.soundfont
            found = [s for s in S.list_samples(svc.db, instrument=inst.id) if s["ref"] == ref.sample]
            assert [(s["version"], s["current"]["sha256"]) for s in found] == [(ref.version, ref.sha256)]
    before = render_composition(piece, tmp_path / "before", RenderSettings(), without_library(shipped), workers=1)
    library_only = Memo(StoreResolver(svc.store, tmp_path / "dl"))
    after = render_composition(piece, tmp_path / "after", RenderSettings(), shipped, workers=1, samples=library_only)
    assert before["samples"] == {}
    assert set(after["samples"]) == {FONT_SHA256}
    assert after["samples"][FONT_SHA256]["kind"] == "soundfont"
    assert library_only.known[FONT_SHA256].is_relative_to(Path(svc.config.storage_dir))
    assert pcm(before["mixdown"]) == pcm(after["mixdown"])
    assert [(s["part"], pcm(s["path"])) for s in before["stems"]] == [(s["part"], pcm(s["path"])) for s in
                                                                      after["stems"]]


def test_a_soundfont_missing_everywhere_fails_clearly(piece, tmp_path):
    nowhere = FileResolver({})
    with pytest.raises(SampleMissing) as err:
        render_composition(piece, tmp_path / "r", RenderSettings(upto_measure=1), load_instruments(), workers=1,
                           samples=nowhere)
    assert err.value.code == "sample_missing" and err.value.details["sha256"] == FONT_SHA256


def sampler_drums(svc, tmp_path, store_actor=S.Actor("crash", "member")) -> tuple:
    """A drum kit whose sounds are library samples: kick (36), snare (38), hat (42, stereo, 48 kHz)."""
    refs = []
    for name, key, freq, ch, rate in (("kick", 36, 60.0, 1, 44100), ("snare", 38, 220.0, 1, 44100),
                                      ("hat", 42, 5000.0, 2, 48000)):
        f = write(tmp_path / f"{name}.wav", tone(0.3, freq, rate, ch, 0.05), rate, "PCM_24")
        res = S.add(svc, store_actor, "crash-drums", f, f.name, S.SampleMeta(name=name, root=key, **LIC))
        v = S.get_version(svc.db, res["changes"][0]["sample_id"])
        refs.append(f'{{ sample = "{v["sample"]["ref"]}", version = 1, sha256 = "{v["sha256"]}", root = {key} }}')
    shipped = load_instruments()["crash-drums"].source
    text = shipped.replace('engine = "fluidsynth"', 'engine = "supercollider"')
    text = re.sub(r'synthdef = "sh_kit"\nparams = .*\n', 'synthdef = "sh_sampler"\nsamples = [\n  ' +
                  ",\n  ".join(refs) + ",\n]\n", text)
    return parse_instrument(text, "crash-drums.toml"), refs


def test_the_sampler_voice_plays_library_samples_through_scsynth(svc, tmp_path):
    drums, _ = sampler_drums(svc, tmp_path)
    assert drums.synthdef == "sh_sampler" and len(drums.samples) == 3
    comp = compose(None, 2, Params(tempo=120), measures=2, members=["crash"])
    instruments = {**load_instruments(), "crash-drums": drums}
    from companion.samples.library import default_resolver
    res = render_composition(comp, tmp_path / "r", RenderSettings(engine="auto"), instruments, workers=1,
                             samples=default_resolver(svc.store, tmp_path / "dl"))
    stem = next(s for s in res["stems"] if s["part"] == "drums")
    assert stem["engine"] == "supercollider"
    assert {e["ref"] for e in res["samples"].values() if e["kind"] == "sample"} == {
        "crash-drums/normal/kick", "crash-drums/normal/snare", "crash-drums/normal/hat"}
    y, rate = sf.read(stem["path"])
    assert np.abs(y).max() > 0.05


def test_the_sampler_voice_chooses_and_pitches_samples(svc, tmp_path):
    """One A4 sample (root 69) playing A4 then A5: the second note sounds an octave up."""
    f = write(tmp_path / "a4.wav", tone(1.0, 440.0, decay=0.5))
    res = S.add(svc, S.Actor("ivory", "leader"), "ivory-keys", f, f.name, S.SampleMeta(root=69, low=57, high=81, **LIC))
    v = S.get_version(svc.db, res["changes"][0]["sample_id"])
    text = load_instruments()["ivory-keys"].source
    text = text.replace('engine = "fluidsynth"', 'engine = "supercollider"')
    text = re.sub(r'synthdef = "sh_epiano"\nparams = .*\n',
                  f'synthdef = "sh_sampler"\nsamples = [{{ sample = "{v["sample"]["ref"]}", version = 1, '
                  f'sha256 = "{v["sha256"]}", root = 69, low = 57, high = 81 }}]\n', text)
    keys = parse_instrument(text, "ivory-keys.toml")
    from fractions import Fraction

    from companion.compositions.model import Composition, Event, Part
    from companion.render.timeline import TempoMap, part_notes

    comp = Composition(title="two notes", measures=1)
    comp.parts = [Part(id="keys", name="keys", instrument="piano", kind="melody", channel=0, owner="ivory")]
    comp.set_events("keys", 1, [Event(onset=Fraction(0), pitch="A4", dur=Fraction(1, 2), vel=100),
                                Event(onset=Fraction(1, 2), pitch="A5", dur=Fraction(1, 2), vel=100)])
    notes = part_notes(comp, "keys", TempoMap(comp))
    assert [n.midi for n in notes] == [69, 81]
    engine = SuperColliderEngine()
    seconds = notes[-1].start + notes[-1].duration + 0.5
    with pytest.raises(SampleMissing):  # by default only the system's SoundFonts are known
        engine.render_part(comp, "keys", keys, tmp_path / "keys.wav", tmp_path, seconds)
    engine.samples = Memo(StoreResolver(svc.store, tmp_path / "dl"))
    out = engine.render_part(comp, "keys", keys, tmp_path / "keys.wav", tmp_path, seconds)
    y, rate = sf.read(str(out))
    got = [dominant_hz(y[int((n.start + 0.02) * rate):int((n.start + min(n.duration, 0.4)) * rate), 0], rate)
           for n in notes]
    assert got == pytest.approx([440.0, 880.0], rel=0.03)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 16))
    return float(np.argmax(spec) * rate / (1 << 16))


def test_a_bundle_carries_the_samples_and_regenerates_from_them_alone(svc, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from companion.samples.library import default_resolver
    from companion.shf.build import bundle_input
    from companion.shf.keys import key_id
    from companion.shf.reader import open_bundle
    from companion.shf.regenerate import regenerate
    from companion.shf.writer import write_bundle

    drums, _ = sampler_drums(svc, tmp_path)
    instruments = {**load_instruments(), "crash-drums": drums}
    comp = compose(None, 4, Params(tempo=140), measures=4)
    files = comp.to_files()
    manifest = render_version(svc.store, files, tmp_path / "work", RenderSettings(), instruments=instruments)
    kinds = sorted(e["kind"] for e in manifest["samples"].values())
    assert kinds == ["sample", "sample", "sample", "soundfont"]
    master = svc.store.local_path(manifest["mixdown"]["key"])
    key = Ed25519PrivateKey.generate()
    (tmp_path / "b").mkdir()
    inp = bundle_input(files, manifest, master, tmp_path / "b", instruments=instruments, musicxml=False,
                       samples=default_resolver(svc.store, tmp_path / "dl"))
    out = write_bundle(tmp_path / "piece.shf", inp, key)
    with open_bundle(out) as b:
        b.verify_all()
        entries = b.manifest["render"]["samples"]
        members = {n: e["size"] for n, e in b.files.items() if n.startswith("samples/")}
        font = entries[FONT_SHA256]
        assert font["subset_of"] == FONT_SHA256 and font["member"] in members
        assert members[font["member"]] < 40 << 20  # a subset, not the 148 MB font
        for sha, e in entries.items():
            if e["kind"] == "sample":
                assert e["member"] == f"samples/{sha}.wav"
                assert hashlib.sha256(b.read(e["member"])).hexdigest() == sha
    with zipfile.ZipFile(out) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist() if i.filename.startswith("samples/"))
    # regenerate with nothing but the bundle: the system's SoundFonts are out of reach
    monkeypatch.setattr(SystemResolver, "find", lambda self, sha: None)
    res = regenerate(out, {key_id(key.public_key()): key.public_key()}, tmp_path / "regen")
    assert res.ok and res.composition_identical and res.audio["identical"], res.to_dict()
