"""A/B forensic stream variants, served for real: premium tracks are released with two marked
variants of their HLS ladder, each listener's playlist (over HTTP, with listener tokens) takes
its own sequence of variants, and a capture of what one listener was served names them.

One companion for the module: a 60 s premium track (2 s segments, so a capture of a minute holds
30 segments; a ladder of two rungs of which only 96 kbit/s is marked, ``ab_bitrates``), a short
premium track the fans are not entitled to, and a public track, all released through the real
pipeline on RQ. (The access catalog of tests/access/conftest.py marks every rung, the default.)
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from tests.access.conftest import Catalog, _release
from tests.conftest import build_config, prepare

ROOT = Path(__file__).resolve().parents[2]
FANS = (501, 502)  # entitled to the marked track
STRANGER = 503  # entitled to nothing


@pytest.fixture(scope="module")
def ab(tmp_path_factory, redis_url):
    from companion import create_app
    from jobs import context

    tmp = tmp_path_factory.mktemp("ab-streams")
    config = build_config(tmp, f"sqlite:///{tmp / 'companion.db'}", redis_url, hls_bitrates="48,96",
                          hls_segment_seconds=2, ab_bitrates="96")
    tokens = prepare(config)
    app = create_app(config)
    client = app.test_client()
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    album = client.post("/api/albums", json={"title": "Traces", "release_state": "public"}, headers=h).get_json()
    ids = _release(app, tokens, config, album["id"], [("Marked", "premium", 60.0), ("Elsewhere", "premium", 8.0),
                                                     ("Open", "public", 5.0)])
    cat = Catalog(app, config, tokens, album["id"], ids)
    for fan in FANS:
        cat.entitle(fan, f"track:{ids['Marked']}")
    yield cat
    context.configure(None)
    app.extensions["scripthammer"].close()


def _get(cat: Catalog, url: str, headers: dict | None = None):
    """GET an absolute or /media URL through the test client (path and query)."""
    parts = urlsplit(url)
    return cat.client.get(parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})


def _listener_id(cat: Catalog, wp_user_id: int) -> int:
    from companion.access import service

    with cat.svc.db.session() as s:
        return service.listener_for(s, wp_user_id).id


@dataclasses.dataclass
class Served:
    """What one listener's player fetched of one rung: the playlist's URLs and the bytes."""

    master_url: str
    playlist_url: str
    init_url: str
    segment_urls: list[str]
    data: bytes


def _play(cat: Catalog, wp_user_id: int, name: str = "Marked", rung: int = 0) -> Served:
    """As a listener's player does: the track, its master playlist, one rung, its init and segments."""
    h = cat.listener(wp_user_id)
    track = cat.client.get(f"/api/tracks/{cat.tracks[name]}", headers=h).get_json()
    master_url = track["hls_url"]
    assert master_url, track
    r = _get(cat, master_url)
    assert r.status_code == 200, r.get_data(as_text=True)
    lines = [ln for ln in r.get_data(as_text=True).splitlines() if ln and not ln.startswith("#")]
    playlist_url = urljoin(master_url, lines[rung])
    r = _get(cat, playlist_url)
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text).group(1)
    segs = [urljoin(playlist_url, ln) for ln in text.splitlines() if ln and not ln.startswith("#")]
    data = bytearray()
    for url in [urljoin(playlist_url, init), *segs]:
        got = _get(cat, url)
        assert got.status_code == 200, url
        data += got.data
    return Served(master_url, playlist_url, urljoin(playlist_url, init), segs, bytes(data))


def _key(url: str) -> str:
    return urlsplit(url).path[len("/media/"):]


def _query(url: str) -> str:
    return urlsplit(url).query


def _description(cat: Catalog) -> dict:
    row = cat.row("Marked")
    return json.loads(cat.svc.store.get_bytes(row.ab_hls_key.rsplit("/", 1)[0] + "/ab.json"))


