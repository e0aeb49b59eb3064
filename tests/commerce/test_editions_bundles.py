"""Editions and bundles sold through WooCommerce, from the webhook to the companion (the signed body
the real store sends, with the line items the plugin annotates): a fan's order of an edition makes
them the owner of edition n of N on the ownership log; a refund takes it back (a ``revoke`` entry, the
number free again) even after a transfer; an order beyond the count issues none of its editions; a
bundle grants every item it lists (tracks, albums, licences) and a refund revokes every one; a bundle
with a bad item grants nothing. The plugin's products read ``edition_products`` from GET /api/pricing."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from companion.commerce.models import WebhookDelivery
from companion.rights.models import Edition, Licence, LogEntry, Transfer

from . import payloads

LATER = dt.datetime(2026, 12, 2, 10, 0, 0)
VERIFIER = Path(__file__).resolve().parents[2] / "verifier" / "scripthammer_verify.py"


@pytest.fixture
def fan(svc):
    """fan(wp_user_id) -> the headers of that WordPress user's listener token (as WordPress mints it)."""
    from companion.access.tokens import make_listener_token

    return lambda wp_user_id: {"Authorization": "Bearer " + make_listener_token(
        svc.config.wp_shared_secret, wp_user_id, display_name=f"fan {wp_user_id}")}


def edition_item(work: str, quantity: int = 1) -> dict:
    item = payloads.line_item(701, None, name="Numbered edition", total="40.00")
    item["scripthammer_edition"] = work
    item["quantity"] = quantity
    return item


def bundle_item(bundle: str, items, quantity: int = 1) -> dict:
    item = payloads.line_item(702, None, name="Bundle", total="63.00")
    item["scripthammer_bundle"] = bundle
    item["scripthammer_bundle_items"] = items
    item["quantity"] = quantity
    return item


def _series(client, auth, work: str, count: int) -> None:
    r = client.post("/api/rights/series", json={"work": work, "count": count, "title": "Fractal Funk, the score"},
                    headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()


def _editions(svc, work: str) -> dict[int, str]:
    from companion.rights.models import EditionSeries

    with svc.db.session() as s:
        rows = s.execute(sa.select(Edition.number, Edition.owner).join(EditionSeries, EditionSeries.id == Edition.series_id)
                         .where(EditionSeries.work == work)).all()
        return {n: o for n, o in rows}


def _log(svc) -> list[dict]:
    with svc.db.session() as s:
        return [json.loads(b) for b in s.scalars(sa.select(LogEntry.body).order_by(LogEntry.idx))]


def _outcome(svc, order_id: int) -> dict:
    with svc.db.session() as s:
        row = s.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.resource_id == order_id)
                        .order_by(WebhookDelivery.id.desc())).first()
        return row.outcome


def _left(client, work: str) -> int:
    products = client.get("/api/pricing").get_json()["edition_products"]
    return next(p["remaining"] for p in products if p["work"] == work)


