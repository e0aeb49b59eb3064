"""Rights over HTTP: a buyer's watermarked download traced back by the leader's detector; editions
issued, refused and transferred with both consents; the log verified offline by the standalone CLI.
Adversarial: anonymous, members without the right, other listeners, non-audio uploads, double issues."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf


VERIFIER = Path(__file__).resolve().parents[2] / "verifier" / "scripthammer_verify.py"


@pytest.fixture
def premium_track(svc, song, tmp_path):
    from companion.catalog import service as catalog

    x, sr = song
    wav = tmp_path / "source.wav"
    sf.write(wav, x[: 40 * sr], sr, subtype="PCM_16")
    svc.store.put_file("sources/test/source.wav", wav)
    with svc.db.session() as s:
        t = catalog.create_track(s, title="Marked Song", release_state="premium")
        t.source_key, t.duration = "sources/test/source.wav", 40.0
        s.flush()
        return t.id


def _entitle(svc, wp_user_id: int, track_id: int) -> None:
    from companion.access import service as access

    with svc.db.session() as s:
        access.upsert(s, listener=access.listener_for(s, wp_user_id), source="purchase",
                      source_ref=f"wc-order:{wp_user_id}", scope=f"track:{track_id}", granted_by="test")


def _detect(client, headers, data: bytes, name: str = "clip.mp3"):
    return client.post("/api/rights/detect", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name)})


def test_a_buyers_download_is_traced_back_to_them(client, svc, auth, fan, premium_track, run_jobs, tmp_path):
    body = {"track_id": premium_track, "format": "mp3"}
    # Not entitled yet: refused, nothing made.
    r = client.post("/api/rights/deliveries", json=body, headers=fan(501))
    assert r.status_code == 403 and r.get_json()["code"] == "not_entitled"
    _entitle(svc, 501, premium_track)
    r = client.post("/api/rights/deliveries", json=body, headers=fan(501))
    assert r.status_code == 202, r.get_json()
    delivery_id = r.get_json()["delivery_id"]
    run_jobs()
    r = client.get(f"/api/rights/deliveries/{delivery_id}", headers=fan(501))
    assert r.status_code == 200 and r.get_json()["ready"], r.get_json()
    url = r.get_json()["url"]
    # Another fan cannot see it; asking again gives the cached copy at once.
    assert client.get(f"/api/rights/deliveries/{delivery_id}", headers=fan(502)).status_code == 404
    again = client.post("/api/rights/deliveries", json=body, headers=fan(501))
    assert again.status_code == 200 and again.get_json()["delivery_id"] == delivery_id
    path = url.split("://", 1)[1].split("/", 1)[1]
    got = client.get("/" + path)
    assert got.status_code == 200, got.data[:200]
    mp3 = got.data
    # The leader's detector names the buyer.
    r = _detect(client, auth("ivory"), mp3)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["found"] and out["delivery"]["listener"]["wp_user_id"] == 501, out
    assert out["delivery"]["id"] == delivery_id and out["delivery"]["track_id"] == premium_track
    assert out["confidence"] > 0.3
    # ...also from a 20 s clip re-encoded by a pirate.
    src = tmp_path / "d.mp3"
    src.write_bytes(mp3)
    clip = tmp_path / "clip.ogg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "9.3", "-t", "20", "-i", str(src),
                    "-c:a", "libvorbis", "-b:a", "128k", str(clip)], check=True)
    r = _detect(client, auth("ivory"), clip.read_bytes(), "clip.ogg")
    assert r.get_json()["found"] and r.get_json()["delivery"]["listener"]["wp_user_id"] == 501


def test_the_detector_is_the_leaders_and_refuses_non_audio(client, auth, fan, song, tmp_path):
    x, sr = song
    buf = io.BytesIO()
    sf.write(buf, x[: 20 * sr], sr, format="WAV", subtype="PCM_16")
    wav = buf.getvalue()
    assert _detect(client, {}, wav).status_code == 401
    r = _detect(client, auth("crash"), wav)
    assert r.status_code == 403 and r.get_json()["code"] == "missing_right"
    assert _detect(client, fan(501), wav).status_code == 403
    for junk, name in ((b"hello, not audio" * 100, "x.mp3"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "x.png"),
                       (json.dumps({"a": 1}).encode(), "x.json")):
        r = _detect(client, auth("ivory"), junk, name)
        assert r.status_code == 400 and r.get_json()["code"] == "not_audio", r.get_json()
    r = client.post("/api/rights/detect", headers=auth("ivory"), content_type="multipart/form-data", data={})
    assert r.status_code == 400 and r.get_json()["code"] == "file_missing"
    short = io.BytesIO()
    sf.write(short, x[: sr // 2], sr, format="WAV", subtype="PCM_16")
    r = _detect(client, auth("ivory"), short.getvalue())
    assert r.status_code == 400 and r.get_json()["code"] == "too_short", r.get_json()
    r = _detect(client, auth("ivory"), wav)  # unmarked audio
    assert r.status_code == 200 and r.get_json()["found"] is False


def _log_size(client) -> int:
    r = client.get("/api/rights/log/head")
    return 0 if r.status_code == 404 else r.get_json()["size"]


def test_editions_issue_refuse_and_transfer_with_both_consents(db_kind, client, auth, fan, tmp_path):
    series = {"work": "composition:7", "count": 2, "title": "Blue Dot Matrix, the score"}
    assert client.post("/api/rights/series", json=series).status_code == 401
    r = client.post("/api/rights/series", json=series, headers=auth("crash"))
    assert r.status_code == 403 and r.get_json()["code"] == "missing_right"
    assert client.post("/api/rights/series", json=series, headers=auth("ivory")).status_code == 201
    assert client.post("/api/rights/series", json=series, headers=auth("ivory")).status_code == 409
    assert client.post("/api/rights/series", json={**series, "work": "rm -rf /"},
                       headers=auth("ivory")).status_code == 422

    issue = {"work": "composition:7", "wp_user_id": 501, "order_ref": "wc-order:9001"}
    first = client.post("/api/rights/editions", json=issue, headers=auth("ivory"))
    assert first.status_code == 201 and first.get_json()["number"] == 1
    # The same order again (a webhook retry) is the same edition, no new entry.
    size = _log_size(client)
    again = client.post("/api/rights/editions", json=issue, headers=auth("ivory"))
    assert again.get_json()["id"] == first.get_json()["id"] and _log_size(client) == size
    assert client.post("/api/rights/editions", json={**issue, "order_ref": "wc-order:9002", "wp_user_id": 502},
                       headers=auth("ivory")).get_json()["number"] == 2
    size = _log_size(client)
    for extra, code in (({"order_ref": "wc-order:9003"}, "beyond_edition_count"),
                        ({"order_ref": None, "number": 1}, "already_issued"),
                        ({"order_ref": None, "number": 3}, "beyond_edition_count")):
        r = client.post("/api/rights/editions", json={**issue, **extra}, headers=auth("ivory"))
        assert r.status_code == 409 and r.get_json()["code"] == code, r.get_json()
    assert client.post("/api/rights/editions", json=issue, headers=auth("crash")).status_code == 403
    assert _log_size(client) == size  # nothing written by the refusals

    edition = first.get_json()["id"]
    offer = {"to_wp_user_id": 503}
    assert client.post(f"/api/rights/editions/{edition}/transfers", json=offer).status_code == 401
    r = client.post(f"/api/rights/editions/{edition}/transfers", json=offer, headers=fan(502))
    assert r.status_code == 403 and r.get_json()["code"] == "not_owner"
    r = client.post(f"/api/rights/editions/{edition}/transfers", json=offer, headers=auth("ivory"))
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_listener"
    r = client.post(f"/api/rights/editions/{edition}/transfers", json=offer, headers=fan(501))
    assert r.status_code == 201
    transfer = r.get_json()["id"]
    assert _log_size(client) == size  # one consent moves nothing
    r = client.post(f"/api/rights/transfers/{transfer}/accept", headers=fan(502))
    assert r.status_code == 403 and r.get_json()["code"] == "not_recipient"
    r = client.post(f"/api/rights/transfers/{transfer}/accept", headers=fan(503))
    assert r.status_code == 200 and r.get_json()["state"] == "done"
    assert _log_size(client) == size + 1
    r = client.post(f"/api/rights/transfers/{transfer}/accept", headers=fan(503))
    assert r.status_code == 409 and r.get_json()["code"] == "transfer_closed"

    # Offline: the band's key, the exported log and a certificate, checked by the standalone verifier.
    key = tmp_path / "band.pub"
    key.write_bytes(client.get("/api/rights/log/key").data)
    log = tmp_path / "log.json"
    log.write_text(json.dumps(client.get("/api/rights/log/export").get_json()))
    cert = tmp_path / "cert.json"
    r = client.get("/api/rights/editions/certificate?work=composition:7&number=1&older=2")
    assert r.status_code == 200, r.get_json()
    cert.write_text(json.dumps(r.get_json()))
    for what, path, expect in (("log", log, "4 entries"), ("edition", cert, "owner wp:503")):
        out = subprocess.run([sys.executable, "-I", str(VERIFIER), what, str(path), "--key", str(key)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and expect in out.stdout, out.stderr
    # A proof from the API verifies with the companion's own code too.
    from companion.rights import ledger

    inc = client.get("/api/rights/log/inclusion?index=1").get_json()
    assert ledger.verify_inclusion(ledger.unb64(inc["leaf_hash"]), 1, inc["head"]["size"],
                                   [ledger.unb64(p) for p in inc["proof"]], ledger.unb64(inc["head"]["root"]))
    cons = client.get("/api/rights/log/consistency?first=2").get_json()
    assert ledger.verify_consistency(2, cons["second"]["size"], ledger.unb64(cons["first"]["root"]),
                                     ledger.unb64(cons["second"]["root"]), [ledger.unb64(p) for p in cons["proof"]])
    assert client.get("/api/rights/log/inclusion?index=99").status_code == 400


def test_standin_woocommerce_order_issues_an_edition_once(client, auth, svc, run_jobs):
    """The stand-in's webhook (labelled: the same body the real WooCommerce sends, with the line item
    the plugin annotates) issues editions; a retry issues nothing new; sold out is reported, not fatal."""
    from tests.commerce import payloads
    from companion.commerce.webhooks import webhook_secret

    assert client.post("/api/rights/series", json={"work": "composition:12", "count": 1},
                       headers=auth("ivory")).status_code == 201
    secret = webhook_secret(svc.config)

    def deliver(doc, delivery):
        body = payloads.body_of(doc)
        return client.post("/api/commerce/woocommerce/webhook", data=body,
                           headers=payloads.headers(secret, body, "order.updated", delivery=delivery))

    item = payloads.line_item(555, None, name="Edition of the score")
    item["scripthammer_edition"] = "composition:12"
    doc = payloads.order(7001, "completed", [item], customer_id=601)
    assert deliver(doc, "standin-1").status_code == 202
    run_jobs()
    cert = client.get("/api/rights/editions/certificate?work=composition:12&number=1").get_json()
    assert cert["chain"][0]["entry"]["to"] == "wp:601"
    assert cert["chain"][0]["entry"]["order"] == f"wc-order:7001:{item['id'] * 1000}"
    size = client.get("/api/rights/log/head").get_json()["size"]
    # The same order again, modified later (reconciliation or a retry): nothing new.
    doc2 = payloads.order(7001, "completed", [item], customer_id=601,
                          modified=__import__("datetime").datetime(2026, 12, 1, 11, 0, 0))
    assert deliver(doc2, "standin-2").status_code == 202
    run_jobs()
    assert client.get("/api/rights/log/head").get_json()["size"] == size
    # Another fan's order when the single edition is gone: refused in the outcome, the log unchanged.
    other = payloads.line_item(555, None, name="Edition of the score")
    other["scripthammer_edition"] = "composition:12"
    assert deliver(payloads.order(7002, "completed", [other], customer_id=602), "standin-3").status_code == 202
    run_jobs()
    assert client.get("/api/rights/log/head").get_json()["size"] == size
