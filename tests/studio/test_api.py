"""The studio's API without a browser: rights, hostile input, nothing half-written."""
from __future__ import annotations

import struct

import pytest


@pytest.fixture
def client(live):
    return live.app.test_client()


def test_model_says_what_each_caller_may_change(live, client):
    cid = live.make_song()
    m = client.get(f"/api/studio/{cid}/model", headers=live.auth("crash")).get_json()
    assert [(p["id"], p["editable"], p["locked_reason"]) for p in m["parts"]] == [
        ("piano", False, "part_forbidden"), ("bass", True, None), ("guitar", False, "part_forbidden")]
    assert m["identity"]["can_merge_main"] is False and m["identity"]["can_merge"] is True
    assert m["parts"][1]["measures"]["1"][0] == {"kind": "note", "onset": "0", "pitch": "C2", "midi": 36,
                                                  "duration": "2", "velocity": 90}
    assert m["grid"][0] == {"measure": 1, "start": "0", "start_q": 0.0, "length": "4", "length_q": 4.0, "meter": "4/4"}
    # an old version is never editable
    old = m["version"]["parents"][0]
    m = client.get(f"/api/studio/{cid}/model?rev={old}", headers=live.auth("ivory")).get_json()
    assert m["writable"] is False and m["write_refused"] == "not_branch_head"
    # private: anonymous 401, a fan 403
    assert client.get(f"/api/studio/{cid}/model").status_code == 401
    r = client.get(f"/api/studio/{cid}/model", headers=live.auth("listener"))
    assert r.status_code == 403 and r.get_json()["code"] == "private_composition"


def test_check_refuses_like_the_commit_api_and_writes_nothing(live, client):
    cid = live.make_song()
    repo = live.store.repo(cid)
    head = live.store.head(repo, "main")
    ok = client.post(f"/api/studio/{cid}/check", headers=live.auth("crash"), json={
        "parent": head, "changes": {"parts": {"bass": {"measures": {"3": [{"onset": "0", "pitch": "E2",
                                                                          "duration": "1", "velocity": 90}]}}}}})
    assert ok.status_code == 200 and ok.get_json()["touched"] == ["bass"] and ok.get_json()["stale"] is False
    bad = client.post(f"/api/studio/{cid}/check", headers=live.auth("crash"), json={
        "parent": head, "changes": {"parts": {"guitar": {"measures": {"3": "0 C4 1 v80"}}}}})
    assert bad.status_code == 403 and bad.get_json()["code"] == "part_forbidden"
    assert bad.get_json()["details"]["owner"] == "chops"
    hostile = client.post(f"/api/studio/{cid}/check", headers=live.auth("crash"), json={
        "parent": head, "changes": {"parts": {"bass": {"measures": {"3": [{"onset": "x", "pitch": "H9"}]}}}}})
    assert hostile.status_code == 400 and hostile.get_json()["code"] == "bad_events"
    assert set(hostile.get_json()) >= {"status", "code", "message"}
    # no right: refused before the body is read (a listener, and a body that is not even JSON)
    r = client.post(f"/api/studio/{cid}/check", headers={**live.auth("listener"), "Content-Type": "application/json"},
                    data=b"{not json")
    assert r.status_code == 403 and r.get_json()["code"] == "missing_right"
    assert live.store.head(repo, "main") == head  # nothing was written


def test_preview_draws_unsent_edits_and_writes_nothing(live, client):
    cid = live.make_song()
    head = live.store.head(live.store.repo(cid), "main")
    r = client.post(f"/api/studio/{cid}/preview", headers=live.auth("ivory"), json={
        "rev": head, "changes": {"parts": {"piano": {"measures": {"4": "0 A4 4 v80"}}}}})
    assert r.status_code == 200 and b"<score-partwise" in r.data
    before = client.get(f"/api/compositions/{cid}/export?rev={head}&format=musicxml", headers=live.auth("ivory")).data
    assert r.data.count(b"<step>A</step>") == before.count(b"<step>A</step>") + 1
    assert live.store.head(live.store.repo(cid), "main") == head
    assert client.post(f"/api/studio/{cid}/preview", json={"rev": head, "changes": {}}).status_code == 401