def test_an_edition_order_makes_the_fan_owner_and_a_refund_takes_it_back(db_kind, client, svc, auth, deliver,
                                                                         run_jobs, tmp_path):
    work = "composition:31"
    _series(client, auth, work, 3)
    product = next(p for p in client.get("/api/pricing").get_json()["edition_products"] if p["work"] == work)
    assert product | {"work": work} == {"work": work, "name": "Fractal Funk, the score", "count": 3, "remaining": 3,
                                        "sold_out": False, "price": "25.00", "suggested": "40.00",
                                        "name_your_price": True}
    item = edition_item(work)
    assert deliver(payloads.order(9101, "completed", [item], customer_id=811)).status_code == 202
    run_jobs()
    assert _editions(svc, work) == {1: "wp:811"}
    assert _outcome(svc, 9101)["editions"] == [{"work": work, "number": 1, "order_ref": f"wc-order:9101:{item['id'] * 1000}"}]
    assert _left(client, work) == 2
    cert = client.get(f"/api/rights/editions/certificate?work={work}&number=1").get_json()
    assert [link["entry"]["kind"] for link in cert["chain"]] == ["issue"] and cert["chain"][0]["entry"]["to"] == "wp:811"
    # A second fan buys the next one.
    assert deliver(payloads.order(9102, "completed", [edition_item(work)], customer_id=812)).status_code == 202
    run_jobs()
    assert _editions(svc, work) == {1: "wp:811", 2: "wp:812"}
    # The first order is refunded: edition 1 is taken back, on the log, and free again.
    refunded = payloads.order(9101, "refunded", [item], customer_id=811, modified=LATER)
    assert deliver(refunded).status_code == 202
    run_jobs()
    assert _editions(svc, work) == {2: "wp:812"}
    assert _outcome(svc, 9101)["editions_revoked"] == [{"work": work, "number": 1, "from": "wp:811",
                                                        "order_ref": f"wc-order:9101:{item['id'] * 1000}"}]
    revoke = _log(svc)[-1]
    assert {k: revoke[k] for k in ("kind", "work", "number", "from", "reason")} == {
        "kind": "revoke", "work": work, "number": 1, "from": "wp:811", "reason": "wc-refunded"}
    assert _left(client, work) == 2
    # A replay of the refund, or of the old "completed", changes nothing.
    size = len(_log(svc))
    replay = deliver(payloads.order(9101, "completed", [item], customer_id=811), delivery="replayed")
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    stale = payloads.order(9101, "completed", [item], customer_id=811, modified=dt.datetime(2026, 12, 1, 10, 30, 0))
    assert deliver(stale).status_code == 202  # a late "completed", older than the refund
    run_jobs()
    assert _outcome(svc, 9101)["reason"] == "stale"
    assert len(_log(svc)) == size and _editions(svc, work) == {2: "wp:812"}
    # Edition 1 goes to the next buyer; its certificate and the whole log verify offline.
    assert deliver(payloads.order(9103, "completed", [edition_item(work)], customer_id=813)).status_code == 202
    run_jobs()
    assert _editions(svc, work) == {1: "wp:813", 2: "wp:812"}
    cert = client.get(f"/api/rights/editions/certificate?work={work}&number=1").get_json()
    assert [link["entry"]["kind"] for link in cert["chain"]] == ["issue", "revoke", "issue"]
    key = tmp_path / "band.pub"
    key.write_text(client.get("/api/rights/log/key").get_data(as_text=True))
    for what, doc in (("edition", cert), ("log", client.get("/api/rights/log/export").get_json())):
        path = tmp_path / f"{what}.json"
        path.write_text(json.dumps(doc))
        r = subprocess.run([sys.executable, str(VERIFIER), what, str(path), "--key", str(key)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert "owner wp:813" in subprocess.run([sys.executable, str(VERIFIER), "edition", str(tmp_path / "edition.json"),
                                             "--key", str(key)], capture_output=True, text=True).stdout


def test_ordering_beyond_the_count_issues_none_of_the_orders_editions(client, svc, auth, deliver, run_jobs):
    work = "composition:32"
    _series(client, auth, work, 2)
    assert deliver(payloads.order(9201, "completed", [edition_item(work)], customer_id=821)).status_code == 202
    run_jobs()
    size = len(_log(svc))
    # One left, three ordered: none issued (never two of three), the outcome says why.
    assert deliver(payloads.order(9202, "completed", [edition_item(work, quantity=3)], customer_id=822)).status_code == 202
    run_jobs()
    outcome = _outcome(svc, 9202)["editions"]
    assert [o.get("refused") for o in outcome] == ["beyond_edition_count"] * 3
    assert outcome[0]["count"] == 2 and outcome[0]["left"] == 1
    assert _editions(svc, work) == {1: "wp:821"} and len(_log(svc)) == size
    # A work without a series: refused, nothing written.
    assert deliver(payloads.order(9203, "completed", [edition_item("composition:404")], customer_id=822)).status_code == 202
    run_jobs()
    assert [o["refused"] for o in _outcome(svc, 9203)["editions"]] == ["no_series"] and len(_log(svc)) == size
    # The last one alone is fine; then the series is sold out.
    assert deliver(payloads.order(9204, "completed", [edition_item(work)], customer_id=822)).status_code == 202
    run_jobs()
    assert _editions(svc, work) == {1: "wp:821", 2: "wp:822"}
    product = next(p for p in client.get("/api/pricing").get_json()["edition_products"] if p["work"] == work)
    assert product["remaining"] == 0 and product["sold_out"] is True


def test_a_refund_takes_back_an_edition_the_buyer_transferred(client, svc, auth, deliver, run_jobs, fan):
    """Buy, give it to another account, refund: the edition nobody paid for is revoked from its holder,
    and an offer still open on it is gone."""
    work = "composition:33"
    _series(client, auth, work, 1)
    item = edition_item(work)
    assert deliver(payloads.order(9301, "completed", [item], customer_id=831)).status_code == 202
    run_jobs()
    with svc.db.session() as s:
        edition_id = s.scalar(sa.select(Edition.id).where(Edition.owner == "wp:831"))
    r = client.post(f"/api/rights/editions/{edition_id}/transfers", json={"to_wp_user_id": 832}, headers=fan(831))
    assert r.status_code == 201, r.get_json()
    assert client.post(f"/api/rights/transfers/{r.get_json()['id']}/accept", headers=fan(832)).status_code == 200
    r = client.post(f"/api/rights/editions/{edition_id}/transfers", json={"to_wp_user_id": 833}, headers=fan(832))
    assert r.status_code == 201
    assert deliver(payloads.order(9301, "refunded", [item], customer_id=831, modified=LATER)).status_code == 202
    run_jobs()
    assert _editions(svc, work) == {}
    assert _log(svc)[-1] | {"time": "", "order": ""} == {"kind": "revoke", "work": work, "number": 1, "from": "wp:832",
                                                         "order": "", "reason": "wc-refunded", "time": ""}
    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Transfer).where(Transfer.edition_id == edition_id)) == 0


