"""The compositions API through the Flask test client (the lead's app fixtures)."""
from __future__ import annotations

import io

import mido
import pytest

P = "/api/compositions"


@pytest.fixture(params=["local", "shared"])
def config(tmp_path, redis_url, request):
    """Every API test on both composition stores: local repositories, and the shared store (objects in the
    object store folder, refs in the database, the compositions folder a cache)."""
    from tests.conftest import build_config, make_database_url

    return build_config(tmp_path, make_database_url("sqlite", tmp_path, request), redis_url,
                        composition_store=request.param)


@pytest.fixture
def song(client, auth):
    r = client.post(P + "/", json={"title": "Blue Dot", "measures": 4, "parts": [
        {"id": "piano", "kind": "melody", "owner": "ivory", "program": 0, "channel": 0},
        {"id": "bass", "kind": "rhythm", "owner": "crash", "program": 33, "channel": 1}]}, headers=auth("ivory"))
    assert r.status_code == 201, r.json
    return r.json["head"]


def change(client, auth, who, parent, measures, part="piano", branch="main"):
    return client.post(f"{P}/blue-dot/commits", headers=auth(who), json={
        "branch": branch, "parent": parent, "message": f"{who} edits {part}",
        "changes": {"parts": {part: {"measures": measures}}}})


def test_create_list_get_commit_history(client, auth, song):
    r = change(client, auth, "ivory", song, {"1": "0 C4 1 v80 ; 1 E4 1 v80"})
    assert r.status_code == 201
    head = r.json["id"]
    assert [c["id"] for c in client.get(P + "/", headers=auth("ivory")).json] == ["blue-dot"]
    got = client.get(f"{P}/blue-dot?text=1", headers=auth("chops")).json
    assert got["version"]["id"] == head and "1| 0 C4 1 v80 ; 1 E4 1 v80" in got["files"]["parts/piano.txt"]
    h = client.get(f"{P}/blue-dot/history?part=piano&measure=1", headers=auth("ivory")).json
    assert h[0]["author"] == "ivory" and h[0]["measure"]["after"] == "0 C4 1 v80 ; 1 E4 1 v80"


def test_stale_parent_409_and_forbidden_part_403(client, auth, song):
    head = change(client, auth, "ivory", song, {"1": "0 C4 4 v80"}).json["id"]
    r = change(client, auth, "ivory", song, {"1": "0 D4 4 v80"})
    assert r.status_code == 409 and r.json["details"]["head"] == head
    r = change(client, auth, "crash", head, {"2": "0 C4 4 v80"})
    assert r.status_code == 403 and r.json["details"]["part"] == "piano"
    assert client.get(f"{P}/blue-dot", headers=auth("ivory")).json["version"]["id"] == head
    assert client.post(f"{P}/blue-dot/commits", headers={}, json={"parent": head, "message": "x", "changes": {}}).status_code == 401


def test_branches_diff_merge_with_conflict_resolution(client, auth, song):
    h = auth("ivory")
    assert client.post(f"{P}/blue-dot/branches", headers=h, json={"name": "idea"}).status_code == 201
    assert {b["name"] for b in client.get(f"{P}/blue-dot/branches", headers=h).json} == {"idea", "main"}
    change(client, auth, "ivory", song, {"1": "0 C4 1 v80 ; 1 F4 1 v80"})
    change(client, auth, "ivory", song, {"1": "0 C4 1 v80 ; 1 Eb4 1 v80"}, branch="idea")
    d = client.get(f"{P}/blue-dot/diff?from=main&to=idea", headers=h).json
    assert d["parts"][0]["measures"][0]["changed"][0]["fields"] == ["pitch"]
    t = client.get(f"{P}/blue-dot/diff?from=main&to=idea&format=text", headers=h)
    assert t.mimetype == "text/plain" and "F4 (1q, v80) -> Eb4 (1q, v80)" in t.get_data(as_text=True)
    pv = client.post(f"{P}/blue-dot/merge/preview", headers=h, json={"source": "idea"}).json
    (c,) = pv["conflicts"]
    assert c["place"]["measure"] == 1 and c["place"]["beat"] == "1"
    assert client.post(f"{P}/blue-dot/merge", headers=auth("crash"), json={"source": "idea"}).status_code == 403
    r = client.post(f"{P}/blue-dot/merge", headers=h, json={"source": "idea"})
    assert r.status_code == 409 and r.json["code"] == "merge_conflicts"
    r = client.post(f"{P}/blue-dot/merge", headers=h, json={"source": "idea", "resolutions": {c["id"]: "theirs"}})
    assert r.status_code == 201, r.json
    got = client.get(f"{P}/blue-dot?text=1", headers=h).json["files"]["parts/piano.txt"]
    assert "1| 0 C4 1 v80 ; 1 Eb4 1 v80" in got
    assert client.post(f"{P}/blue-dot/tags", headers=h, json={"name": "v1"}).status_code == 201
    assert client.get(f"{P}/blue-dot/tags", headers=h).json[0]["name"] == "v1"
    assert client.delete(f"{P}/blue-dot/branches/idea", headers=h).status_code == 204
    assert client.get(f"{P}/blue-dot/diff?from=nope&to=main", headers=h).status_code == 404


