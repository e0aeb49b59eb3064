"""The publish job: create or update a track's or album's WordPress post, or return it to draft.

WordPress down or the credentials wrong are transient: the attempt is recorded on the publication
as "retrying" with the reason, and RQ retries with backoff; after the last attempt the publication
shows "failed" with the reason. WordPress refusing the content fails at once.

Publishing a draft or unreleased item releases it (release_state public) once WordPress has the post,
so the page's player can show it; the job's result says so (``released_from``).
"""
from __future__ import annotations

from companion.tasks.models import Job
from companion.tasks.service import set_progress
from companion.wordpress import service
from companion.wordpress.client import WordPressAuthError, WordPressUnavailable
from jobs.base import last_attempt, running
from jobs.context import services


class TransientFailure(RuntimeError):
    """WordPress down or refusing the credentials for now: RQ retries the job (with the backoff of
    Config.job_retry_intervals); the last attempt's failure is recorded with ``code``."""

    def __init__(self, message: str, code: str = "failed"):
        super().__init__(message)
        self.code = code


def publish_item(job_id: str) -> dict:
    """Run one publish or unpublish job (params: kind, item_id, action). Idempotent."""
    svc = services()
    result: dict = {}
    with running(svc, job_id, on_failure=service.on_job_failure):
        with svc.db.session() as s:
            params = dict(s.get(Job, job_id).params or {})
        kind, item_id, action = params["kind"], int(params["item_id"]), params.get("action", "publish")
        try:
            if action == "unpublish":
                result = service.unpublish(svc, kind, item_id)
            else:
                result = service.publish(svc, kind, item_id,
                                         progress=lambda pct, stage: set_progress(svc, job_id, pct, stage))
        except (WordPressUnavailable, WordPressAuthError) as exc:
            service.record_failure(svc, kind, item_id, exc, final=last_attempt())
            # Transient: re-raised as a plain error, so that running() lets RQ retry (a ScriptHammerError
            # would fail the job at once).
            raise TransientFailure(f"{type(exc).__name__}: {exc.message}", exc.code) from exc
        with svc.db.session() as s:
            s.get(Job, job_id).result = {k: v for k, v in result.items() if k in (
                "wp_post_id", "wp_status", "wp_link", "state", "created", "release_state", "released_from", "product")}
    return result
