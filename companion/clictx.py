"""What every `scripthammer` subcommand shares: the configuration from the environment, the
Services built from it (the same ones jobs run inline in the CLI use), and running a job here.

Room CLIs (companion/<room>/cli.py) import this module, never companion/cli.py.
"""
from __future__ import annotations

import importlib

from companion.config import Config
from companion.services import Services


def config() -> Config:
    return Config.from_env()


def services() -> Services:
    """The Services of this command, also used by jobs it runs in this process (with every room's
    models known: a job row's foreign keys name other rooms' tables)."""
    from companion.models import import_models
    from jobs import context

    import_models()
    context.configure(config())
    return context.services()


def run_inline(job_id: str, func: str):
    """Run a queued job's function (``module.name``) in this process, now."""
    mod, name = func.rsplit(".", 1)
    return getattr(importlib.import_module(mod), name)(job_id)


#: jobs a job's result may name as queued by it (result key -> function), run after it when inline
FOLLOW_UPS = {"release_job": "jobs.release.release_track", "shf_job": "jobs.render.attach_shf_job"}


def queue_job(svc: Services, kind: str, params: dict, func: str, created_by: str | None, inline: bool,
              track_id: int | None = None) -> str:
    """A job row for ``func``, queued on RQ; or, when ``inline``, run here now with the follow-up jobs
    its result names (they are queued on RQ too, and are idempotent: a worker running them again
    changes nothing)."""
    from companion.tasks.service import create_job, submit

    with svc.db.session() as s:
        job = create_job(s, kind=kind, track_id=track_id, created_by=created_by, params=params)
        job_id = job.id
    if not inline:
        submit(svc, job, func)
        return job_id
    run_inline(job_id, func)
    result = job_summary(svc, job_id)["result"] or {}
    for key, follow in FOLLOW_UPS.items():
        if result.get(key):
            run_inline(result[key], follow)
    return job_id


def job_summary(svc: Services, job_id: str) -> dict:
    from companion.tasks.models import Job

    with svc.db.session() as s:
        job = s.get(Job, job_id)
        return {"job": job_id, "state": job.state, "error": job.error_message, "result": job.result}
