"""WooCommerce webhooks: signature checked before parsing, each body applied once on RQ, orders and
subscriptions turned into entitlements, and out-of-order or replayed deliveries changing nothing."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from companion.commerce.models import CommerceResource, WebhookDelivery
from companion.tasks.models import Job

from . import payloads
from .conftest import WEBHOOK

T0 = dt.datetime(2026, 12, 1, 10, 0, 0)


def _counts(svc) -> tuple[int, int]:
    with svc.db.session() as s:
        return (s.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)),
                s.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.kind == "commerce_webhook")))


def _track_order(order_id=101, status="completed", *, modified=T0, customer=42, scope="track:7", product=501):
    return payloads.order(order_id, status, [payloads.line_item(product, scope)], customer_id=customer,
                          modified=modified)


def test_a_paid_order_entitles_its_buyer_once_applied(deliver, run_jobs, rights, svc, db_kind):
    r = deliver(_track_order())
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "queued" and body["job_id"]
    assert rights(42) == {}  # answered at once: applied by the job, not in the request
    run_jobs()
    assert rights(42) == {"purchase:wc-order:101:track:7": (True, None, None)}
    with svc.db.session() as s:
        job = s.get(Job, body["job_id"])
        assert job.state == "finished" and job.result["granted"] == ["track:7"]
        assert s.get(WebhookDelivery, body["delivery"]).state == "applied"


def test_unsigned_forged_and_swapped_deliveries_are_refused_before_parsing(client, secret, svc):
    # Not even JSON: refused for its missing signature, never parsed.
    r = client.post(WEBHOOK, data=b"{not json", headers={"X-WC-Webhook-Topic": "order.updated",
                                                         "Content-Type": "application/json"})
    assert r.status_code == 401 and r.get_json()["code"] == "webhook_signature_missing"
    body = payloads.body_of(_track_order())
    forged = client.post(WEBHOOK, data=body, headers=payloads.headers("not-the-secret", body, "order.updated"))
    assert forged.status_code == 401 and forged.get_json()["code"] == "webhook_signature_invalid"
    assert set(forged.get_json()) == {"status", "code", "message", "details"}
    other = payloads.body_of(_track_order(status="refunded"))
    swapped = client.post(WEBHOOK, data=other, headers=payloads.headers(secret, body, "order.updated"))
    assert swapped.status_code == 401
    garbage = client.post(WEBHOOK, data=b"{not json", headers=payloads.headers("x", b"{not json", "order.updated"))
    assert garbage.status_code == 401
    assert _counts(svc) == (0, 0)


def test_duplicated_and_replayed_bodies_are_applied_once(deliver, run_jobs, rights, svc, db_kind):
    doc = _track_order()
    first = deliver(doc, delivery="d-1")
    again = deliver(doc, delivery="d-1")  # the same delivery twice
    replay = deliver(doc, delivery="d-forged-new-id")  # a captured body sent again under another id
    assert first.status_code == 202
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    assert again.get_json()["delivery"] == first.get_json()["delivery"]
    assert _counts(svc) == (1, 1)
    run_jobs()
    assert rights(42) == {"purchase:wc-order:101:track:7": (True, None, None)}


def test_one_delivery_id_with_two_bodies_is_two_deliveries(deliver, run_jobs, rights):
    """WooCommerce's delivery id is md5(webhook id + current second): two orders in one second share it."""
    assert deliver(_track_order(101, scope="track:7"), delivery="same").status_code == 202
    assert deliver(_track_order(102, scope="album:3", customer=43), delivery="same").status_code == 202
    run_jobs()
    assert rights(42) == {"purchase:wc-order:101:track:7": (True, None, None)}
    assert rights(43) == {"purchase:wc-order:102:album:3": (True, None, None)}


def test_refund_revokes_and_a_late_completed_does_not_resurrect_it(deliver, run_jobs, rights, svc):
    deliver(_track_order(modified=T0))
    run_jobs()
    deliver(_track_order(status="refunded", modified=T0 + dt.timedelta(minutes=5)))
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][:2] == (False, "wc-refunded")
    # A delivery of an older state arrives late (WooCommerce's queue, a retry, a replay with a new body).
    late = deliver(_track_order(status="completed", modified=T0 + dt.timedelta(minutes=1)))
    assert late.status_code == 202
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][:2] == (False, "wc-refunded")
    with svc.db.session() as s:
        assert s.get(Job, late.get_json()["job_id"]).result["reason"] == "stale"
        assert s.get(WebhookDelivery, late.get_json()["delivery"]).state == "stale"
        res = s.scalar(sa.select(CommerceResource).where(CommerceResource.wc_id == 101))
        assert res.status == "refunded"
    # Same second as the refund: the revocation wins the tie.
    tie = _track_order(status="completed", modified=T0 + dt.timedelta(minutes=5))
    tie["total"] = "7.01"  # another body
    deliver(tie)
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][0] is False
    # The shop owner really completes it again later: a newer state grants again.
    deliver(_track_order(status="completed", modified=T0 + dt.timedelta(hours=1)))
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][:2] == (True, None)


