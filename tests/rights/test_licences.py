"""Algorithm licences end to end: a WooCommerce order (the stand-in's signed webhook, the same body the
real store sends) issues a signed licence once; its owner fetches the file and the package; the package,
unzipped and run with the venv's python, checks the licence offline and generates the same MIDI for the
same seed, and refuses a tampered, revoked or out-of-tier licence. Adversarial: another fan, a listener
revoking, a member without the right, a forged webhook."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import mido
import pytest
import sqlalchemy as sa

from companion.commerce.webhooks import webhook_secret
from companion.rights.models import Licence
from tests.commerce import payloads

WEBHOOK = "/api/commerce/woocommerce/webhook"


@pytest.fixture
def deliver(client, svc):
    def send(doc, delivery: str, *, key: str | None = None, topic: str = "order.updated"):
        body = payloads.body_of(doc)
        return client.post(WEBHOOK, data=body, headers=payloads.headers(key or webhook_secret(svc.config), body, topic,
                                                                         delivery=delivery))
    return send


def licence_item(value: str, quantity: int = 1) -> dict:
    item = payloads.line_item(880, None, name="Licence", total="15.00")
    item["scripthammer_licence"] = value
    item["quantity"] = quantity
    return item


def _count(svc) -> int:
    with svc.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Licence))


def _buy(deliver, run_jobs, order_id: int, customer: int, value: str, quantity: int = 1) -> None:
    doc = payloads.order(order_id, "completed", [licence_item(value, quantity)], customer_id=customer)
    assert deliver(doc, f"lic-{order_id}").status_code == 202
    run_jobs()


def unpack(data: bytes, dest) -> "object":
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(dest)
        top = z.namelist()[0].split("/")[0]
    return dest / top


def run_package(folder, *args):
    return subprocess.run([sys.executable, "-I", "run.py", *args], cwd=folder, capture_output=True, text=True,
                          timeout=120)


def test_an_order_issues_a_licence_once_and_the_package_runs_offline(client, svc, deliver, fan, auth, run_jobs,
                                                                      tmp_path):
    item = licence_item("crash:non-commercial")
    doc = payloads.order(8101, "completed", [item], customer_id=701)
    assert deliver(doc, "lic-1").status_code == 202
    run_jobs()
    mine = client.get("/api/rights/licences", headers=fan(701)).get_json()["licences"]
    assert len(mine) == 1
    lic = mine[0]
    assert (lic["member"], lic["tier"], lic["owner"]) == ("crash", "non-commercial", "wp:701")
    assert lic["order_ref"] == f"wc-order:8101:{item['id'] * 1000}" and lic["seats"] == 1 and lic["expires_at"]
    # A retry, and the same order modified later (reconciliation): nothing new.
    assert deliver(doc, "lic-1b").status_code in (200, 202)
    later = payloads.order(8101, "completed", [item], customer_id=701,
                           modified=__import__("datetime").datetime(2026, 12, 1, 11, 0, 0))
    assert deliver(later, "lic-2").status_code == 202
    run_jobs()
    assert _count(svc) == 1

    # The signed file, as an attachment, verifies with the band's key and the standalone verifier.
    r = client.get(f"/api/rights/licences/{lic['id']}", headers=fan(701))
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    (tmp_path / "lic.json").write_bytes(r.data)
    (tmp_path / "band.pub").write_bytes(client.get("/api/rights/log/key").data)
    from tests.verifier.test_licences import VERIFIER
    v = subprocess.run([sys.executable, "-I", str(VERIFIER), "licence", str(tmp_path / "lic.json"), "--key",
                        str(tmp_path / "band.pub")], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0 and "for wp:701" in v.stdout, v.stderr

    # The package: generates a MIDI file with notes, the same bytes for the same seed.
    r = client.get(f"/api/rights/licences/{lic['id']}/package", headers=fan(701))
    assert r.status_code == 200 and r.mimetype == "application/zip"
    folder = unpack(r.data, tmp_path / "pkg")
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"run.py", "licence.json", "band.pub", "scripthammer_verify.py", "package.json",
            "shlocal/algorithms/members/crash.py", "shlocal/algorithms/instruments/crash-drums.toml",
            "shlocal/algorithms/instruments/crash-bass.toml"} <= names
    assert not any(n.startswith("shlocal/algorithms/members/") and n.endswith(("chops.py", "verse.py")) for n in names)
    out1, out2, out3 = (tmp_path / "a.mid", tmp_path / "b.mid", tmp_path / "c.mid")
    r1 = run_package(folder, "--seed", "11", "--measures", "16", "--out", str(out1))
    assert r1.returncode == 0, r1.stderr
    run_package(folder, "--seed", "11", "--measures", "16", "--out", str(out2))
    run_package(folder, "--seed", "12", "--measures", "16", "--out", str(out3))
    assert out1.read_bytes() == out2.read_bytes() and out1.read_bytes() != out3.read_bytes()
    notes = [m for t in mido.MidiFile(out1).tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert len(notes) > 50
    assert {m.channel for m in notes} >= {9}  # Crash's drums (General MIDI channel 10) with his bass

    # A non-commercial licence refuses commercial use; nothing is written.
    r = run_package(folder, "--seed", "11", "--out", str(tmp_path / "x.mid"), "--use", "commercial")
    assert r.returncode == 1 and "non-commercial" in r.stderr and not (tmp_path / "x.mid").exists()

    # Tampered: one byte of the licensee changed.
    text = (folder / "licence.json").read_text()
    (folder / "licence.json").write_text(text.replace('"wp:701"', '"wp:702"'))
    r = run_package(folder, "--seed", "11", "--out", str(tmp_path / "t.mid"))
    assert r.returncode == 1 and "not signed by the band" in r.stderr and not (tmp_path / "t.mid").exists()
    (folder / "licence.json").write_text(text)

    # Revoked by the leader: refused once the holder has the new signed list.
    rev_before = client.get("/api/rights/licences/revocations").get_json()
    (tmp_path / "rev0.json").write_text(json.dumps(rev_before))
    assert run_package(folder, "--seed", "1", "--out", str(tmp_path / "ok.mid"), "--revocations",
                       str(tmp_path / "rev0.json")).returncode == 0
    r = client.post(f"/api/rights/licences/{lic['id']}/revoke", json={"reason": "chargeback"}, headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["revoked"] is True
    assert client.post(f"/api/rights/licences/{lic['id']}/revoke", json={}, headers=auth("ivory")).status_code == 409
    rev = client.get("/api/rights/licences/revocations").get_json()
    assert lic["id"] in rev["revocations"]["revoked"]
    (tmp_path / "rev.json").write_text(json.dumps(rev))
    r = run_package(folder, "--seed", "1", "--out", str(tmp_path / "r.mid"), "--revocations", str(tmp_path / "rev.json"))
    assert r.returncode == 1 and "revoked" in r.stderr and not (tmp_path / "r.mid").exists()
    # An edited list (un-revoking it) is not the band's.
    rev["revocations"]["revoked"] = []
    (tmp_path / "rev.json").write_text(json.dumps(rev))
    r = run_package(folder, "--seed", "1", "--out", str(tmp_path / "r.mid"), "--revocations", str(tmp_path / "rev.json"))
    assert r.returncode == 1 and "revocation list is not signed" in r.stderr
    # The revoked licence's package is no longer served.
    r = client.get(f"/api/rights/licences/{lic['id']}/package", headers=fan(701))
    assert r.status_code == 409 and r.get_json()["code"] == "licence_revoked"


def test_commercial_tier_terms_come_from_the_pricing_and_quantity_issues_units(client, svc, deliver, fan, run_jobs,
                                                                                tmp_path):
    _buy(deliver, run_jobs, 8201, 711, "ivory:commercial", quantity=2)
    mine = client.get("/api/rights/licences", headers=fan(711)).get_json()["licences"]
    assert len(mine) == 2 and {m["tier"] for m in mine} == {"commercial"}
    assert {m["seats"] for m in mine} == {5}  # the default commercial tier
    r = client.get(f"/api/rights/licences/{mine[0]['id']}/package", headers=fan(711))
    folder = unpack(r.data, tmp_path / "pkg")
    r = run_package(folder, "--seed", "4", "--measures", "8", "--out", str(tmp_path / "k.mid"), "--use", "commercial")
    assert r.returncode == 0, r.stderr
    assert any(m.type == "note_on" for t in mido.MidiFile(tmp_path / "k.mid").tracks for m in t)
    # The buyer's other (genuine) licence dropped into this package: not the one it was made for.
    other = client.get(f"/api/rights/licences/{mine[1]['id']}", headers=fan(711)).data
    good = (folder / "licence.json").read_bytes()
    (folder / "licence.json").write_bytes(other)
    r = run_package(folder, "--seed", "4", "--out", str(tmp_path / "o.mid"))
    assert r.returncode == 1 and "not the one this package was made for" in r.stderr
    (folder / "licence.json").write_bytes(good)
    # An expired licence, signed by the band, is refused at this machine's clock (run.py has no way to
    # check the term at another time: that would be a way around it).
    import datetime as dt

    from companion.rights import licences, package
    from companion.rights.service import band_key, public_key_pem

    old = licences.issue_licence(band_key(svc.config), member="ivory", algorithm="IvoryKeys+IvorySynth 1.0",
                                 licensee="wp:711", tier="commercial", days=30,
                                 now=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    expired = unpack(package.build(old, public_key_pem=public_key_pem(svc.config)), tmp_path / "old")
    r = run_package(expired, "--seed", "4", "--out", str(tmp_path / "e.mid"))
    assert r.returncode == 1 and "expired" in r.stderr and not (tmp_path / "e.mid").exists()
    r = run_package(expired, "--seed", "4", "--out", str(tmp_path / "e.mid"), "--now", "2025-01-02T00:00:00Z")
    assert r.returncode == 2 and not (tmp_path / "e.mid").exists()  # no such option


def test_a_refunded_order_revokes_its_licences(db_kind, client, svc, deliver, fan, run_jobs):
    item = licence_item("verse:non-commercial")
    assert deliver(payloads.order(8301, "completed", [item], customer_id=721), "r-1").status_code == 202
    run_jobs()
    lic = client.get("/api/rights/licences", headers=fan(721)).get_json()["licences"][0]
    refunded = payloads.order(8301, "refunded", [item], customer_id=721,
                              modified=__import__("datetime").datetime(2026, 12, 2, 10, 0, 0))
    assert deliver(refunded, "r-2").status_code == 202
    run_jobs()
    assert lic["id"] in client.get("/api/rights/licences/revocations").get_json()["revocations"]["revoked"]
    assert client.get("/api/rights/licences", headers=fan(721)).get_json()["licences"][0]["revoked"] is True


def test_nobody_else_gets_a_fans_licence_or_package(client, svc, deliver, fan, auth, run_jobs):
    _buy(deliver, run_jobs, 8401, 731, "chops:non-commercial")
    lic = client.get("/api/rights/licences", headers=fan(731)).get_json()["licences"][0]
    # Another fan: not in their list, 404 for the file and the package (no hint it exists).
    assert client.get("/api/rights/licences", headers=fan(732)).get_json()["licences"] == []
    for path in (f"/api/rights/licences/{lic['id']}", f"/api/rights/licences/{lic['id']}/package"):
        r = client.get(path, headers=fan(732))
        assert r.status_code == 404 and r.get_json()["code"] == "licence_not_found"
        assert client.get(path).status_code == 401
        assert client.get(path, headers=auth("crash")).status_code == 403  # a member without rights.licences
    assert client.get("/api/rights/licences").status_code == 401
    assert client.get("/api/rights/licences", headers=auth("crash")).status_code == 403
    # The leader lists every licence.
    everyone = client.get("/api/rights/licences", headers=auth("ivory")).get_json()["licences"]
    assert [x["id"] for x in everyone] == [lic["id"]]
    # Nobody but the leader revokes: the owner, another fan, a member, anonymous.
    for headers in (fan(731), fan(732), auth("crash"), auth("listener"), {}):
        r = client.post(f"/api/rights/licences/{lic['id']}/revoke", json={}, headers=headers)
        assert r.status_code in (401, 403), r.status_code
    assert lic["id"] not in client.get("/api/rights/licences/revocations").get_json()["revocations"]["revoked"]
    # Nor issues one by hand.
    r = client.post("/api/rights/licences", json={"member": "crash", "tier": "commercial", "wp_user_id": 731},
                    headers=fan(731))
    assert r.status_code == 403
    assert _count(svc) == 1
    # Unknown or malformed ids.
    assert client.get("/api/rights/licences/../../etc", headers=fan(731)).status_code == 404
    assert client.post("/api/rights/licences/ffffffffffffffff/revoke", json={}, headers=auth("ivory")).status_code == 404


def test_a_forged_or_bad_webhook_issues_nothing(client, svc, deliver, run_jobs):
    doc = payloads.order(8501, "completed", [licence_item("reed:commercial")], customer_id=741)
    r = deliver(doc, "forged-1", key="not-the-secret")
    assert r.status_code == 401
    body = payloads.body_of(doc)
    r = client.post(WEBHOOK, data=body, headers={k: v for k, v in payloads.headers("x", body, "order.updated").items()
                                                 if k != "X-WC-Webhook-Signature"})
    assert r.status_code == 401
    run_jobs()
    assert _count(svc) == 0
    # Signed, but unpaid, a guest, or naming no real member or tier: nothing issued either.
    for i, (status, customer, value) in enumerate((("pending", 741, "reed:commercial"), ("completed", 0, "reed:commercial"),
                                                   ("completed", 741, "nobody:commercial"),
                                                   ("completed", 741, "reed:free"))):
        assert deliver(payloads.order(8510 + i, status, [licence_item(value)], customer_id=customer),
                       f"bad-{i}").status_code == 202
    run_jobs()
    assert _count(svc) == 0


def test_the_leader_issues_by_hand_and_bad_input_is_refused(client, svc, auth):
    r = client.post("/api/rights/licences", json={"member": "brass", "tier": "commercial", "wp_user_id": 9},
                    headers=auth("ivory"))
    assert r.status_code == 201 and r.get_json()["owner"] == "wp:9"
    for body in ({"member": "nobody", "tier": "commercial", "wp_user_id": 9},
                 {"member": "brass", "tier": "free", "wp_user_id": 9},
                 {"member": "brass", "tier": "commercial", "wp_user_id": 0}):
        r = client.post("/api/rights/licences", json=body, headers=auth("ivory"))
        assert r.status_code in (400, 422), (body, r.status_code)
    assert _count(svc) == 1