def test_a_premium_release_makes_both_marked_variants_of_the_marked_rungs(ab):
    row = ab.row("Marked")
    assert row.ab_hls_key and row.ab_hls_key.startswith("hls-ab/") and row.ab_hls_key.endswith("/master.m3u8")
    doc = _description(ab)
    assert [v["bitrate"] for v in doc["variants"]] == [96000]  # ab_bitrates: only the 96 kbit/s rung
    master = ab.svc.store.get_bytes(doc["master_key"]).decode()
    assert [ln for ln in master.splitlines() if ln and not ln.startswith("#")] == ["a096k.m3u8"]
    for v in doc["variants"]:
        assert len(v["segments"]) >= 29  # 60 s in 2 s segments
        for a, b in v["segments"]:
            assert a != b and ab.svc.store.exists(f"{doc['prefix']}/{a}") and ab.svc.store.exists(f"{doc['prefix']}/{b}")
            # the two variants' bytes differ (the marks), and their names say nothing of which is which
            assert re.fullmatch(r"[0-9a-f]{24}\.m4s", a) and re.fullmatch(r"[0-9a-f]{24}\.m4s", b)
    a0, b0 = doc["variants"][0]["segments"][3]
    assert ab.svc.store.get_bytes(f"{doc['prefix']}/{a0}") != ab.svc.store.get_bytes(f"{doc['prefix']}/{b0}")
    # the public track is streamed unmarked, as before
    assert ab.row("Open").ab_hls_key is None


def test_a_release_again_makes_nothing_new(ab):
    from companion.media.release import release_track

    store = ab.svc.store
    before = sorted(store.list("hls-ab/"))
    summary = release_track(ab.svc, ab.tracks["Marked"])
    assert summary["cached"] is True and summary["ab_variants"] == 1
    assert sorted(store.list("hls-ab/")) == before
    assert ab.row("Marked").ab_hls_key == _description(ab)["master_key"]


def test_each_listener_is_served_their_own_sequence_and_the_public_stream_is_unchanged(ab):
    from companion.rights.streams import listener_bits

    first, second = (_play(ab, fan) for fan in FANS)
    assert "/media/hls-ab/" in first.master_url and "sig=" in first.master_url
    assert len(first.segment_urls) == len(second.segment_urls) >= 29
    doc = _description(ab)
    pairs = doc["variants"][0]["segments"]
    for fan, served in zip(FANS, (first, second)):
        lid = f"l.{_listener_id(ab, fan)}"
        assert parse_qs(_query(served.playlist_url))["lid"] == [lid]
        bits = listener_bits(ab.svc.config.stream_mark_key.encode(), doc["ab"], lid, len(pairs))
        assert [_key(u).rsplit("/", 1)[1] for u in served.segment_urls] == [p[b] for p, b in zip(pairs, bits)]
    differ = [i for i, (x, y) in enumerate(zip(first.segment_urls, second.segment_urls)) if _key(x) != _key(y)]
    assert 5 <= len(differ) <= len(pairs) - 5  # two keyed random sequences: about half differ
    # the public track: a plain ladder URL, anyone gets the same playlist
    anon = ab.client.get(f"/api/tracks/{ab.tracks['Open']}").get_json()
    assert anon["hls_url"].startswith("http") and "/media/hls/" in anon["hls_url"] and "sig=" not in anon["hls_url"]
    assert _get(ab, anon["hls_url"]).status_code == 200
    # anonymous callers get no stream of the premium track, only its preview
    locked = ab.client.get(f"/api/tracks/{ab.tracks['Marked']}").get_json()
    assert locked["hls_url"] is None and locked["preview_url"]


def _capture(tmp_path: Path, served: Served, name: str) -> Path:
    """The served fMP4 stream as a listener's recorder keeps it (decoded to FLAC: a re-encode)."""
    raw = tmp_path / f"{name}.mp4"
    raw.write_bytes(served.data)
    out = tmp_path / f"{name}.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), str(out)], check=True)
    return out


def test_trace_over_the_served_segments_names_the_listener_and_not_the_other(ab, tmp_path):
    h = ab.auth("ivory")
    for fan, other in (FANS, FANS[::-1]):
        path = _capture(tmp_path, _play(ab, fan), f"fan-{fan}")
        with open(path, "rb") as fh:
            r = ab.client.post(f"/api/rights/trace?track_id={ab.tracks['Marked']}", headers=h,
                               data={"file": (fh, path.name)}, content_type="multipart/form-data")
        assert r.status_code == 200, r.get_json()
        out = r.get_json()
        assert out["found"] is True and out["listener"]["wp_user_id"] == fan, out
        assert out["principal"] == f"l.{_listener_id(ab, fan)}" != f"l.{_listener_id(ab, other)}"
        assert out["segments_read"] >= 25 and out["agreement"] >= 0.9


