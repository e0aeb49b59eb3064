"""The render API: generate a piece (a branch, one commit per member), render it through the job
(stems, mixdown, SHF), publish it as a track with an SHF download, preview its first seconds."""
from __future__ import annotations

import pytest


@pytest.fixture
def api_app(app):
    """The app with this blueprint (the lead registers it in companion/app.py; tests do not wait)."""
    from companion.render.api import blp

    if "render" not in app.blueprints:
        api = next(iter(app.extensions["flask-smorest"]["blp_name_to_api"].values()))
        api.register_blueprint(blp)
    return app


@pytest.fixture
def api(api_app):
    return api_app.test_client()


def test_generate_render_publish_with_shf(api, auth, run_jobs, app):
    r = api.post("/api/render/generate", json={"title": "Blue Dot Test", "seed": 8, "measures": 6,
                                               "params": {"tempo": 150, "mood": "funky"}}, headers=auth("ivory"))
    assert r.status_code == 201, r.json
    gen = r.json
    assert [c["member"] for c in gen["commits"]][:3] == ["form", "ivory", "chops"]
    hist = api.get(f"/api/compositions/{gen['composition']}/history?rev={gen['branch']}", headers=auth("ivory"))
    if hist.status_code == 200:
        authors = {h["author"] for h in hist.json}
        assert {"crash", "chops", "form"} <= authors
    r = api.post("/api/render/renders", json={"composition": gen["composition"], "rev": gen["branch"],
                                              "publish": True, "title": "Blue Dot Test"}, headers=auth("ivory"))
    assert r.status_code == 202, r.json
    job = r.json["job"]
    run_jobs()
    st = api.get(f"/api/render/renders/{job}", headers=auth("ivory")).json
    assert st["state"] == "finished", st
    res = st["result"]
    assert {s["engine"] for s in res["stems"]} == {"fluidsynth", "supercollider"}
    assert abs(res["loudness_lufs"] + 14) < 0.6
    shf = api.get(st["shf_url"], headers=auth("ivory"))
    assert shf.status_code == 200 and shf.data[:2] == b"PK"
    track = api.get(f"/api/tracks/{res['track_id']}", headers=auth("ivory")).json
    names = {r_["name"] for r_ in track.get("renditions", [])}
    assert "shf" in names and any(n.startswith("flac") or n.startswith("mp3") for n in names), names
    # unchanged input: the second render does no work
    r2 = api.post("/api/render/renders", json={"composition": gen["composition"], "rev": gen["branch"]},
                  headers=auth("ivory"))
    run_jobs()
    st2 = api.get(f"/api/render/renders/{r2.json['job']}", headers=auth("ivory")).json
    assert st2["result"]["cached"] is True and st2["result"]["render_key"] == res["render_key"]


def test_preview_and_rights(api, auth):
    r = api.post("/api/render/generate", json={"title": "Preview", "seed": 2, "measures": 8}, headers=auth("ivory"))
    gen = r.json
    p = api.post("/api/render/preview", json={"composition": gen["composition"], "rev": gen["branch"],
                                              "seconds": 4}, headers=auth("reed"))
    assert p.status_code == 200, p.json
    assert p.json["segments"] and p.json["first_segment_s"] < 30
    assert api.get(p.json["playlist_url"]).status_code == 200
    assert api.post("/api/render/generate", json={"seed": 1}, headers=auth("listener")).status_code == 403
    assert api.post("/api/render/generate", json={"seed": 1}).status_code == 401
    bad = api.post("/api/render/generate", json={"seed": 1, "params": {"mood": "sleepy"}}, headers=auth("ivory"))
    assert bad.status_code == 400 and bad.json["code"] == "bad_params"
