"""Creating job rows, enqueueing them on RQ, and recording their progress."""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.db import utcnow
from companion.errors import ServiceUnavailable
from companion.tasks.models import Job

def create_job(session: Session, *, kind: str, track_id: int | None = None, params: dict | None = None,
               created_by: str | None = None) -> Job:
    job = Job(kind=kind, track_id=track_id, params=params or {}, created_by=created_by, state="queued")
    session.add(job)
    session.flush()
    return job


def enqueue_job(svc, job: Job, func: str, *, after: str | None = None) -> None:
    """Put ``func(job.id)`` on the queue of its kind (companion/tasks/queues.py) with retries and backoff;
    with ``after`` (an RQ job id), it runs once that job has ended, however it ended.
    ServiceUnavailable (``queue_unavailable``) if Redis is down."""
    from rq import Retry
    from rq.job import Dependency

    intervals = svc.config.retry_intervals
    try:
        rq_job = svc.queue_for(func).enqueue_call(
            func, args=(job.id,), timeout=svc.config.job_timeout, job_id=f"shm-{job.id}",
            depends_on=Dependency(jobs=[after], allow_failure=True) if after else None,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            result_ttl=86400, failure_ttl=7 * 86400, description=f"{job.kind} job {job.id}")
    except Exception as exc:  # redis.ConnectionError and friends
        raise ServiceUnavailable("The job queue (Redis) is unreachable; nothing was queued. Try again shortly.",
                                 code="queue_unavailable") from exc
    job.rq_id = rq_job.id


def submit(svc, job: Job, func: str, undo: Callable[[Session], None] | None = None, *,
           after: str | None = None) -> None:
    """Enqueue a job whose row is already committed (a worker that takes it at once must find the row);
    ``after``: an RQ job id it waits for (see :func:`enqueue_job`).

    If the queue is unreachable, the row is marked failed (``queue_unavailable``), ``undo(session)``
    reverts what the caller changed for the job, and ServiceUnavailable is raised.
    """
    try:
        enqueue_job(svc, job, func, after=after)
    except ServiceUnavailable as exc:
        with svc.db.session() as s:
            s.execute(sa.update(Job).where(Job.id == job.id).values(
                state="failed", error_code=exc.code, error_message=exc.message, ended_at=utcnow()))
            if undo is not None:
                undo(s)
        raise
    with svc.db.session() as s:
        s.execute(sa.update(Job).where(Job.id == job.id).values(rq_id=job.rq_id))


def set_progress(svc, job_id: str, percent: int, stage: str) -> None:
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        if job is not None:
            job.progress = max(job.progress if job.state == "started" else 0, min(100, int(percent)))
            job.stage = stage[:80]