BUNDLE = ["track:7", "album:3", "licence:ivory:non-commercial", "licence:crash:non-commercial"]


def _licences(svc, owner: str) -> list[tuple[str, str, bool]]:
    with svc.db.session() as s:
        return sorted((r.member, r.tier, r.revoked_at is not None)
                      for r in s.scalars(sa.select(Licence).where(Licence.owner == owner)))


def test_a_bundle_grants_every_item_and_a_refund_revokes_every_one(db_kind, client, svc, deliver, rights, run_jobs):
    item = bundle_item("starter-kit", BUNDLE)
    tip = payloads.line_item(600, "", name="Tip the band", total="3.00")
    assert deliver(payloads.order(9401, "completed", [item, tip], customer_id=841)).status_code == 202
    run_jobs()
    got = rights(841)
    assert {k: v[0] for k, v in got.items()} == {"purchase:wc-order:9401:track:7": True,
                                                 "purchase:wc-order:9401:album:3": True}
    assert _licences(svc, "wp:841") == [("crash", "non-commercial", False), ("ivory", "non-commercial", False)]
    assert _outcome(svc, 9401)["bundles"] == [{"bundle": "starter-kit", "line": item["id"], "items": BUNDLE,
                                               "quantity": 1}]
    # Applied again (reconciliation, later document): nothing new.
    assert deliver(payloads.order(9401, "completed", [item, tip], customer_id=841,
                                  modified=dt.datetime(2026, 12, 1, 11, 0, 0))).status_code == 202
    run_jobs()
    assert len(_licences(svc, "wp:841")) == 2
    # Refunded: every item of the bundle goes.
    assert deliver(payloads.order(9401, "refunded", [item, tip], customer_id=841, modified=LATER)).status_code == 202
    run_jobs()
    assert {k: (v[0], v[1]) for k, v in rights(841).items()} == {
        "purchase:wc-order:9401:track:7": (False, "wc-refunded"), "purchase:wc-order:9401:album:3": (False, "wc-refunded")}
    assert _licences(svc, "wp:841") == [("crash", "non-commercial", True), ("ivory", "non-commercial", True)]


def test_a_bundle_with_a_bad_item_grants_nothing_of_it(client, svc, deliver, rights, run_jobs):
    """All or nothing per bundle line: an unknown member, a malformed item, "all", a duplicate or a
    non-list refuses the whole line (the outcome says which); the order's other line items still apply."""
    track = payloads.line_item(501, "track:9", total="1.00")
    for n, items in enumerate((["track:7", "licence:nobody:commercial"], ["track:7", "track:../1"],
                               ["track:7", "all"], ["track:7", "track:7"], "track:7", [])):
        order_id = 9501 + n
        bad = bundle_item("broken", items)
        assert deliver(payloads.order(order_id, "completed", [bad, track], customer_id=851 + n)).status_code == 202
        run_jobs()
        assert list(rights(851 + n)) == [f"purchase:wc-order:{order_id}:track:9"], items
        assert _licences(svc, f"wp:{851 + n}") == []
        report = _outcome(svc, order_id)["bundles"]
        assert report[0]["refused"] == "bad_bundle_items", report


def test_a_bundle_of_two_units_issues_two_licences_per_licence_item(client, svc, deliver, run_jobs):
    item = bundle_item("algorithms", ["licence:reed:commercial", "licence:verse:commercial"], quantity=2)
    assert deliver(payloads.order(9601, "completed", [item], customer_id=861)).status_code == 202
    run_jobs()
    assert _licences(svc, "wp:861") == [("reed", "commercial", False)] * 2 + [("verse", "commercial", False)] * 2