@pytest.mark.parametrize("status", ["cancelled", "failed", "on-hold", "pending"])
def test_unpaid_statuses_revoke(deliver, run_jobs, rights, status):
    deliver(_track_order(modified=T0))
    run_jobs()
    deliver(_track_order(status=status, modified=T0 + dt.timedelta(minutes=1)))
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][:2] == (False, f"wc-{status}")


def test_deleted_order_revokes(deliver, run_jobs, rights, secret, client):
    deliver(_track_order())
    run_jobs()
    r = deliver({"id": 101}, "order.deleted")
    assert r.status_code == 202
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][:2] == (False, "wc-trash")


def test_tips_entitle_to_nothing_and_guests_cannot_be_entitled(deliver, run_jobs, rights, svc):
    tip = payloads.order(201, "completed", [payloads.line_item(600, "", name="Tip the band")])
    stranger = payloads.order(202, "completed", [payloads.line_item(601, None, name="T-shirt")])
    guest = payloads.order(203, "completed", [payloads.line_item(501, "track:7")], customer_id=0)
    for doc in (tip, stranger, guest):
        assert deliver(doc).status_code == 202
    run_jobs()
    assert rights(42) == {}
    with svc.db.session() as s:
        results = [j.result for j in s.scalars(sa.select(Job).where(Job.kind == "commerce_webhook")
                                               .order_by(Job.created_at)).all()]
    assert [r["granted"] for r in results] == [[], [], []]
    assert results[2]["reason"] == "guest_checkout"


def test_line_items_map_through_the_published_products(deliver, run_jobs, rights, svc):
    """A line item the plugin did not annotate: the product the companion published tells its scope."""
    from companion.commerce.products import record_product

    with svc.db.session() as s:
        record_product(s, wc_product_id=777, scope="album:4", title="Blue Dot Matrix",
                       permalink="http://shop.example.test/product/blue-dot-matrix/", min_price="7")
    deliver(payloads.order(301, "processing", [payloads.line_item(777, None)]))
    run_jobs()
    assert rights(42) == {"purchase:wc-order:301:album:4": (True, None, None)}
    from companion.commerce.products import buy_url

    with svc.db.session() as s:
        assert buy_url(s, "album", 4) == "http://shop.example.test/product/blue-dot-matrix/"
        assert buy_url(s, "album", 5) is None


def test_an_edited_order_loses_the_item_it_dropped(deliver, run_jobs, rights):
    both = payloads.order(401, "completed", [payloads.line_item(501, "track:7"), payloads.line_item(502, "album:2")],
                          modified=T0)
    deliver(both)
    run_jobs()
    one = payloads.order(401, "completed", [payloads.line_item(502, "album:2")], modified=T0 + dt.timedelta(minutes=2))
    deliver(one)
    run_jobs()
    got = rights(42)
    assert got["purchase:wc-order:401:album:2"][:2] == (True, None)
    assert got["purchase:wc-order:401:track:7"][:2] == (False, "wc-item-removed")


def test_fixed_term_membership_order_entitles_for_its_days(deliver, run_jobs, rights):
    paid = dt.datetime(2026, 12, 1, 9, 0, 0)
    deliver(payloads.order(501, "completed", [payloads.line_item(650, "all", days=365)], modified=T0, paid=paid))
    run_jobs()
    assert rights(42)["subscription:wc-order:501:all"][2] == paid + dt.timedelta(days=365)


def test_subscription_lifecycle(deliver, run_jobs, rights, svc):
    grace = dt.timedelta(hours=svc.config.commerce_grace_hours)
    item = [payloads.line_item(700, "all", total="5.00", name="ScriptHammer fan subscription")]
    nxt = dt.datetime(2027, 1, 1, 10, 0, 0)
    key = "subscription:wcs-subscription:801:all"

    def send(status, minutes, **kw):
        doc = payloads.subscription(801, status, item, modified=T0 + dt.timedelta(minutes=minutes), **kw)
        assert deliver(doc, "subscription.updated").status_code == 202
        run_jobs()
        return rights(42)[key]

    active, reason, ends = send("active", 0, next_payment=nxt)
    assert (reason, ends) == (None, nxt + grace)
    assert send("on-hold", 1, next_payment=nxt)[:2] == (False, "wc-on-hold")
    renewed = nxt + dt.timedelta(days=31)
    assert send("active", 2, next_payment=renewed) == (True, None, renewed + grace)  # paid again: back
    end = renewed
    assert send("pending-cancel", 3, end=end) == (True, None, end)  # cancelled by the fan: paid up to its end
    assert send("cancelled", 4, end=end)[:2] == (False, "wc-cancelled")
    assert send("active", 3, next_payment=renewed)[:2] == (False, "wc-cancelled")  # older: ignored
    assert send("expired", 5, end=end)[:2] == (False, "wc-cancelled")  # still revoked, first reason kept
    # A subscription that simply runs out.
    doc = payloads.subscription(802, "active", item, customer_id=44, modified=T0, next_payment=nxt)
    deliver(doc, "subscription.created")
    run_jobs()
    deliver(payloads.subscription(802, "expired", item, customer_id=44, modified=T0 + dt.timedelta(days=40), end=nxt),
            "subscription.updated")
    run_jobs()
    assert rights(44)["subscription:wcs-subscription:802:all"][:2] == (False, "wc-expired")


