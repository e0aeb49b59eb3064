"""The sample library's API: rights (401/403 before any body is read), add, list, replace, retire,
history, slicing, auditions, downloads, on a real database, object store and scsynth/FluidSynth."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from tests.samples.conftest import hits, tiny_sf2, tone, write

LIC = {"licence": "CC0-1.0", "source": "recorded by Crash in the rehearsal room"}


def upload(client, path, headers, **query):
    q = {**LIC, **query}
    q = {k: v for k, v in q.items() if v is not None}
    with open(path, "rb") as fh:
        return client.post("/api/samples", query_string=q, headers=headers,
                           data={"file": (fh, path.name)}, content_type="multipart/form-data")


def stored_samples(app) -> list[str]:
    return list(app.extensions["scripthammer"].store.list("samples/"))


def test_anonymous_gets_401_and_nothing_is_read(client, app):
    resp = client.post("/api/samples", query_string={"instrument": "nope", "velocity_low": "x"},
                       data=b"not audio at all", content_type="application/octet-stream")
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "auth_required"
    assert client.get("/api/samples").status_code == 401
    assert client.get("/api/samples/history").status_code == 401


@pytest.mark.parametrize("who", ["listener", "guest"])
def test_non_members_get_403_before_the_body(client, app, auth, make_guest_token, who, wav):
    headers = auth("listener") if who == "listener" else {"Authorization": f"Bearer {make_guest_token()}"}
    resp = upload(client, wav, headers, instrument="crash-drums")
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "not_a_member"
    assert stored_samples(app) == []
    assert client.get("/api/samples", headers=headers).status_code == 403


def test_only_the_instruments_member_and_the_leader_may_add(client, app, auth, wav):
    resp = upload(client, wav, auth("chops"), instrument="crash-drums", name="kick")
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "not_instrument_owner"
    assert resp.get_json()["details"]["owner"] == "crash"
    assert stored_samples(app) == []
    assert upload(client, wav, auth("crash"), instrument="crash-drums", name="kick", root=36).status_code == 201
    assert upload(client, wav, auth("ivory"), instrument="crash-drums", name="snare", root=38).status_code == 201
    assert upload(client, wav, auth("ivory"), instrument="nope").status_code == 404
    names = [s["name"] for s in client.get("/api/samples", headers=auth("reed")).get_json()]
    assert names == ["kick", "snare"]


def test_a_sample_without_licence_or_source_is_refused_before_the_body(client, app, auth, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio, and must never be read")
    for missing in ("licence", "source"):
        resp = upload(client, junk, auth("crash"), instrument="crash-drums", **{missing: ""})
        assert resp.status_code == 400
        assert resp.get_json()["code"] == f"{missing}_required"
    assert stored_samples(app) == []
    with app.extensions["scripthammer"].db.session() as s:
        from companion.samples.models import Sample, SampleCommit
        assert s.query(Sample).count() == 0 and s.query(SampleCommit).count() == 0


def test_add_lists_and_downloads_with_its_metadata(client, app, auth, sounds):
    f = sounds("a4.flac", freq=440.0, subtype="PCM_24", channels=2, rate=48000)
    resp = upload(client, f, auth("ivory"), instrument="ivory-keys", articulation="legato", root="A4", low="F4",
                  high="C5", message="first piano note")
    assert resp.status_code == 201, resp.get_json()
    commit = resp.get_json()
    assert commit["author"] == "ivory" and commit["message"] == "first piano note"
    assert [c["action"] for c in commit["changes"]] == ["add"]
    listed = client.get("/api/samples", headers=auth("crash"), query_string={"instrument": "ivory-keys"}).get_json()
    assert len(listed) == 1
    s = listed[0]
    assert s["ref"] == "ivory-keys/legato/a4"
    cur = s["current"]
    assert (cur["format"], cur["sample_rate"], cur["channels"], cur["bit_depth"]) == ("flac", 48000, 2, 24)
    assert (cur["root"], cur["low"], cur["high"]) == (69, 65, 72)
    assert cur["frames"] == 24000 and cur["licence"] == "CC0-1.0"
    body = client.get(f"/api/samples/{s['id']}/versions/1/file", headers=auth("reed")).data
    assert __import__("hashlib").sha256(body).hexdigest() == cur["sha256"]
    assert client.get(f"/api/samples/{s['id']}/versions/1/file", headers=auth("listener")).status_code == 403
    # filters
    assert client.get("/api/samples", headers=auth("crash"), query_string={"articulation": "staccato"}).get_json() == []
    assert client.get("/api/samples", headers=auth("crash"), query_string={"licence": "cc-by-4.0"}).get_json() == []
    assert len(client.get("/api/samples", headers=auth("crash"), query_string={"licence": "cc0-1.0"}).get_json()) == 1


def test_unknown_articulation_and_bad_keys_are_refused(client, app, auth, wav):
    r = upload(client, wav, auth("crash"), instrument="crash-drums", articulation="growl")
    assert r.status_code == 400 and r.get_json()["code"] == "unknown_articulation"
    r = upload(client, wav, auth("crash"), instrument="crash-drums", root="C4", low="D4")
    assert r.status_code == 400 and r.get_json()["code"] == "bad_key_range"
    assert stored_samples(app) == []


def test_same_name_conflicts_and_same_content_is_stored_once(client, app, auth, wav):
    assert upload(client, wav, auth("crash"), instrument="crash-drums", name="kick").status_code == 201
    r = upload(client, wav, auth("crash"), instrument="crash-drums", name="kick")
    assert r.status_code == 409 and r.get_json()["code"] == "sample_exists"
    assert upload(client, wav, auth("crash"), instrument="crash-drums", name="kick2").status_code == 201
    assert len(stored_samples(app)) == 1


def test_replace_retire_and_history(client, app, auth, sounds):
    first = sounds("hat.wav", freq=6000)
    second = sounds("hat2.wav", freq=7000, subtype="PCM_24")
    sid = upload(client, first, auth("crash"), instrument="crash-drums", name="hat", root=42).get_json()[
        "changes"][0]["sample_id"]
    # someone else may neither replace nor retire it, and is refused before the body is read
    with open(second, "rb") as fh:
        r = client.post(f"/api/samples/{sid}/versions", query_string=LIC, headers=auth("chops"),
                        data={"file": (fh, "hat2.wav")}, content_type="multipart/form-data")
    assert r.status_code == 403
    r = client.post(f"/api/samples/{sid}/retire", headers=auth("reed"), data="{not json",
                    content_type="application/json")
    assert r.status_code == 403
    # its member replaces it: version 2, the old bytes stay
    with open(second, "rb") as fh:
        r = client.post(f"/api/samples/{sid}/versions", query_string={**LIC, "licence": "CC-BY-4.0",
                                                                       "message": "brighter hat"},
                        headers=auth("crash"), data={"file": (fh, "hat2.wav")}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    item = client.get(f"/api/samples/{sid}", headers=auth("ivory")).get_json()
    assert item["version"] == 2 and [v["version"] for v in item["versions"]] == [1, 2]
    assert item["current"]["root"] == 42 and item["current"]["licence"] == "CC-BY-4.0"
    assert item["versions"][0]["licence"] == "CC0-1.0"
    assert client.get(f"/api/samples/{sid}/versions/1/file", headers=auth("crash")).status_code == 200
    # the leader retires it
    r = client.post(f"/api/samples/{sid}/retire", headers=auth("ivory"), json={"message": "too harsh"})
    assert r.status_code == 200
    assert client.post(f"/api/samples/{sid}/retire", headers=auth("ivory"), json={}).status_code == 409
    assert client.get("/api/samples", headers=auth("crash")).get_json() == []
    retired = client.get("/api/samples", headers=auth("crash"), query_string={"state": "retired"}).get_json()
    assert [s["id"] for s in retired] == [sid]
    hist = client.get(f"/api/samples/{sid}/history", headers=auth("crash")).get_json()
    assert [(c["author"], c["changes"][0]["action"], c["changes"][0]["version"]) for c in hist] == [
        ("ivory", "retire", 2), ("crash", "replace", 2), ("crash", "add", 1)]
    assert hist[0]["message"] == "too harsh" and hist[1]["message"] == "brighter hat"
    assert hist[0]["parent"] == hist[1]["digest"] and hist[1]["parent"] == hist[2]["digest"]
    # replacing brings it back
    with open(first, "rb") as fh:
        r = client.post(f"/api/samples/{sid}/versions", query_string=LIC, headers=auth("crash"),
                        data={"file": (fh, "hat.wav")}, content_type="multipart/form-data")
    assert r.status_code == 201
    assert client.get(f"/api/samples/{sid}", headers=auth("crash")).get_json()["state"] == "active"
    from companion.samples.service import verify_history
    assert verify_history(app.extensions["scripthammer"].db) == {"ok": True, "commits": 4, "broken": []}


def test_a_soundfont_cannot_replace_a_sample(client, app, auth, wav, tmp_path):
    sid = upload(client, wav, auth("crash"), instrument="crash-drums", name="kick").get_json()["changes"][0][
        "sample_id"]
    sf2 = tmp_path / "kit.sf2"
    sf2.write_bytes(tiny_sf2())
    with open(sf2, "rb") as fh:
        r = client.post(f"/api/samples/{sid}/versions", query_string=LIC, headers=auth("crash"),
                        data={"file": (fh, "kit.sf2")}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["code"] == "kind_mismatch"
    assert len(stored_samples(app)) == 1


def test_slicing_at_onsets_gives_one_sample_per_hit(client, app, auth, tmp_path):
    rec = write(tmp_path / "kit-take.wav", hits([0.2, 0.9, 1.6, 2.3], 3.0), subtype="PCM_24")
    r = upload(client, rec, auth("crash"), instrument="crash-drums", name="take", slice="onsets",
               roots="36,38,42,46")
    assert r.status_code == 201, r.get_json()
    commit = r.get_json()
    assert commit["message"] == "add 4 slices of kit-take.wav"
    rows = client.get("/api/samples", headers=auth("crash")).get_json()
    assert [(s["name"], s["current"]["root"]) for s in rows] == [("take-01", 36), ("take-02", 38), ("take-03", 42),
                                                                 ("take-04", 46)]
    starts = [s["current"]["details"]["sliced_from"]["start_frame"] / 44100 for s in rows]
    assert starts == pytest.approx([0.2, 0.9, 1.6, 2.3], abs=0.003)
    assert all(s["current"]["subtype"] == "PCM_24" for s in rows)
    # a slice holds the recording's own samples
    original, _ = sf.read(rec, dtype="float64")
    body = client.get(f"/api/samples/{rows[1]['id']}/versions/1/file", headers=auth("crash")).data
    piece, _ = sf.read(io.BytesIO(body), dtype="float64")
    a = rows[1]["current"]["details"]["sliced_from"]["start_frame"]
    assert np.array_equal(piece[:-64], original[a:a + len(piece) - 64])


def test_slicing_at_points_and_refusals_store_nothing(client, app, auth, tmp_path):
    rec = write(tmp_path / "phrase.flac", tone(2.0, 330.0), fmt="FLAC")
    r = upload(client, rec, auth("reed"), instrument="reed-alto-sax", name="ph", slice="points", points="0.5,1.5",
               roots="60,61")
    assert r.status_code == 400 and r.get_json()["code"] == "roots_mismatch"
    r = upload(client, rec, auth("reed"), instrument="reed-alto-sax", name="ph", slice="points", points="1.5,0.5")
    assert r.status_code == 400 and r.get_json()["code"] == "bad_slice_points"
    assert stored_samples(app) == []
    r = upload(client, rec, auth("reed"), instrument="reed-alto-sax", name="ph", slice="points", points="0.5,1.5")
    assert r.status_code == 201
    frames = [c["ref"] for c in r.get_json()["changes"]]
    assert frames == ["reed-alto-sax/normal/ph-01", "reed-alto-sax/normal/ph-02", "reed-alto-sax/normal/ph-03"]
    listed = client.get("/api/samples", headers=auth("reed")).get_json()
    assert [s["current"]["frames"] for s in listed] == [22050, 44100, 22050]


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def test_audition_plays_the_sample_at_the_notes_pitches(client, app, auth, sounds):
    f = sounds("a4.wav", seconds=1.0, freq=440.0)
    sid = upload(client, f, auth("ivory"), instrument="ivory-keys", root="A4", low="A3", high="A5").get_json()[
        "changes"][0]["sample_id"]
    assert client.get(f"/api/samples/{sid}/audition").status_code == 401
    r = client.get(f"/api/samples/{sid}/audition", headers=auth("crash"))
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    y, rate = sf.read(io.BytesIO(r.data))
    # the arpeggio: root, major third, fifth, octave, a beat (0.5 s) apart
    got = [dominant_hz(y[int((0.5 * i + 0.05) * rate):int((0.5 * i + 0.35) * rate), 0], rate) for i in range(4)]
    assert got == pytest.approx([440.0, 554.37, 659.26, 880.0], rel=0.02)
    again = client.get(f"/api/samples/{sid}/audition", headers=auth("crash"))
    assert again.data == r.data
    assert len(list(app.extensions["scripthammer"].store.list("auditions/"))) == 1


def test_audition_of_a_percussion_sample_and_a_soundfont(client, app, auth, wav, tmp_path):
    sid = upload(client, wav, auth("crash"), instrument="crash-drums", name="kick", root=36).get_json()["changes"][
        0]["sample_id"]
    r = client.get(f"/api/samples/{sid}/audition", headers=auth("crash"))
    assert r.status_code == 200 and r.mimetype == "audio/wav", r.get_data(as_text=True)[:500]
    y, rate = sf.read(io.BytesIO(r.data))
    peaks = [np.abs(y[int(t * rate):int((t + 0.3) * rate)]).max() for t in (0.0, 0.5, 1.0)]
    assert peaks[1] < peaks[0] < peaks[2]  # velocities 100, 55, 120
    font = tmp_path / "tiny.sf2"
    font.write_bytes(tiny_sf2(smpl_points=2000))
    fid = upload(client, font, auth("ivory"), instrument="ivory-keys", name="tiny").get_json()["changes"][0][
        "sample_id"]
    item = client.get(f"/api/samples/{fid}", headers=auth("ivory")).get_json()
    assert item["kind"] == "soundfont"
    assert item["current"]["details"]["soundfont"]["presets"] == [{"name": "Test", "program": 0, "bank": 0}]
    r = client.get(f"/api/samples/{fid}/audition", headers=auth("ivory"))
    assert r.status_code == 200 and r.mimetype == "audio/wav", r.get_data(as_text=True)[:500]
    y, _ = sf.read(io.BytesIO(r.data))
    assert np.abs(y).max() > 0.01


def test_the_api_documents_the_library(client):
    spec = client.get("/api/openapi.json").get_json()
    assert {"/api/samples", "/api/samples/{sample_id}/retire", "/api/samples/history",
            "/api/samples/{sample_id}/audition"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/samples"]["post"]["parameters"]}
    assert {"instrument", "licence", "source", "slice", "points", "roots"} <= params


def test_wordpress_service_requests_and_upload_tokens_cannot_change_the_library(client, app, auth, wav):
    from companion.band.signing import make_upload_token, sign

    query = "instrument=crash-drums&licence=CC0-1.0&source=x&filename=kick.wav"
    body = wav.read_bytes()
    headers = sign("test-shared-secret", "POST", f"/api/samples?{query}", body)
    r = client.post(f"/api/samples?{query}", data=body, headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_member"
    token = make_upload_token("test-shared-secret", 1)
    r = client.post(f"/api/samples?{query}", data=body, headers={"Authorization": f"Bearer {token}",
                                                               "Content-Type": "application/octet-stream"})
    assert r.status_code == 403
    assert stored_samples(app) == []


def test_a_hostile_file_name_names_nothing_on_disk(client, app, auth, wav):
    r = client.post("/api/samples", query_string={**LIC, "instrument": "crash-drums",
                                                  "filename": "../../../etc/Kick Drum!.wav"},
                    headers=auth("crash"), data=wav.read_bytes(), content_type="application/octet-stream")
    assert r.status_code == 201, r.get_json()
    sample = client.get("/api/samples", headers=auth("crash")).get_json()[0]
    assert sample["name"] == "kick-drum"
    assert sample["current"]["key"] == f"samples/{sample['current']['sha256'][:2]}/{sample['current']['sha256']}/sample.wav"
    assert sample["current"]["details"]["original_filename"] == "Kick Drum!.wav"
