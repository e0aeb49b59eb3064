"""What every job shares: start, progress, finish, and the retry-or-fail rule."""
from __future__ import annotations

import contextlib
import logging
import traceback

from rq import get_current_job

from companion.db import utcnow
from companion.errors import ScriptHammerError
from companion.tasks.models import Job

log = logging.getLogger("scripthammer.jobs")


def last_attempt() -> bool:
    """True when RQ will not retry this job again after a failure (or outside RQ)."""
    rq_job = get_current_job()
    return rq_job is None or not getattr(rq_job, "retries_left", None)


@contextlib.contextmanager
def running(svc, job_id: str, on_failure=None):
    """Mark the job started; on exit mark it finished, or failed / retrying with the reason.

    Permanent errors (ScriptHammerError: bad input) fail at once and are not retried; other
    errors are re-raised for RQ to retry, and recorded as failed on the last attempt.
    ``on_failure(session, job, code, message)`` records the failure elsewhere (e.g. on the track).
    """
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        job.state, job.started_at, job.attempts = "started", utcnow(), (job.attempts or 0) + 1
        job.error_code = job.error_message = None
    try:
        yield
    except ScriptHammerError as exc:
        _fail(svc, job_id, exc.code, exc.message, on_failure, final=True)
        log.warning("job %s failed: %s", job_id, exc.message)
        return
    except Exception as exc:
        final = last_attempt()
        message = f"{type(exc).__name__}: {exc}"[:2000]
        _fail(svc, job_id, "transient_error" if not final else "failed", message, on_failure, final=final)
        log.error("job %s %s: %s\n%s", job_id, "failed" if final else "will retry", message, traceback.format_exc())
        raise
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        job.state, job.progress, job.ended_at = "finished", 100, utcnow()
        job.stage = "done"


def _fail(svc, job_id, code, message, on_failure, final: bool) -> None:
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        job.state = "failed" if final else "retrying"
        job.error_code, job.error_message = code, message
        if final:
            job.ended_at = utcnow()
            if on_failure is not None:
                on_failure(s, job, code, message)
