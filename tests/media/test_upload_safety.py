"""Hostile uploads through the API (POST /api/tracks/<id>/upload): files that make ffmpeg read
other files or URLs are refused before any tool opens them, and no refusal names a path here."""
from __future__ import annotations

import io
import json
import tempfile
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import make_audio


def hostile_files(url: str) -> dict[str, tuple[str, bytes]]:
    """case: (the name the uploader gives it, its bytes)."""
    return {
        "hls_local_file": ("orbit.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
                                         b"#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"),
        "hls_http": ("orbit.m3u8", f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{url}/seg0.ts\n"
                                   f"#EXTINF:4.0,\n{url}/seg1.ts\n#EXT-X-ENDLIST\n".encode()),
        "hls_named_wav": ("take.wav", f"#EXTM3U\n#EXTINF:4.0,\n{url}/seg0.wav\n#EXT-X-ENDLIST\n".encode()),
        "concat_list": ("parts.wav", f"file '/etc/passwd'\nfile '{url}/part2.wav'\n".encode()),
        "ffconcat": ("parts.ffconcat", f"ffconcat version 1.0\nfile {url}/a.wav\nfile /etc/passwd\n".encode()),
        "ffconcat_named_mp3": ("parts.mp3", b"ffconcat version 1.0\nfile /etc/passwd\nduration 3\n"),
        "sdp": ("session.sdp", b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\n"
                               b"m=audio 5004 RTP/AVP 0\n"),
        "url_list_named_flac": ("take.flac", f"{url}/stream.flac\n".encode()),
    }


def store_keys(app) -> list[str]:
    return sorted(app.extensions["scripthammer"].store.list(""))


def queued(app) -> tuple[int, int]:
    """(job rows, RQ jobs waiting)."""
    from companion.tasks.models import Job

    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        rows = s.scalar(sa.select(sa.func.count()).select_from(Job))
    return rows, svc.queue("release").count


def upload(client, auth, track_id: int, name: str, data: bytes):
    return client.post(f"/api/tracks/{track_id}/upload", data={"file": (io.BytesIO(data), name)},
                       headers=auth("ivory"), content_type="multipart/form-data")


def test_files_that_point_at_other_files_or_urls_are_refused(client, auth, app, listener):
    from companion.media.ffmpeg import RUNS

    t = client.post("/api/tracks", json={"title": "Trojan"}, headers=auth("ivory")).get_json()
    before_keys, before_queue = store_keys(app), queued(app)
    for case, (name, data) in hostile_files(listener.url).items():
        runs = RUNS.copy()
        r = upload(client, auth, t["id"], name, data)
        body = r.get_json()
        assert r.status_code == 415, (case, body)
        assert body["code"] == "reference_file", (case, body)
        assert name in body["message"] and "not a recording" in body["message"]
        assert RUNS - runs == {}, case  # neither ffprobe nor ffmpeg opened it
    assert store_keys(app) == before_keys  # nothing stored
    assert queued(app) == before_queue == (0, 0)  # nothing queued
    track = client.get(f"/api/tracks/{t['id']}", headers=auth("ivory")).get_json()
    assert track["status"] == "empty" and track["renditions"] == []
    assert listener.hits == []  # the local HTTP server was never contacted
    # ...and it does record what reaches it:
    urllib.request.urlopen(listener.url + "/control", timeout=5).read()
    assert listener.hits == [("GET", "/control")]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("uploads")
    wav = make_audio(d / "take.wav", seconds=2.0)
    flac = make_audio(d / "take.flac", seconds=2.0, codec_args=("-c:a", "flac"))
    mp3 = make_audio(d / "take.mp3", seconds=2.0, codec_args=("-c:a", "libmp3lame"))
    mka = make_audio(d / "take.mka", seconds=1.0, codec_args=("-c:a", "flac"))
    return {"wav": wav.read_bytes(), "flac": flac.read_bytes(), "mp3": mp3.read_bytes(), "mka": mka.read_bytes()}


def refusals(rec: dict[str, bytes]) -> list[tuple[str, bytes, int, str]]:
    """(name, bytes, status, code) for every refusal an upload can get from the probe."""
    return [
        ("notes.wav", b"These are the lyrics, not the recording.\n" * 20, 415, "not_audio"),
        ("cover.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 415, "not_audio"),
        ("empty.wav", b"", 422, "empty"),
        ("cut.wav", rec["wav"][: len(rec["wav"]) // 2], 422, "truncated"),
        ("cut.flac", rec["flac"][:60], 422, "truncated"),  # ffprobe fails: its message is passed on
        ("cut.mp3", rec["mp3"][: len(rec["mp3"]) // 2], 422, "truncated"),  # the decoder stops early
        ("liar.mp3", rec["wav"], 415, "extension_mismatch"),
        ("take.mka", rec["mka"], 415, "unsupported_format"),
        ("orbit.m3u8", b"#EXTM3U\n#EXTINF:4,\nfile:///etc/passwd\n", 415, "reference_file"),
    ]


def test_no_refusal_names_a_path_on_the_server(client, auth, app, recordings):
    svc = app.extensions["scripthammer"]
    secret_places = {str(svc.config.var_dir), str(svc.config.work_dir), str(Path(svc.config.var_dir).resolve()),
                     tempfile.gettempdir().rstrip("/") + "/", "/tmp/", "/var/", "/work/", "up-"}
    t = client.post("/api/tracks", json={"title": "Paths"}, headers=auth("ivory")).get_json()
    seen = set()
    for name, data, status, code in refusals(recordings):
        r = upload(client, auth, t["id"], name, data)
        body = r.get_json()
        assert (r.status_code, body["code"]) == (status, code), (name, body)
        assert set(body) == {"status", "code", "message", "details"}
        text = json.dumps(body)
        leaked = [p for p in secret_places if p in text]
        assert leaked == [], (name, leaked, body)
        assert name in body["message"] or body["details"].get("filename") == name
        seen.add(code)
        if name == "cut.flac":
            assert body["details"]["tool_message"]  # the tool's words are kept, its paths are not
    assert seen == {"not_audio", "empty", "truncated", "extension_mismatch", "unsupported_format", "reference_file"}
    assert queued(app) == (0, 0)
