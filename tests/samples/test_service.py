"""The library's service on every database and on S3, its hash-chained history, and the CLI."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from companion.samples import service as S
from tests.samples.conftest import hits, tone, write

LIC = dict(licence="CC0-1.0", source="made by the tests")


def svc_of(app):
    return app.extensions["scripthammer"]


def test_add_replace_retire_history_on_each_database(db_kind, app, tmp_path):
    svc = svc_of(app)
    crash, ivory = S.Actor("crash", "member"), S.Actor("ivory", "leader")
    kick = write(tmp_path / "kick.wav", tone(0.3, 60.0))
    res = S.add(svc, crash, "crash-drums", kick, "kick.wav", S.SampleMeta(root=36, **LIC), "a kick")
    sid = res["changes"][0]["sample_id"]
    snare = write(tmp_path / "snare.flac", tone(0.3, 200.0), subtype="PCM_24", fmt="FLAC")
    S.replace(svc, ivory, sid, snare, "snare.flac", S.SampleMeta(**LIC), "rounder")
    S.retire(svc, crash, sid, "gone")
    with pytest.raises(Exception) as err:
        S.retire(svc, S.Actor("reed", "member"), sid)
    assert err.value.code == "not_instrument_owner"
    item = S.get_sample(svc.db, sid)
    assert (item["state"], item["version"], item["current"]["format"], item["current"]["root"]) == (
        "retired", 2, "flac", 36)
    hist = S.history(svc.db, instrument="crash-drums")
    assert [(c["author"], c["changes"][0]["action"]) for c in hist] == [("crash", "retire"), ("ivory", "replace"),
                                                                       ("crash", "add")]
    assert S.verify_history(svc.db)["ok"]
    assert S.list_samples(svc.db, instrument="crash-drums") == []
    assert [s["id"] for s in S.list_samples(svc.db, state="all")] == [sid]


def test_tampering_with_the_history_is_detected(app, tmp_path):
    svc = svc_of(app)
    crash = S.Actor("crash", "member")
    for i, f in enumerate((80.0, 90.0)):
        S.add(svc, crash, "crash-drums", write(tmp_path / f"k{i}.wav", tone(0.2, f)), f"k{i}.wav",
              S.SampleMeta(**LIC))
    assert S.verify_history(svc.db) == {"ok": True, "commits": 2, "broken": []}
    from companion.samples.models import SampleCommit
    with svc.db.session() as s:
        first = s.scalars(sa.select(SampleCommit).order_by(SampleCommit.id)).first()
        first.author = "chops"
    res = S.verify_history(svc.db)
    assert res["ok"] is False and res["broken"] == [first.id]


def test_a_failed_catalog_write_leaves_no_object_behind(app, tmp_path, monkeypatch):
    svc = svc_of(app)
    wav = write(tmp_path / "kick.wav", tone(0.2))

    def boom(*a, **k):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(S, "_commit", boom)
    with pytest.raises(RuntimeError):
        S.add(svc, S.Actor("crash", "member"), "crash-drums", wav, "kick.wav", S.SampleMeta(**LIC))
    assert list(svc.store.list("samples/")) == []
    assert S.list_samples(svc.db, state="all") == []


@pytest.fixture
def s3_app(tmp_path, redis_url, s3_settings):
    from companion import create_app
    from jobs import context
    from tests.conftest import build_config, prepare

    config = build_config(tmp_path, f"sqlite:///{tmp_path / 's3.db'}", redis_url, **s3_settings)
    tokens = prepare(config)
    application = create_app(config)
    application.test_tokens = tokens
    yield application
    context.configure(None)
    application.extensions["scripthammer"].close()


def test_the_library_on_s3(s3_app, tmp_path):
    svc = svc_of(s3_app)
    assert svc.store.name == "s3"
    wav = write(tmp_path / "a4.wav", tone(0.6, 440.0))
    res = S.add(svc, S.Actor("ivory", "leader"), "ivory-keys", wav, "a4.wav", S.SampleMeta(root=69, **LIC))
    sid = res["changes"][0]["sample_id"]
    v = S.get_version(svc.db, sid)
    assert svc.store.stat(v["key"]).size == wav.stat().st_size
    client = s3_app.test_client()
    headers = {"Authorization": f"Bearer {s3_app.test_tokens['crash']}"}
    r = client.get(f"/api/samples/{sid}/versions/1/file", headers=headers)
    assert r.status_code == 302 and "X-Amz-Signature" in r.headers["Location"]
    r = client.get(f"/api/samples/{sid}/audition", headers=headers)
    assert r.status_code == 200 and len(r.data) > 44100


def test_the_cli(app, tmp_path, monkeypatch):
    from companion.cli import main

    cfg = app.config["SCRIPTHAMMER"]
    env = {"SCRIPTHAMMER_VAR_DIR": str(cfg.var_dir), "SCRIPTHAMMER_DATABASE_URL": cfg.database_url,
           "SCRIPTHAMMER_STORAGE_DIR": cfg.storage_dir, "SCRIPTHAMMER_REDIS_URL": cfg.redis_url}
    runner = CliRunner()
    take = write(tmp_path / "take.wav", hits([0.1, 0.7, 1.3], 2.0))
    r = runner.invoke(main, ["samples", "slice", str(take), "--instrument", "crash-drums", "--dry-run"], env=env)
    assert r.exit_code == 0, r.output
    assert [line.split("\t")[0] for line in r.output.strip().splitlines()] == ["1", "2", "3"]
    r = runner.invoke(main, ["samples", "slice", str(take), "--instrument", "crash-drums", "--name", "take",
                             "--roots", "36,38,42", "--as", "chops", "--licence", "CC0-1.0", "--source", "x"], env=env)
    assert r.exit_code == 1 and '"not_instrument_owner"' in r.output
    r = runner.invoke(main, ["samples", "slice", str(take), "--instrument", "crash-drums", "--name", "take",
                             "--roots", "36,38,42", "--as", "crash", "--source", "x"], env=env)
    assert r.exit_code == 1 and '"licence_required"' in r.output
    r = runner.invoke(main, ["samples", "slice", str(take), "--instrument", "crash-drums", "--name", "take",
                             "--roots", "36,38,42", "--as", "crash", "--licence", "CC0-1.0", "--source", "x"], env=env)
    assert r.exit_code == 0, r.output
    single = write(tmp_path / "ride.wav", tone(0.4, 3000.0))
    r = runner.invoke(main, ["samples", "add", str(single), "--instrument", "crash-drums", "--root", "51",
                             "--as", "crash", "--licence", "CC-BY-4.0", "--source", "y", "-m", "a ride"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["samples", "list", "--licence", "CC-BY-4.0"], env=env)
    assert [line.split("\t")[1] for line in r.output.strip().splitlines()] == ["crash-drums/normal/ride"]
    sid = int(r.output.split("\t")[0])
    r = runner.invoke(main, ["samples", "retire", str(sid), "-m", "too loud"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["samples", "history"], env=env)
    first = r.output.splitlines()[0].split("\t")
    assert first[2:] == ["ivory", "too loud"]
    assert "add 3 slices of take.wav" in r.output
    r = runner.invoke(main, ["samples", "history", "--verify"], env=env)
    assert r.exit_code == 0 and "3 commits, hash chain intact" in r.output
    out = tmp_path / "aud.wav"
    r = runner.invoke(main, ["samples", "audition", "1", "-o", str(out)], env=env)
    assert r.exit_code == 0, r.output
    import soundfile as sf
    assert sf.info(str(out)).duration == pytest.approx(2.8, abs=0.01)  # three hits a beat apart, and the tail


def test_the_band_default_instruments_move_into_the_library(app):
    import os

    from companion.samples.defaults import FONT, FONT_SHA256, migrate_defaults

    svc = svc_of(app)
    res = migrate_defaults(svc)
    assert res["instruments"] == ["brass-trumpet", "chops-guitar", "crash-bass", "crash-drums", "ivory-keys",
                                  "ivory-synth", "reed-alto-sax", "verse-vocoder"]
    assert res["commit"]["author"] == "setup"
    assert {c["sha256"] for c in res["commit"]["changes"]} == {FONT_SHA256}
    keys = list(svc.store.list("samples/"))
    assert keys == [f"samples/74/{FONT_SHA256}/sample.sf2"]  # stored once
    stored = svc.store.local_path(keys[0])
    assert os.path.samefile(stored, FONT)  # a hard link, not a 148 MB copy
    rows = S.list_samples(svc.db, kind="soundfont")
    assert {r["current"]["licence"] for r in rows} == {"MIT"}
    assert migrate_defaults(svc)["commit"] is None  # idempotent
    assert len(S.history(svc.db)) == 1
    assert S.check_instruments(svc.db) == []  # the shipped instrument files name exactly these
    # a reference the library does not confirm is named
    sid = next(r["id"] for r in rows if r["instrument"] == "crash-drums")
    S.retire(svc, S.Actor("crash", "member"), sid, "a kit of our own soon")
    assert [(p["instrument"], p["problem"]) for p in S.check_instruments(svc.db)] == [
        ("crash-drums", "retired (renders still find it by hash)")]
    import dataclasses

    from companion.algorithms.instruments import SampleRef, load_instruments
    trumpet = load_instruments()["brass-trumpet"]
    wrong = {"v2": dataclasses.replace(trumpet, soundfont=SampleRef("brass-trumpet/normal/fluidr3-gm", 2, FONT_SHA256)),
             "hash": dataclasses.replace(trumpet, soundfont=SampleRef("brass-trumpet/normal/fluidr3-gm", 1, "0" * 64)),
             "name": dataclasses.replace(trumpet, soundfont=SampleRef("brass-trumpet/normal/nope", 1, FONT_SHA256))}
    assert [p["problem"] for p in S.check_instruments(svc.db, wrong)] == [
        "the library has versions 1..1", f"version 1 is {FONT_SHA256[:12]}, not this hash", "not in the library"]


def test_scripthammer_migrate_puts_the_defaults_in_the_library(tmp_path):
    from companion.cli import main
    from companion.config import Config
    from companion.services import Services

    env = {"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")}
    r = CliRunner().invoke(main, ["migrate"], env=env)
    assert r.exit_code == 0, r.output
    assert "the default SoundFont for 8 instruments" in r.output
    svc = Services(Config(var_dir=tmp_path / "var"))
    try:
        assert len(S.list_samples(svc.db, kind="soundfont")) == 8
    finally:
        svc.close()
    r = CliRunner().invoke(main, ["samples", "check-instruments"], env=env)
    assert r.exit_code == 0 and "every sample the instrument files name is in the library" in r.output
    r = CliRunner().invoke(main, ["migrate"], env=env)
    assert r.exit_code == 0 and "default SoundFont" not in r.output


def test_renders_find_samples_by_hash_in_the_store_or_on_the_system(s3_app, tmp_path):
    """On S3 the library's objects are fetched (and their hash checked); the band's SoundFont comes
    from the system when the machine has it, not from a 148 MB download."""
    from companion.samples.defaults import FONT, FONT_SHA256
    from companion.samples.library import default_resolver

    svc = svc_of(s3_app)
    wav = write(tmp_path / "a4.wav", tone(0.3, 440.0))
    res = S.add(svc, S.Actor("ivory", "leader"), "ivory-keys", wav, "a4.wav", S.SampleMeta(root=69, **LIC))
    sha = res["changes"][0]["sha256"]
    resolver = default_resolver(svc.store, tmp_path / "dl")
    got = resolver.path(sha)
    assert got.is_relative_to(tmp_path / "dl") and got.read_bytes() == wav.read_bytes()
    assert resolver.path(FONT_SHA256) == FONT
    # a store object whose bytes are not what its name says is refused
    key = S.get_version(svc.db, res["changes"][0]["sample_id"])["key"]
    svc.store.put_bytes(key, b"tampered")
    with pytest.raises(ValueError, match="does not hold the bytes"):
        default_resolver(svc.store, tmp_path / "dl2").path(sha)


def test_concurrent_writers_keep_one_history_chain(db_kind, app, tmp_path):
    """Four members' adds at the same moment: every one lands, each commit on its own parent."""
    import threading

    svc = svc_of(app)
    files = [write(tmp_path / f"s{i}.wav", tone(0.2, 200.0 + 50 * i)) for i in range(4)]
    who = [("crash", "crash-drums"), ("ivory", "ivory-keys"), ("reed", "reed-alto-sax"), ("brass", "brass-trumpet")]
    errors, start = [], threading.Barrier(4)

    def add(i):
        try:
            start.wait()
            member, inst = who[i]
            S.add(svc, S.Actor(member, "member"), inst, files[i], files[i].name, S.SampleMeta(**LIC))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    hist = S.history(svc.db)
    assert len(hist) == 4 and len({c["parent"] for c in hist}) == 4
    assert S.verify_history(svc.db) == {"ok": True, "commits": 4, "broken": []}


def test_replacing_with_the_same_bytes_is_refused(app, tmp_path):
    svc = svc_of(app)
    wav = write(tmp_path / "k.wav", tone(0.2))
    sid = S.add(svc, S.Actor("crash", "member"), "crash-drums", wav, "k.wav", S.SampleMeta(**LIC))["changes"][0][
        "sample_id"]
    with pytest.raises(Exception) as err:
        S.replace(svc, S.Actor("crash", "member"), sid, wav, "k.wav", S.SampleMeta(**LIC))
    assert err.value.code == "unchanged"
    assert len(S.history(svc.db)) == 1


def test_migrate_says_so_when_the_default_soundfont_is_missing(tmp_path, monkeypatch):
    from companion.cli import main
    from companion.samples import defaults

    monkeypatch.setattr(defaults, "FONT", tmp_path / "nowhere.sf2")
    monkeypatch.setattr(defaults.migrate_defaults, "__defaults__", (None, tmp_path / "nowhere.sf2"))
    r = CliRunner().invoke(main, ["migrate"], env={"SCRIPTHAMMER_VAR_DIR": str(tmp_path / "var")})
    assert r.exit_code == 0, r.output
    assert "the default instruments were not added" in r.output and "fluid-soundfont-gm" in r.output
