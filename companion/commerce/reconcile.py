"""Reconciliation: read orders and subscriptions from WooCommerce's REST API and apply them with the
same rule as webhooks (companion/commerce/entitlements.py), so that a missed webhook is repaired.

Runs on demand (``POST /api/commerce/reconcile``, ``scripthammer commerce reconcile``) and on a schedule
(``scripthammer up`` schedules it every ``SCRIPTHAMMER_COMMERCE_RECONCILE_MINUTES``; each run schedules
the next). A run reads what changed since the last finished run (minus an overlap), or everything
with ``full``; applying is idempotent and ordered by WooCommerce's modification dates, so reading a
document twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import sqlalchemy as sa

from companion.commerce import entitlements
from companion.commerce.woo import WooCommerce
from companion.db import utcnow
from companion.tasks.models import Job
from companion.tasks.service import create_job, submit

JOB_KIND = "commerce_reconcile"
JOB_FUNC = "jobs.commerce.reconcile"
TICK_FUNC = "jobs.commerce.reconcile_tick"
TICK_PREFIX = "shm-commerce-tick-"
#: Modification dates are per second and clocks drift: each run re-reads this much before the last one.
OVERLAP = dt.timedelta(minutes=10)
COLLECTIONS = (("order", "orders"), ("subscription", "subscriptions"))


def last_watermark(svc) -> dt.datetime | None:
    """When the last finished run started (what changed since then is read again)."""
    with svc.db.session() as s:
        job = s.scalars(sa.select(Job).where(Job.kind == JOB_KIND, Job.state == "finished")
                        .order_by(Job.ended_at.desc())).first()
        mark = (job.result or {}).get("watermark") if job is not None else None
    return dt.datetime.fromisoformat(mark) if mark else None


def reconcile(svc, *, full: bool = False, client: WooCommerce | None = None,
              progress: Callable[[int, str], None] | None = None) -> dict:
    """Apply every order and subscription changed since the last run (all of them with ``full``)."""
    progress = progress or (lambda pct, stage: None)
    client = client or WooCommerce.from_config(svc.config)
    started = utcnow()
    since = None if full else last_watermark(svc)
    params = {}
    if since is not None:
        params = {"modified_after": (since - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true"}
    grace = dt.timedelta(hours=max(0, int(svc.config.commerce_grace_hours)))
    counts = {"orders": 0, "subscriptions": 0, "changed": 0, "stale": 0}
    for n, (kind, endpoint) in enumerate(COLLECTIONS):
        for docs, page, total in client.pages(endpoint, params):
            with svc.db.session() as s:
                for doc in docs:
                    res = entitlements.parse(s, kind, "updated", doc, grace=grace)
                    outcome = entitlements.apply_resource(s, res, via="reconcile", config=svc.config)
                    counts[endpoint] += 1
                    if not outcome["applied"]:
                        counts["stale"] += 1
                    elif outcome["changed"]:
                        counts["changed"] += 1
            progress(int(100 * (n + page / total) / len(COLLECTIONS)), f"{endpoint} {page}/{total}")
    return counts | {"full": since is None, "since": since.isoformat() if since else None,
                     "watermark": started.isoformat()}


def request_reconcile(svc, *, full: bool = False, created_by: str | None = None) -> str:
    """Queue a reconciliation job; returns its id."""
    with svc.db.session() as s:
        job = create_job(s, kind=JOB_KIND, params={"full": bool(full)}, created_by=created_by)
    submit(svc, job, JOB_FUNC)
    return job.id


def configured(config) -> bool:
    return bool((config.wc_url or config.wp_url) and config.wc_consumer_key and config.wc_consumer_secret)


def scheduled_ticks(svc) -> list[str]:
    """The ticks waiting in RQ's scheduler."""
    from rq.registry import ScheduledJobRegistry

    registry = ScheduledJobRegistry(queue=svc.queue_for(TICK_FUNC))
    return [i for i in registry.get_job_ids() if i.startswith(TICK_PREFIX)]


def schedule_next(svc, minutes: int | None = None) -> bool:
    """Put the next scheduled run on RQ's scheduler (the worker runs with its scheduler), unless one
    is already waiting; False when reconciliation is off or not configured."""
    import uuid

    minutes = int(svc.config.commerce_reconcile_minutes if minutes is None else minutes)
    if minutes <= 0 or not configured(svc.config):
        return False
    if scheduled_ticks(svc):
        return True
    svc.queue_for(TICK_FUNC).enqueue_in(dt.timedelta(minutes=minutes), TICK_FUNC, job_id=TICK_PREFIX + uuid.uuid4().hex[:12],
                           result_ttl=0, failure_ttl=86400, description="scheduled WooCommerce reconciliation")
    return True


def tick(svc) -> str | None:
    """The scheduler's call: queue a run, then schedule the next one."""
    job_id = request_reconcile(svc, created_by="schedule") if configured(svc.config) else None
    schedule_next(svc)
    return job_id


def runs(svc, limit: int = 10) -> list[dict]:
    with svc.db.session() as s:
        jobs = s.scalars(sa.select(Job).where(Job.kind == JOB_KIND).order_by(Job.created_at.desc()).limit(limit)).all()
        return [{"job_id": j.id, "state": j.state, "progress": j.progress, "stage": j.stage,
                 "created_by": j.created_by, "created_at": j.created_at, "ended_at": j.ended_at,
                 "result": j.result or {}, "error": {"code": j.error_code, "message": j.error_message}
                 if j.error_code else None} for j in jobs]
