"""The render API: render a generated piece through the job (stems, mixdown, SHF), publish it as a
track whose SHF joins it by a job of its own, preview its first seconds; who may do what, asked
before the body is read."""
from __future__ import annotations

import pytest
import sqlalchemy as sa


def jobs_of(app, kind):
    from companion.tasks.models import Job

    with app.extensions["scripthammer"].db.session() as s:
        return list(s.scalars(sa.select(Job).where(Job.kind == kind).order_by(Job.created_at)))


@pytest.fixture
def piece(app):
    """A short public piece the band wrote on a branch (through the domain call: the API's is tested in
    tests/algorithms); public, so that only the rights under test decide who may render it."""
    from companion.algorithms.base import Params
    from companion.algorithms.generate import generate
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store

    svc = app.extensions["scripthammer"]
    return generate(Store(svc.config.compositions_dir), svc.band, member_actor(svc.band, "ivory"),
                    title="Blue Dot Test", seed=8, measures=6, params=Params(tempo=150, mood="funky"),
                    visibility="public")


@pytest.fixture
def upload_token(app):
    from companion.band.signing import make_upload_token

    return lambda track_id: make_upload_token(app.config["SCRIPTHAMMER"].wp_shared_secret, track_id, user="editor")


@pytest.fixture
def two_tracks(app):
    from companion.catalog import service as catalog

    with app.extensions["scripthammer"].db.session() as s:
        return catalog.create_track(s, title="Track A").id, catalog.create_track(s, title="Track B").id


def test_render_publish_with_shf(client, auth, run_jobs, app, piece):
    r = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"],
                                                 "publish": True, "title": "Blue Dot Test"}, headers=auth("ivory"))
    assert r.status_code == 202, r.json
    job = r.json["job"]
    run_jobs()
    st = client.get(f"/api/render/renders/{job}", headers=auth("ivory")).json
    assert st["state"] == "finished" and st["progress"] == 100, st
    res = st["result"]
    assert {s["engine"] for s in res["stems"]} == {"fluidsynth", "supercollider"}
    assert abs(res["loudness_lufs"] + 14) <= 0.1
    shf = client.get(st["shf_url"], headers=auth("ivory"))
    assert shf.status_code == 200 and shf.data[:2] == b"PK"
    # the SHF joined the track after its release, by a job with a row of its own
    attach = client.get(f"/api/jobs/{res['shf_job']}", headers=auth("ivory")).json
    assert (attach["kind"], attach["state"], attach["progress"], attach["track_id"]) == \
        ("shf_attach", "finished", 100, res["track_id"])
    track = client.get(f"/api/tracks/{res['track_id']}", headers=auth("ivory")).json
    names = {r_["name"] for r_ in track.get("renditions", [])}
    assert "shf" in names and any(n.startswith("flac") or n.startswith("mp3") for n in names), names
    # the track is linked to the version it sounds, and its files carry that version's credits
    credits = client.get(f"/api/rights/tracks/{res['track_id']}/credits", headers=auth("ivory")).json
    assert credits["linked"] and (credits["composition"], credits["commit"]) == (piece["composition"], res["commit"])
    composers = [s_["name"] for s_ in credits["credits"]["shares"]]
    assert composers and "Chops" in composers
    import mutagen

    svc = app.extensions["scripthammer"]
    flac = next(r_ for r_ in track["renditions"] if r_["format"] == "flac")
    key = flac["url"].split("/media/", 1)[1].split("?", 1)[0]
    assert mutagen.File(str(svc.store.local_path(key)))["COMPOSER"] == composers
    # unchanged input: the second render does no work
    r2 = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"]},
                     headers=auth("ivory"))
    run_jobs()
    st2 = client.get(f"/api/render/renders/{r2.json['job']}", headers=auth("ivory")).json
    assert st2["result"]["cached"] is True and st2["result"]["render_key"] == res["render_key"]