def test_trace_refuses_what_it_cannot_read_and_callers_without_the_right(ab, tmp_path):
    path = _capture(tmp_path, _play(ab, FANS[0]), "fan")
    url = f"/api/rights/trace?track_id={ab.tracks['Marked']}"
    with open(path, "rb") as fh:  # a listener may not trace (it names other listeners)
        r = ab.client.post(url, headers=ab.listener(FANS[0]), data={"file": (fh, "x.flac")},
                           content_type="multipart/form-data")
    assert r.status_code == 403
    with open(path, "rb") as fh:  # an API token without rights.detect
        r = ab.client.post(url, headers=ab.auth("listener"), data={"file": (fh, "x.flac")},
                           content_type="multipart/form-data")
    assert r.status_code == 403
    r = ab.client.post(url, data=b"x")
    assert r.status_code == 401
    h = ab.auth("ivory")
    r = ab.client.post(url, headers=h, data=b"not audio at all", content_type="application/octet-stream")
    assert r.status_code == 400 and r.get_json()["code"] == "not_audio"
    r = ab.client.post(f"/api/rights/trace?track_id={ab.tracks['Open']}", headers=h, data=path.read_bytes(),
                       content_type="application/octet-stream")
    assert r.status_code == 400 and r.get_json()["code"] == "no_ab_streams"
    r = ab.client.post("/api/rights/trace?track_id=999999", headers=h, data=path.read_bytes(),
                       content_type="application/octet-stream")
    assert r.status_code == 404 and r.get_json()["code"] == "track_not_found"
    # the unmarked recording names nobody
    src = ab.svc.store.get_bytes(ab.row("Marked").source_key)
    r = ab.client.post(url, headers=h, data=src, content_type="application/octet-stream")
    assert r.status_code == 200 and r.get_json()["found"] is False and r.get_json()["listener"] is None


def test_the_cli_traces_a_capture(ab, tmp_path):
    path = _capture(tmp_path, _play(ab, FANS[1]), "cli")
    env = dict(os.environ)
    env.update({"SCRIPTHAMMER_" + f.name.upper(): str(getattr(ab.config, f.name))
                for f in dataclasses.fields(ab.config)})
    cli = [sys.executable, "-m", "companion.cli", "rights", "trace", "--track", str(ab.tracks["Marked"])]
    proc = subprocess.run([*cli, str(path)], env=env, capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert json.loads(proc.stdout)["listener"]["wp_user_id"] == FANS[1]
    junk = tmp_path / "notes.txt"
    junk.write_text("no audio here")
    proc = subprocess.run([*cli, str(junk)], env=env, capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2 and json.loads(proc.stderr)["error"] == "not_audio"


def _with(url: str, **changes) -> str:
    """``url`` with query parameters replaced."""
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q.update(changes)
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in q.items())


def test_a_listener_cannot_have_another_listeners_playlist(ab):
    first = _play(ab, FANS[0])
    other = f"l.{_listener_id(ab, FANS[1])}"
    for url in (first.master_url, first.playlist_url):
        r = ab.client.get(_with(url, lid=other))
        assert r.status_code == 404 and r.get_json()["code"] == "media_not_found"
    # and the playlist without a signature, with the listener's own token: nothing
    r = ab.client.get(urlsplit(first.playlist_url).path, headers=ab.listener(FANS[0]))
    assert r.status_code == 404


def test_a_listener_cannot_fetch_the_other_variant_of_a_segment(ab):
    first = _play(ab, FANS[0])
    doc = _description(ab)
    pairs = doc["variants"][0]["segments"]
    h = ab.listener(FANS[0])
    for url in first.segment_urls[:6]:
        name = _key(url).rsplit("/", 1)[1]
        pair = next(p for p in pairs if name in p)
        other_key = f"{doc['prefix']}/{pair[1 - pair.index(name)]}"
        assert ab.client.get(f"/media/{other_key}?{_query(url)}").status_code == 404  # their signature, the other object
        assert ab.client.get(f"/media/{other_key}", headers=h).status_code == 404  # no signature, their token
        assert ab.client.get(f"/media/{other_key}").status_code == 404  # anonymous
        assert ab.client.get(url).status_code == 200  # their own, as served
    # the band reads every object of its tracks unsigned (as for the plain ladder)
    assert ab.client.get(f"/media/{doc['prefix']}/{pairs[0][1]}", headers=ab.auth("ivory")).status_code == 200


def test_no_variants_of_a_track_the_listener_is_not_entitled_to(ab):
    first = _play(ab, FANS[0])
    elsewhere = ab.row("Elsewhere")
    assert elsewhere.ab_hls_key  # premium: it has its variants
    got = ab.client.get(f"/api/tracks/{ab.tracks['Elsewhere']}", headers=ab.listener(FANS[0])).get_json()
    assert got["hls_url"] is None and got["access"]["why"] == "locked"
    stranger = ab.client.get(f"/api/tracks/{ab.tracks['Marked']}", headers=ab.listener(STRANGER)).get_json()
    assert stranger["hls_url"] is None
    folder = elsewhere.ab_hls_key.rsplit("/", 1)[0]
    doc = json.loads(ab.svc.store.get_bytes(folder + "/ab.json"))
    keys = [doc["master_key"], doc["variants"][0]["playlist_key"], f"{folder}/{doc['variants'][0]['segments'][0][0]}",
            f"{folder}/{doc['variants'][0]['segments'][0][1]}"]
    for key in keys:  # the fan's valid signature of another object opens none of them
        assert ab.client.get(f"/media/{key}?{_query(first.master_url)}").status_code == 404
        assert ab.client.get(f"/media/{key}", headers=ab.listener(FANS[0])).status_code == 404


def test_a_premium_release_with_a_too_short_stream_key_fails_clearly_and_stores_nothing(ab):
    from rq import SimpleWorker

    from jobs import context
    from tests.conftest import make_audio

    cfg = ab.svc.config
    saved = cfg.stream_mark_key
    h = ab.auth("ivory")
    t = ab.client.post("/api/tracks", json={"title": f"Keyless {uuid.uuid4().hex[:6]}", "release_state": "premium"},
                       headers=h).get_json()
    wav = make_audio(cfg.var_dir / "keyless.wav", seconds=5.0, volume_db=-9)
    before = sorted(ab.svc.store.list("hls/"))
    cfg.stream_mark_key = "too-short"
    try:
        with open(wav, "rb") as fh:
            r = ab.client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, wav.name)}, headers=h,
                               content_type="multipart/form-data")
        assert r.status_code == 202
        context.configure(cfg)
        ab.svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    finally:
        cfg.stream_mark_key = saved
    got = ab.client.get(f"/api/tracks/{t['id']}", headers=h).get_json()
    assert got["status"] == "failed" and got["error"]["code"] == "stream_mark_key_missing", got
    assert "SCRIPTHAMMER_STREAM_MARK_KEY" in got["error"]["message"]
    assert sorted(ab.svc.store.list("hls/")) == before  # refused before any encoding


