"""What every job shares: start, progress, finish, and the retry-or-fail rule."""
from __future__ import annotations

import contextlib
import errno
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


class Outcome:
    """What a ``with running(...) as outcome`` block ended with: ``ok`` only when it finished."""

    ok: bool = False


@contextlib.contextmanager
def running(svc, job_id: str, on_failure=None):
    """Mark the job started; on exit mark it finished, or failed / retrying with the reason.

    Permanent errors (ScriptHammerError: bad input) fail at once and are not retried: the
    block's exception is swallowed, so the caller must look at the yielded
    :class:`Outcome` and run nothing that depends on the block unless ``outcome.ok``.
    Other errors are re-raised for RQ to retry, and recorded as failed on the last attempt; a full disk
    (ENOSPC, or an encoder saying so) is one of them, recorded as ``disk_full`` with what to do.
    ``on_failure(session, job, code, message)`` records the failure elsewhere (e.g. on the track).
    """
    outcome = Outcome()
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        job.state, job.started_at, job.attempts = "started", utcnow(), (job.attempts or 0) + 1
        job.error_code = job.error_message = None
    try:
        yield outcome
    except Exception as exc:
        if _failed(svc, job_id, exc, on_failure):
            return
        raise
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        job.state, job.progress, job.ended_at = "finished", 100, utcnow()
        job.stage = "done"
    outcome.ok = True


def _failed(svc, job_id: str, exc: Exception, on_failure) -> bool:
    """Record why the block failed; True when the failure is final and swallowed (bad input), False when
    the caller must re-raise it for RQ to retry (or to fail on the last attempt)."""
    full = disk_full(exc)
    if full is not None:
        # Not the input's fault, and over once space is freed: retried while retries are left, then
        # failed, with a code and a message that say what to do.
        final = last_attempt()
        _fail(svc, job_id, "disk_full", full, on_failure, final=final)
        log.error("job %s %s: %s", job_id, "failed" if final else "will retry", full)
        return False
    if isinstance(exc, ScriptHammerError):
        _fail(svc, job_id, exc.code, exc.message, on_failure, final=True)
        log.warning("job %s failed: %s", job_id, exc.message)
        return True
    final = last_attempt()
    message = f"{type(exc).__name__}: {exc}"[:2000]
    # A transient failure that knows what went wrong (e.g. wordpress_unavailable) ends with that code.
    named = getattr(exc, "code", None)
    code = "transient_error" if not final else (named if isinstance(named, str) and named else "failed")
    _fail(svc, job_id, code, message, on_failure, final=final)
    log.error("job %s %s: %s\n%s", job_id, "failed" if final else "will retry", message, traceback.format_exc())
    return False


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "File too large")


def disk_full(exc: BaseException) -> str | None:
    """A clear message when ``exc`` (or what caused it, e.g. ffmpeg's stderr) says the disk is full."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            return f"The disk is full{where}: {exc.strerror}. Free some space (or grow the volume); the job can run again."
        text = f"{exc} {getattr(exc, 'stderr', '') or ''}"
        if any(t in text for t in DISK_FULL_TEXT):
            return ("The disk is full: an encoder could not write its output. Free some space (or grow the "
                    "volume); the job can run again.")
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _fail(svc, job_id, code, message, on_failure, final: bool) -> None:
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        job.state = "failed" if final else "retrying"
        job.error_code, job.error_message = code, message
        if final:
            job.ended_at = utcnow()
            if on_failure is not None:
                on_failure(s, job, code, message)
