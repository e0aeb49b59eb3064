"""Analytics jobs: write what waits on the beacon stream, and keep the PostgreSQL day partitions."""
from __future__ import annotations

from companion.analytics import ingest
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services


def drain_job(job_id: str) -> dict:
    """Write every entry waiting on the stream now (a consumer that stops when the stream is empty:
    RQ workers of the analytics queue can scale ingest out this way too). Idempotent."""
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        set_progress(svc, job_id, 5, "reading the stream")
        result = {"entries": ingest.drain(svc)}
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result


def partitions_job(job_id: str) -> dict:
    """Make the coming days' partitions and drop those past the retention (PostgreSQL; elsewhere nothing)."""
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        set_progress(svc, job_id, 10, "partitions")
        result = ingest.maintain_partitions(svc)
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result


def rollup_job(job_id: str) -> dict:
    """Roll the days of the job's params ``{"days": [ISO dates]}`` (none: the due ones, today and
    yesterday and a few never rolled). Idempotent: a day's rollups are made again from its events in one
    transaction."""
    import datetime as dt

    from companion.analytics import rollups

    svc = services()
    result: dict = {}
    with running(svc, job_id):
        set_progress(svc, job_id, 10, "rollups")
        with svc.db.session() as s:
            days = list((s.get(Job, job_id).params or {}).get("days") or [])
        if days:
            todo = [dt.date.fromisoformat(d) for d in days]
        else:
            with svc.db.session() as s:
                todo = rollups.due_days(s, late_hours=float(svc.config.analytics_rollup_late_hours))
        result = {"rolled": rollups.roll(svc.db, todo)}
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result
