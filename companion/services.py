"""The long-lived things one companion process shares: config, database, store, Redis, band.

The Flask app keeps one :class:`Services` in ``app.extensions``; RQ jobs build their own
from the same Config, so domain code runs the same way with or without HTTP.
"""
from __future__ import annotations

import functools

import redis as redis_lib
from rq import Queue

from companion.band.roster import Band, load_band
from companion.config import Config
from companion.db import Database
from companion.storage import ObjectStore, open_store


class Services:
    def __init__(self, config: Config):
        self.config = config
        self.db = Database(config.database_url)

    @functools.cached_property
    def store(self) -> ObjectStore:
        return open_store(self.config)

    @functools.cached_property
    def redis(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(self.config.redis_url, socket_connect_timeout=3, socket_timeout=10)

    @property
    def band(self) -> Band:
        return load_band(self.config.band_file)

    def queue(self, name: str | None = None) -> Queue:
        return Queue(name or self.config.queue_name, connection=self.redis,
                     default_timeout=self.config.job_timeout)

    def close(self) -> None:
        self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


_cache: dict[str, Services] = {}


def services_for(config: Config) -> Services:
    """One Services per configuration within a worker process (jobs reuse engines and clients)."""
    key = repr(sorted(config.public().items())) + config.wp_shared_secret
    if key not in _cache:
        _cache[key] = Services(config)
    return _cache[key]
