"""The RQ worker for the companion's queue."""
from __future__ import annotations

import logging

from rq import Worker

from companion.config import Config
from jobs import context


def run_worker(config: Config | None = None, *, burst: bool = False, name: str | None = None) -> bool:
    """Work the companion's queue until stopped (or, with ``burst``, until it is empty)."""
    config = config or Config.from_env()
    context.configure(config)
    svc = context.services()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    worker = Worker([svc.queue()], connection=svc.redis, name=name)
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
