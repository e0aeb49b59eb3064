"""Commerce jobs: apply one WooCommerce webhook delivery; reconcile with WooCommerce's REST API; the
scheduler's tick that queues the next reconciliation.

A delivery that cannot be applied because of bad data fails at once (it is recorded on its row);
WooCommerce unreachable during a reconciliation is transient and retried by RQ.
"""
from __future__ import annotations

from companion.commerce import reconcile as reconciling
from companion.commerce import webhooks
from companion.commerce.woo import WooCommerceUnavailable
from companion.models import import_models
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services

import_models()  # a worker that starts with these jobs knows every table (jobs.track_id -> tracks)


def _params(svc, job_id: str) -> dict:
    with svc.db.session() as s:
        return dict(s.get(Job, job_id).params or {})


def _store_result(svc, job_id: str, result: dict) -> None:
    with svc.db.session() as s:
        s.get(Job, job_id).result = result


def apply_delivery(job_id: str) -> dict:
    """Apply the webhook delivery named in the job's params (``delivery``). Idempotent."""
    svc = services()
    result: dict = {}
    with running(svc, job_id) as outcome:
        result = webhooks.apply_delivery(svc, int(_params(svc, job_id)["delivery"]))
    if outcome.ok:
        _store_result(svc, job_id, result)
    return result


class TransientFailure(RuntimeError):
    """WooCommerce (the WordPress site) down or refusing the key for now: RQ retries the run with the
    backoff of Config.job_retry_intervals; the last attempt's failure is recorded with ``code``."""

    def __init__(self, message: str, code: str = "failed"):
        super().__init__(message)
        self.code = code


def reconcile(job_id: str) -> dict:
    """Reconcile entitlements with WooCommerce (params: ``full``), with progress per page. WooCommerce
    unreachable or refusing the key is transient (re-raised as a plain error, so RQ retries); not
    configured fails at once."""
    svc = services()
    result: dict = {}
    with running(svc, job_id) as outcome:
        try:
            result = reconciling.reconcile(svc, full=bool(_params(svc, job_id).get("full")),
                                           progress=lambda pct, stage: set_progress(svc, job_id, pct, stage))
        except WooCommerceUnavailable as exc:
            raise TransientFailure(f"{exc.code}: {exc.message}", exc.code) from exc
    if outcome.ok:
        _store_result(svc, job_id, result)
    return result


def reconcile_tick() -> str | None:
    """RQ's scheduler calls this every SCRIPTHAMMER_COMMERCE_RECONCILE_MINUTES: queue a run, schedule the next."""
    return reconciling.tick(services())