def test_soundfont_holds_only_the_parts_presets(live, client):
    cid = live.make_song()
    r = client.get(f"/api/studio/{cid}/soundfont.sf2", headers=live.auth("ivory"))
    assert r.status_code == 200 and r.data[:4] == b"RIFF" and r.data[8:12] == b"sfbk"
    from companion.samples.formats.sf2 import parse
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.sf2"
        p.write_bytes(r.data)
        idx = parse(p)
        phdr = idx.pdta[b"phdr"]
        with open(p, "rb") as fh:
            fh.seek(phdr[0])
            raw = fh.read(phdr[1])
    presets = {(b, prog) for _, prog, b, *_ in struct.iter_unpack("<20sHHHIII", raw)}
    assert {(0, 0), (0, 33), (0, 27)} <= presets and len(presets) <= 4  # the three parts (+ the EOP record)
    assert len(r.data) < 40_000_000  # far less than the 140 MB General MIDI font
    assert client.get(f"/api/studio/{cid}/soundfont.sf2").status_code == 401


def test_live_updates_stream_a_commit(live, client):
    cid = live.make_song()
    import threading
    import time

    def later():
        time.sleep(0.6)
        live.commit("crash", cid, "main", "Bass fill", {"parts": {"bass": {"measures": {"4": "0 C2 1 v90"}}}})

    threading.Thread(target=later).start()
    r = client.get(f"/api/studio/{cid}/events?seconds=2", headers=live.auth("ivory"))
    text = r.get_data(as_text=True)
    assert r.mimetype == "text/event-stream"
    assert text.startswith("event: heads\n") and "event: commit\n" in text and "Bass fill" in text
    assert client.get(f"/api/studio/{cid}/events?seconds=1").status_code == 401


def test_comments_rights_and_hostile_input(live, client):
    cid = live.make_song()
    head = live.store.head(live.store.repo(cid), "main")
    url = f"/api/studio/{cid}/comments"
    base = {"body": "hi", "version": head, "part": "bass", "measure_from": 1, "measure_to": 2}
    assert client.post(url, json=base).status_code == 401
    r = client.post(url, json=base, headers=live.auth("listener"))
    assert r.status_code == 403 and r.get_json()["code"] == "private_composition"
    for bad, code in [({"part": "tuba"}, "part_not_found"), ({"measure_from": 3, "measure_to": 2}, "bad_measures"),
                      ({"measure_to": 99}, "bad_measures"), ({"version": "f" * 40}, "version_not_found"),
                      ({"body": "   "}, "empty_comment"), ({"parent_id": 999999}, "comment_not_found")]:
        r = client.post(url, json={**base, **bad}, headers=live.auth("crash"))
        assert r.status_code in (400, 404) and r.get_json()["code"] == code, (bad, r.get_json())
    r = client.post(url, json={**base, "body": "x" * 6000}, headers=live.auth("crash"))
    assert r.status_code == 422
    c = client.post(url, json=base, headers=live.auth("crash")).get_json()
    assert c["author"] == "crash" and c["fan"] is False and c["version"] == head
    # resolving is for members: a guest may comment but not resolve
    tok = live.guest([cid], ["main"], ["guitar"])
    g = {"Authorization": f"Bearer {tok}"}
    assert client.post(url, json={**base, "parent_id": c["id"]}, headers=g).status_code == 201
    r = client.post(f"{url}/{c['id']}/resolve", json={"resolved": True}, headers=g)
    assert r.status_code == 403 and r.get_json()["code"] == "members_only"
    # a comment of another composition cannot be resolved through this one
    other = live.make_song()
    r = client.post(f"/api/studio/{other}/comments/{c['id']}/resolve", json={}, headers=live.auth("ivory"))
    assert r.status_code == 404
    assert client.get(url, headers=live.auth("listener")).status_code == 403
    assert len(client.get(url, headers=live.auth("ivory")).get_json()) == 2


def test_studio_page_and_assets(live, client):
    cid = live.make_song()
    r = client.get(f"/studio/{cid}")
    assert r.status_code == 200 and b'id="studio"' in r.data and b"aria-label" in r.data
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/studio/assets/studio.js").status_code == 200
    assert client.get("/studio/assets/libfluidsynth.js").status_code == 200
    assert client.get("/studio/assets/..%2Fpackage.json").status_code == 404
    assert client.get("/studio/assets/nope.js").get_json()["code"] == "asset_not_found"