def test_ping_unknown_topics_and_bad_bodies(client, secret, svc, deliver):
    ping = client.post(WEBHOOK, data=b"webhook_id=12", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ping.status_code == 200 and ping.get_json()["status"] == "ping"
    product = deliver({"id": 5, "name": "T-shirt"}, "product.updated")
    assert product.status_code == 200 and product.get_json()["status"] == "ignored"
    no_id = deliver({"status": "completed"})
    assert no_id.status_code == 400 and no_id.get_json()["code"] == "bad_payload"
    body = b"[1, 2]"
    not_object = client.post(WEBHOOK, data=body, headers=payloads.headers(secret, body, "order.updated"))
    assert not_object.status_code == 400
    body = payloads.body_of(_track_order())
    hdrs = payloads.headers(secret, body, "order.updated")
    hdrs["X-WC-Webhook-Delivery-ID"] = "bad id with spaces"
    assert client.post(WEBHOOK, data=body, headers=hdrs).status_code == 400
    assert _counts(svc) == (0, 0)


def test_too_large_is_refused_before_reading(client, secret, svc):
    from companion.commerce.webhooks import MAX_BODY_BYTES

    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    r = client.post(WEBHOOK, data=body, headers=payloads.headers(secret, body, "order.updated"))
    assert r.status_code == 413 and r.get_json()["details"]["limit_bytes"] == MAX_BODY_BYTES
    assert _counts(svc) == (0, 0)


def test_the_job_is_idempotent(deliver, run_jobs, rights, svc):
    from jobs.commerce import apply_delivery

    r = deliver(_track_order())
    run_jobs()
    with svc.db.session() as s:
        job = s.get(Job, r.get_json()["job_id"])
        job.state = "queued"
    apply_delivery(r.get_json()["job_id"])  # run again (RQ retried it after a crash, say)
    assert rights(42) == {"purchase:wc-order:101:track:7": (True, None, None)}
    from companion.access.models import Entitlement

    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Entitlement)) == 1


def test_redis_down_keeps_nothing_so_the_next_try_is_accepted(app, client, secret, svc, monkeypatch, deliver,
                                                                run_jobs, rights):
    import redis as redis_lib

    broken = redis_lib.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setitem(svc.__dict__, "redis", broken)
    r = deliver(_track_order())
    assert r.status_code == 503 and r.get_json()["code"] == "queue_unavailable"
    assert _counts(svc)[0] == 0
    monkeypatch.undo()
    again = deliver(_track_order())
    assert again.status_code == 202
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][0] is True


def test_no_secret_no_webhooks(tmp_path, redis_url):
    from companion import create_app
    from tests.conftest import build_config, prepare

    cfg = build_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", redis_url, wp_shared_secret="")
    prepare(cfg)
    app = create_app(cfg)
    body = payloads.body_of(_track_order())
    r = app.test_client().post(WEBHOOK, data=body, headers=payloads.headers("", body, "order.updated"))
    assert r.status_code == 503 and r.get_json()["code"] == "commerce_not_configured"
    app.extensions["scripthammer"].close()


def test_configured_webhook_secret_wins_over_the_derived_one(svc, monkeypatch, client, deliver):
    from companion.commerce.webhooks import webhook_secret

    derived = webhook_secret(svc.config)
    assert derived != svc.config.wp_shared_secret and len(derived) == 64
    monkeypatch.setattr(svc.config, "wc_webhook_secret", "explicit-secret")
    assert deliver(_track_order(), key=derived).status_code == 401
    assert deliver(_track_order(), key="explicit-secret").status_code == 202


def test_forged_webhooks_are_rate_limited_per_address(client, secret, svc, deliver, monkeypatch):
    monkeypatch.setattr(svc.config, "auth_failure_limit", "3 per minute")
    body = payloads.body_of(_track_order())
    forged = payloads.headers("guess", body, "order.updated")
    codes = [client.post(WEBHOOK, data=body, headers=forged).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    blocked = client.post(WEBHOOK, data=body, headers=payloads.headers(secret, body, "order.updated"))
    assert blocked.status_code == 429 and blocked.get_json()["details"]["retry_after_seconds"] > 0
    assert _counts(svc) == (0, 0)


def test_genuine_deliveries_are_not_limited(deliver, svc, monkeypatch):
    monkeypatch.setattr(svc.config, "auth_failure_limit", "3 per minute")
    codes = [deliver(_track_order(order_id=700 + i)).status_code for i in range(6)]
    assert codes == [202] * 6
