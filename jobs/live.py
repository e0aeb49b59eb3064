"""The live job: a worker of the "live" queue hosts one live session (its rig, its robots, its
broadcast) for as long as it runs; the companion's API starts it and stops it through the database.
A session runs once: a retried job finds it no longer "starting" and does nothing."""
from __future__ import annotations

from companion.live import service
from companion.models import import_models
from companion.tasks.models import Job
from jobs.base import running
from jobs.context import services

import_models()  # the job rows refer to tables of other rooms (tracks)


def run_session(job_id: str) -> dict:
    """Host the live session named in the job's params (session_id) until it ends."""
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        with svc.db.session() as s:
            session_id = int((s.get(Job, job_id).params or {})["session_id"])
        result = service.host_session(svc, session_id)
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result
