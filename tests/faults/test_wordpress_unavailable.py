"""The WordPress site (WooCommerce on it) unavailable while commerce work runs.

- A reconciliation that reads WooCommerce's REST API while the site refuses connections is retried by
  RQ with the configured backoff (Config.job_retry_intervals) and then fails with a clear state:
  ``woocommerce_unavailable`` and the reason, each attempt counted, nothing granted or revoked.
- A WooCommerce webhook needs nothing from the site to be applied: with the site down it is accepted,
  applied once and grants what it sold.

The publish side (WordPress down during a publish, through RQ retries, against a real WordPress behind
a fault proxy) is tests/wordpress/test_wordpress_unavailable.py.
"""
from __future__ import annotations

import socket
import time

import sqlalchemy as sa
from rq import SimpleWorker

from tests.commerce import payloads
from tests.conftest import free_port

WEBHOOK = "/api/commerce/woocommerce/webhook"


def refusing_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    port = free_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


def work_until_final(svc, job_id: str, timeout: float = 90.0) -> dict:
    """Run a real RQ worker (in this process, with its scheduler, so retries with a backoff come due)
    until the job finishes or fails; returns its row."""
    from companion.tasks.models import Job

    deadline = time.time() + timeout
    states = []
    while time.time() < deadline:
        svc.worker(SimpleWorker).work(burst=True, with_scheduler=True)
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            row = {"state": job.state, "attempts": job.attempts, "error_code": job.error_code,
                   "error_message": job.error_message, "result": job.result}
        if not states or states[-1] != (row["state"], row["attempts"]):
            states.append((row["state"], row["attempts"]))
        if row["state"] in ("finished", "failed"):
            return row | {"states": states}
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {states} after {timeout}s")


def test_reconcile_with_the_site_down_retries_with_backoff_then_fails_clearly(app_with):
    from companion.access.models import Entitlement
    from companion.commerce.reconcile import request_reconcile

    app = app_with(job_retries=2, job_retry_intervals="1,2", wc_url=f"http://127.0.0.1:{refusing_port()}",
                   wc_consumer_key="ck_test", wc_consumer_secret="cs_test")
    svc = app.extensions["scripthammer"]
    with app.app_context():
        job_id = request_reconcile(svc, created_by="test")
        rq_job = svc.queue_for("jobs.commerce.reconcile").fetch_job(f"shm-{job_id}")
        assert rq_job.retries_left == 2 and list(rq_job.retry_intervals) == [1, 2]  # the backoff
        row = work_until_final(svc, job_id)
    assert row["state"] == "failed" and row["attempts"] == 3, row
    assert ("retrying", 1) in row["states"] and ("retrying", 2) in row["states"], row["states"]
    assert row["error_code"] == "woocommerce_unavailable", row
    assert "TransientFailure" in row["error_message"] and "woocommerce_unavailable" in row["error_message"]
    with svc.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Entitlement)) == 0
    # The API says the same to the band.
    client = app.test_client()
    member = next(k for k in app.test_tokens if k != "listener")
    job = client.get(f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {app.test_tokens[member]}"}).get_json()
    assert job["state"] == "failed" and job["error"]["code"] == "woocommerce_unavailable", job


def test_a_webhook_is_applied_while_the_site_is_down(app_with):
    from companion.access.models import Entitlement
    from companion.commerce.webhooks import webhook_secret

    down = f"http://127.0.0.1:{refusing_port()}"
    app = app_with(job_retries=2, job_retry_intervals="1", wp_url=down, wc_url=down,
                   wc_consumer_key="ck_test", wc_consumer_secret="cs_test")
    svc = app.extensions["scripthammer"]
    doc = payloads.order(901, "completed", [payloads.line_item(501, "track:7")], customer_id=42)
    body = payloads.body_of(doc)
    client = app.test_client()
    r = client.post(WEBHOOK, data=body, headers=payloads.headers(webhook_secret(svc.config), body, "order.updated"))
    assert r.status_code == 202, r.get_json()
    with app.app_context():
        row = work_until_final(svc, r.get_json()["job_id"])
    assert row["state"] == "finished" and row["attempts"] == 1, row
    with svc.db.session() as s:
        scopes = s.scalars(sa.select(Entitlement.scope)).all()
    assert scopes == ["track:7"]