def test_the_stream_key_comes_from_the_environment_or_the_machine(tmp_path):
    from companion.config import Config
    from companion.media.abstreams import StreamKeyMissing, stream_key

    # unset: the machine's own key, made once (0600) and the same for every later call
    machine = stream_key(Config.from_env({}, var_dir=tmp_path))
    path = tmp_path / "keys" / "stream-mark.key"
    assert len(machine) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert stream_key(Config.from_env({}, var_dir=tmp_path)) == machine
    # configured: it wins, and one too short is refused clearly
    with pytest.raises(StreamKeyMissing) as exc:
        stream_key(Config.from_env({"SCRIPTHAMMER_STREAM_MARK_KEY": "short"}, var_dir=tmp_path))
    assert exc.value.code == "stream_mark_key_missing"
    key = "k" * 32
    assert stream_key(Config.from_env({"SCRIPTHAMMER_STREAM_MARK_KEY": key}, var_dir=tmp_path)) == key.encode()
    assert Config.from_env({"SCRIPTHAMMER_STREAM_MARK_KEY": key}).public()["stream_mark_key"] == "***"


def test_a_track_made_premium_after_its_release_gets_its_variants(ab):
    from rq import SimpleWorker

    from jobs import context

    h = ab.auth("ivory")
    tid = ab.tracks["Open"]
    assert ab.row("Open").ab_hls_key is None
    r = ab.client.patch(f"/api/tracks/{tid}", json={"release_state": "premium"}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "ready"  # still streams (its ladder, signed) meanwhile
    try:
        context.configure(ab.config)
        ab.svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
        row = ab.row("Open")
        assert row.status == "ready" and row.ab_hls_key and row.ab_hls_key.startswith("hls-ab/")
        ab.entitle(FANS[0], f"track:{tid}")
        got = ab.client.get(f"/api/tracks/{tid}", headers=ab.listener(FANS[0])).get_json()
        assert "/media/hls-ab/" in got["hls_url"] and "sig=" in got["hls_url"]
    finally:
        ab.client.patch(f"/api/tracks/{tid}", json={"release_state": "public"}, headers=h)
    # public again: everyone gets the plain ladder, unsigned
    got = ab.client.get(f"/api/tracks/{tid}").get_json()
    assert "/media/hls/" in got["hls_url"] and "sig=" not in got["hls_url"]