def _midi() -> bytes:
    mid = mido.MidiFile(ticks_per_beat=480)
    t = mido.MidiTrack()
    mid.tracks.append(t)
    t.append(mido.MetaMessage("track_name", name="Bass"))
    for n in (36, 43, 40, 36):
        t.append(mido.Message("note_on", note=n, velocity=90))
        t.append(mido.Message("note_off", note=n, time=480))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def test_import_and_export(client, auth):
    h = auth("ivory")
    r = client.post(f"{P}/import", headers=h, data={"file": (io.BytesIO(_midi()), "groove.mid"), "title": "Groove"},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    m = client.get(f"{P}/{cid}/export?format=midi", headers=h)
    assert m.status_code == 200 and m.data[:4] == b"MThd"
    x = client.get(f"{P}/{cid}/export?format=musicxml", headers=h)
    assert b"<score-partwise" in x.data
    z = client.get(f"{P}/{cid}/export?format=canonical&rev={r.json['version']}", headers=h)
    assert z.mimetype == "application/zip"


@pytest.mark.parametrize("name,data", [("bad.mid", b"MThd\x00\x00\x00\x06\x00\x01"), ("bad.musicxml", b"<score-partwise><oops")])
def test_malformed_upload_is_422_and_nothing_written(client, auth, name, data):
    h = auth("ivory")
    r = client.post(f"{P}/import", headers=h, data={"file": (io.BytesIO(data), name), "id": "broken"},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["code"] in ("bad_midi", "bad_musicxml")
    assert client.get(f"{P}/broken", headers=h).status_code == 404


def test_guest_and_listener(client, auth, song, make_guest_token):
    h = auth("ivory")
    client.post(f"{P}/blue-dot/branches", headers=h, json={"name": "guest"})
    head = client.get(f"{P}/blue-dot?rev=guest", headers=h).json["version"]["id"]
    g = {"Authorization": "Bearer " + make_guest_token(parts=["bass"], branches=["guest"], compositions=["blue-dot"])}
    r = change(client, lambda _: g, "guest", head, {"1": "0 C2 4 v90"}, part="bass", branch="guest")
    assert r.status_code == 201
    r = change(client, lambda _: g, "guest", r.json["id"], {"1": "0 C4 4 v90"}, part="piano", branch="guest")
    assert r.status_code == 403 and r.json["details"]["part"] == "piano"
    r = change(client, lambda _: g, "guest", song, {"1": "0 C2 4 v90"}, part="bass", branch="main")
    assert r.status_code == 403
    listener = auth("listener")
    assert client.get(f"{P}/blue-dot", headers=listener).status_code == 403
    assert client.get(f"{P}/blue-dot/history").status_code == 401  # private: fans must not see it
    change(client, auth, "ivory", song, {"1": "0 C4 4 v80"})
    main = client.get(f"{P}/blue-dot", headers=h).json["version"]["id"]
    client.post(f"{P}/blue-dot/commits", headers=h, json={"parent": main, "message": "public",
                                                          "changes": {"metadata": {"visibility": "public"}}})
    assert client.get(f"{P}/blue-dot/history", headers=listener).status_code == 200
    anonymous = client.get(f"{P}/blue-dot/history")  # public: any fan follows the creative process
    assert anonymous.status_code == 200 and len(anonymous.json) >= 2
    assert client.post(f"{P}/blue-dot/commits", json={"parent": main, "message": "x", "changes": {}}).status_code == 401


def test_openapi_lists_the_endpoints(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json["paths"]
    for p in ("/api/compositions/", "/api/compositions/{comp_id}/merge", "/api/compositions/{comp_id}/diff",
              "/api/compositions/{comp_id}/export", "/api/compositions/import"):
        assert p in paths


def test_import_new_version_needs_fresh_parent(client, auth):
    h = auth("ivory")
    r = client.post(f"{P}/import", headers=h, data={"file": (io.BytesIO(_midi()), "groove.mid"), "id": "groove"},
                    content_type="multipart/form-data")
    first = r.json["version"]
    again = client.post(f"{P}/import", headers=h, data={"file": (io.BytesIO(_midi()), "groove.mid"), "id": "groove"},
                        content_type="multipart/form-data")
    assert again.status_code == 409
    r = client.post(f"{P}/groove/import", headers=h, data={"file": (io.BytesIO(_midi().replace(b"\x90\x24", b"\x90\x26")),
                                                                    "groove.mid"), "parent": first},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    stale = client.post(f"{P}/groove/import", headers=h, data={"file": (io.BytesIO(_midi()), "groove.mid"), "parent": first},
                        content_type="multipart/form-data")
    assert stale.status_code == 409 and stale.json["details"]["head"] == r.json["version"]
