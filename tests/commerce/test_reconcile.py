"""Reconciliation through the ``woocommerce`` client, against a real HTTP server: the labelled
WooCommerce REST stand-in (tests/commerce/wc_standin.py), which checks OAuth 1.0a like WooCommerce.
A missed webhook (grant or refund) is repaired; runs read only what changed; the API and CLI start it;
the scheduler keeps one tick waiting."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from companion.tasks.models import Job

from . import payloads
from .wc_standin import WooCommerceStandin

T0 = dt.datetime(2026, 12, 1, 10, 0, 0)


@pytest.fixture
def store():
    with WooCommerceStandin() as standin:
        yield standin


@pytest.fixture
def config(config, store):
    config.wc_url, config.wc_consumer_key, config.wc_consumer_secret = store.url, store.consumer_key, store.consumer_secret
    return config


def _reconcile(client, auth, run_jobs, svc, full=False):
    r = client.post("/api/commerce/reconcile" + ("?full=true" if full else ""), headers=auth("ivory"))
    assert r.status_code == 202, r.get_json()
    run_jobs()
    with svc.db.session() as s:
        job = s.get(Job, r.get_json()["job_id"])
        return job.state, job.result, job.error_message


def test_a_missed_grant_and_a_missed_refund_are_repaired(store, client, auth, run_jobs, rights, svc, db_kind):
    store.put("orders", payloads.order(101, "completed", [payloads.line_item(501, "track:7")], modified=T0))
    store.put("orders", payloads.order(102, "completed", [payloads.line_item(600, "")], modified=T0))  # a tip
    store.put("subscriptions", payloads.subscription(801, "active", [payloads.line_item(700, "all")],
                                                     customer_id=43, modified=T0,
                                                     next_payment=dt.datetime.utcnow() + dt.timedelta(days=20)))
    state, result, err = _reconcile(client, auth, run_jobs, svc)
    assert state == "finished", err
    assert result["orders"] == 2 and result["subscriptions"] == 1 and result["changed"] == 2 and result["full"]
    assert rights(42)["purchase:wc-order:101:track:7"][0] is True
    assert rights(43)["subscription:wcs-subscription:801:all"][0] is True
    # The refund's webhook never arrived; the next run reads only what changed since the last one.
    store.put("orders", payloads.order(101, "refunded", [payloads.line_item(501, "track:7")],
                                       modified=dt.datetime.utcnow()))
    store.requests.clear()
    state, result, err = _reconcile(client, auth, run_jobs, svc)
    assert state == "finished", err
    assert rights(42)["purchase:wc-order:101:track:7"][:2] == (False, "wc-refunded")
    asked = [r for r in store.requests if r["path"].endswith("/orders")]
    assert asked and all(r["params"].get("modified_after") and r["params"]["dates_are_gmt"] == "true" for r in asked)
    assert result["orders"] == 1 and result["changed"] == 1 and not result["full"]
    # Running again changes nothing (idempotent), a full run neither.
    state, result, _ = _reconcile(client, auth, run_jobs, svc, full=True)
    assert result["changed"] == 0 and result["orders"] == 2 and result["full"]


def test_pages_are_followed_and_progress_is_reported(store, svc):
    from companion.commerce import reconcile

    for i in range(1, 121):
        store.put("orders", payloads.order(1000 + i, "completed", [payloads.line_item(501, f"track:{i}")],
                                           customer_id=50 + i % 3, modified=T0))
    seen = []
    result = reconcile.reconcile(svc, full=True, progress=lambda pct, stage: seen.append((pct, stage)))
    assert result["orders"] == 120 and result["changed"] == 120
    assert [s for _, s in seen][:3] == ["orders 1/3", "orders 2/3", "orders 3/3"]
    assert seen[-1][0] == 100 and sorted(p for p, _ in seen) == [p for p, _ in seen]


def test_without_subscriptions_the_orders_are_still_reconciled(svc):
    from companion.commerce import reconcile
    from companion.commerce.woo import WooCommerce

    with WooCommerceStandin(subscriptions=False) as bare:
        bare.put("orders", payloads.order(5, "completed", [payloads.line_item(1, "album:1")], modified=T0))
        result = reconcile.reconcile(svc, full=True, client=WooCommerce(bare.url, bare.consumer_key, bare.consumer_secret))
    assert result["orders"] == 1 and result["subscriptions"] == 0


def test_a_wrong_key_fails_the_run_with_the_reason(store, client, auth, run_jobs, svc, monkeypatch):
    monkeypatch.setattr(svc.config, "wc_consumer_secret", "cs_wrong")
    state, result, err = _reconcile(client, auth, run_jobs, svc)
    assert state == "failed" and "refused the REST API key (401)" in err


def test_woocommerce_down_fails_the_run_and_is_retried(client, auth, svc, monkeypatch, run_jobs):
    from tests.conftest import free_port

    monkeypatch.setattr(svc.config, "wc_url", f"http://127.0.0.1:{free_port()}")
    state, _, err = _reconcile(client, auth, run_jobs, svc)
    assert state == "failed" and "cannot be reached" in err


def test_who_may_reconcile(client, auth, store, app):
    assert client.post("/api/commerce/reconcile").status_code == 401
    # Checked before the query is read: anonymous with a bad query is still 401.
    assert client.post("/api/commerce/reconcile?full=maybe").status_code == 401
    member = client.post("/api/commerce/reconcile", headers=auth("crash"))
    assert member.status_code == 403 and member.get_json()["details"]["right"] == "commerce.reconcile"
    fan = client.post("/api/commerce/reconcile", headers=auth("listener"))
    assert fan.status_code == 403
    assert client.post("/api/commerce/reconcile?full=maybe", headers=auth("ivory")).status_code == 400
    assert client.get("/api/commerce/reconcile").status_code == 401
    assert client.get("/api/commerce/reconcile", headers=auth("listener")).status_code == 403
    status = client.get("/api/commerce/reconcile", headers=auth("crash")).get_json()
    assert status["configured"] is True and status["every_minutes"] == 60 and status["runs"] == []


def test_not_configured(client, auth, svc, monkeypatch):
    monkeypatch.setattr(svc.config, "wc_consumer_key", "")
    r = client.post("/api/commerce/reconcile", headers=auth("ivory"))
    assert r.status_code == 503 and r.get_json()["code"] == "woocommerce_not_configured"


def test_the_schedule_keeps_one_tick_waiting(svc, store, run_jobs, rights):
    from companion.commerce import reconcile
    from jobs.commerce import reconcile_tick

    store.put("orders", payloads.order(101, "completed", [payloads.line_item(501, "track:7")], modified=T0))
    assert reconcile.schedule_next(svc) is True
    assert reconcile.schedule_next(svc) is True
    assert len(reconcile.scheduled_ticks(svc)) == 1
    # The tick (what RQ's scheduler runs when it is due) queues a run; the run repairs.
    job_id = reconcile_tick()
    assert job_id and len(reconcile.scheduled_ticks(svc)) == 1
    run_jobs()
    assert rights(42)["purchase:wc-order:101:track:7"][0] is True
    with svc.db.session() as s:
        assert s.get(Job, job_id).created_by == "schedule"
    svc.config.commerce_reconcile_minutes = 0
    assert reconcile.schedule_next(svc) is False


def test_cli_reconcile_inline(store, app, svc, rights):
    from click.testing import CliRunner

    from companion.cli import main
    from tests.wordpress.conftest import config_env

    store.put("orders", payloads.order(101, "completed", [payloads.line_item(501, "track:7")], modified=T0))
    result = CliRunner().invoke(main, ["commerce", "reconcile", "--inline", "--full"], env=config_env(svc.config))
    assert result.exit_code == 0, result.output
    assert "orders 1, subscriptions 0, changed 1" in result.output
    assert rights(42)["purchase:wc-order:101:track:7"][0] is True
    bad = dict(config_env(svc.config), SCRIPTHAMMER_WC_CONSUMER_KEY="")
    result = CliRunner().invoke(main, ["commerce", "reconcile", "--inline"], env=bad)
    assert result.exit_code == 1 and "SCRIPTHAMMER_WC_CONSUMER_KEY" in result.output
