"""The RQ worker of the companion: one process works one group of queues (default: all of them)."""
from __future__ import annotations

import logging
from typing import Iterable

from companion.config import Config
from jobs import context


def run_worker(config: Config | None = None, *, queues: Iterable[str] | None = None, burst: bool = False,
               name: str | None = None) -> bool:
    """Work ``queues`` (kinds such as "release", "render"; default: every queue) until stopped, or with
    ``burst`` until they are empty. JSON-serialised jobs only; runs RQ's scheduler (retries with
    backoff, scheduled jobs) and its maintenance (a dead worker's abandoned job is retried)."""
    config = config or Config.from_env()
    context.configure(config)
    svc = context.services()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    worker = svc.worker(kinds=list(queues) if queues else None, name=name)
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