def test_preview_is_fmp4_hls_signed_for_the_member(client, auth, piece):
    from urllib.parse import urljoin, urlsplit

    import m3u8

    p = client.post("/api/render/preview", json={"composition": piece["composition"], "rev": piece["branch"],
                                                 "seconds": 4}, headers=auth("reed"))
    assert p.status_code == 200, p.json
    assert p.json["segments"] and p.json["first_segment_s"] < 30
    url = p.json["playlist_url"]
    assert "sig=" in url  # a private object of the band's: signed for the member who asked
    unsigned = urlsplit(url).path
    assert client.get(unsigned).status_code == 404  # nobody gets it by its key alone

    def get(u):
        parts = urlsplit(urljoin(url, u))
        return client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    playlist = get(url)
    assert playlist.status_code == 200
    pl = m3u8.loads(playlist.data.decode())
    assert pl.is_endlist and pl.segment_map and urlsplit(pl.segment_map[0].uri).path.endswith(".mp4")
    assert pl.segments and all(urlsplit(s.uri).path.endswith(".m4s") for s in pl.segments)
    init = get(pl.segment_map[0].uri).data
    first = get(pl.segments[0].uri).data
    assert init[4:8] == b"ftyp" and first[4:8] == b"styp" and b"moof" in first[:256]  # fMP4, not MPEG-TS


# ------------------------------------------------------------------ who may do what, before the body

@pytest.mark.parametrize("path, body", [
    ("/api/render/renders", {}), ("/api/render/renders", {"composition": 5, "settings": "loud"}),
    ("/api/render/preview", {}), ("/api/render/preview", {"seconds": "many"}),
    ("/api/algorithms/generations", {}), ("/api/algorithms/generations", {"seed": "x"}),
])
def test_anonymous_writes_get_401_before_their_body_is_validated(client, app, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 401 and r.json["code"] == "auth_required", r.json
    assert jobs_of(app, "render") == [] and jobs_of(app, "generate") == []


def test_a_listener_is_refused_before_its_body_is_validated(client, auth):
    assert client.post("/api/render/preview", json={"seconds": "many"}, headers=auth("listener")).status_code == 403
    assert client.post("/api/algorithms/generations", json={"seed": "x"}, headers=auth("listener")).status_code == 403


def test_an_upload_token_cannot_publish_into_another_track(client, app, piece, two_tracks, upload_token):
    a, b = two_tracks
    for body in ({"track_id": b}, {}):  # another track, or a new one
        r = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"],
                                                     "publish": True, **body},
                        headers={"Authorization": f"Bearer {upload_token(a)}"})
        assert r.status_code == 403 and r.json["code"] == "wrong_track", r.json
    # a render that is not a publish needs a band right the token does not have
    r = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"]},
                    headers={"Authorization": f"Bearer {upload_token(a)}"})
    assert r.status_code == 403
    assert jobs_of(app, "render") == []  # nothing queued
    # its own track: queued, aimed at that track
    r = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"],
                                                 "publish": True, "track_id": a},
                    headers={"Authorization": f"Bearer {upload_token(a)}"})
    assert r.status_code == 202, r.json
    (job,) = jobs_of(app, "render")
    assert job.track_id == a and job.params["track_id"] == a


def test_publish_into_a_track_that_does_not_exist_is_404(client, app, auth, piece):
    r = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"],
                                                 "publish": True, "track_id": 99999}, headers=auth("ivory"))
    assert r.status_code == 404 and r.json["code"] == "track_not_found"
    assert jobs_of(app, "render") == []


def test_a_missing_engine_fails_the_job_at_once_not_retried(client, app, auth, run_jobs, piece, tmp_path,
                                                              monkeypatch):
    import shutil

    tools = tmp_path / "bin"  # the machine's tools, less scsynth
    tools.mkdir()
    for t in ("ffmpeg", "ffprobe", "fluidsynth", "espeak-ng"):
        (tools / t).symlink_to(shutil.which(t))
    from companion.render.engines import SuperColliderEngine

    SuperColliderEngine.version.cache_clear()
    monkeypatch.setenv("PATH", str(tools))
    r = client.post("/api/render/renders", json={"composition": piece["composition"], "rev": piece["branch"],
                                                 "settings": {"engine": "supercollider"}}, headers=auth("ivory"))
    assert r.status_code == 202
    run_jobs()
    (job,) = jobs_of(app, "render")
    assert (job.state, job.error_code, job.attempts) == ("failed", "engine_missing", 1), job.error_message
    assert "scsynth is not installed" in job.error_message
    monkeypatch.undo()
    SuperColliderEngine.version.cache_clear()
