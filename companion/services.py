"""The long-lived things one companion process shares: config, database, store, Redis, band.

The Flask app keeps one :class:`Services` in ``app.extensions``; RQ jobs build their own
from the same Config, so domain code runs the same way with or without HTTP.
"""
from __future__ import annotations

import functools

import redis as redis_lib
from rq import Queue, Worker

from companion.band.roster import Band, load_band
from companion.config import Config
from companion.db import Database
from companion.storage import ObjectStore, open_store


class Services:
    def __init__(self, config: Config):
        self.config = config
        self.db = Database(config.database_url)
        if config.composition_store == "shared":
            from companion.compositions.shared import use_shared

            use_shared(config.compositions_dir, self.db, lambda: self.store)

    @functools.cached_property
    def store(self) -> ObjectStore:
        return open_store(self.config)

    @functools.cached_property
    def redis(self) -> redis_lib.Redis:
        """The companion's Redis (AUTH and TLS from the config); reconnects by itself after an outage."""
        return redis_lib.Redis.from_url(self.config.redis_url, socket_connect_timeout=3, socket_timeout=10,
                                        health_check_interval=30, **self.config.redis_options())

    @property
    def band(self) -> Band:
        return load_band(self.config.band_file)

    def queue(self, kind: str) -> Queue:
        """The queue of one kind of work ("release", "render", "publish", ...: companion/tasks/queues.py)."""
        from companion.tasks.queues import make_queue

        return make_queue(self, kind)

    def queue_for(self, func: str) -> Queue:
        """The queue a job function (``jobs.render.render_job``) is routed to."""
        from companion.tasks.queues import kind_of

        return self.queue(kind_of(func))

    def queues(self, kinds=None) -> list[Queue]:
        """The queues of ``kinds`` (default: every queue)."""
        from companion.tasks.queues import make_queues

        return make_queues(self, kinds)

    def worker(self, cls: type[Worker] | None = None, kinds=None, **kwargs) -> Worker:
        """An RQ worker (``cls``: default the forking CompanionWorker; SimpleWorker runs jobs in this
        process) on ``kinds`` (default: every queue), JSON only."""
        from companion.tasks.queues import CompanionWorker, make_worker

        return make_worker(self, kinds, cls=cls or CompanionWorker, **kwargs)

    def at_close(self, fn) -> None:
        """Call ``fn(self)`` when these services close (e.g. live sessions this process runs stop first)."""
        closers = self.__dict__.setdefault("_closers", [])
        if fn not in closers:
            closers.append(fn)

    def close(self) -> None:
        for fn in self.__dict__.get("_closers", []):
            fn(self)
        self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


def current() -> Services:
    """The Services of the Flask app handling this request (kept in ``app.extensions``)."""
    from flask import current_app

    return current_app.extensions["scripthammer"]


_cache: dict[str, Services] = {}


def services_for(config: Config) -> Services:
    """One Services per configuration within a worker process (jobs reuse engines and clients)."""
    key = repr(sorted(config.public().items())) + config.wp_shared_secret + config.redis_url + config.redis_password
    if key not in _cache:
        _cache[key] = Services(config)
    return _cache[key]
