"""The companion's RQ queues: one per kind of work, JSON-serialised, each worked by its own workers.

A long render must never delay a publish or a WooCommerce webhook, so every job function is routed
to the queue of its kind (:data:`ROUTES`) and ``scripthammer up`` (or one ``scripthammer worker
--queues ...`` per container) gives each group of queues its own worker processes, which scale on
their own.

Every queue and every worker uses RQ's JSON serializer: a job in Redis is a function *name* and JSON
arguments, never a pickle, so write access to Redis does not give code execution on the workers
(RQ imports only the named function, which must live in ``jobs.``). Job arguments and results must
therefore be JSON values (ids, strings, numbers, lists, dicts).

Queue names in Redis are ``<SCRIPTHAMMER_QUEUE_NAME>:<kind>`` (e.g. ``scripthammer:release``), so
several companions (or test apps) can share one Redis.
"""
from __future__ import annotations

from typing import Iterable

from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from companion.errors import InvalidInput, ScriptHammerError

#: every queue kind, in the order a worker of all of them takes work (short jobs first).
QUEUES = ("publish", "commerce", "default", "release", "render", "live", "analytics")

#: job module -> queue kind; a job module not named here goes to "default".
ROUTES = {
    "jobs.publish": "publish",
    "jobs.commerce": "commerce",
    "jobs.release": "release",
    "jobs.render": "render",
    "jobs.generate": "render",
    "jobs.live": "live",
    "jobs.analytics": "analytics",
    "jobs.rights": "release",
}

SERIALIZER = JSONSerializer

#: the worker groups of ``scripthammer up`` (SCRIPTHAMMER_WORKER_GROUPS): ";" between groups, "," within.
DEFAULT_GROUPS = "publish,commerce,default;release;render;live,analytics"


#: the only modules whose functions a worker runs (a job naming anything else fails, unrun).
ALLOWED_MODULES = ("jobs.",)


class UnknownQueue(InvalidInput):
    """A queue kind that is not one of :data:`QUEUES`."""

    code = "unknown_queue"


class ForbiddenJob(ScriptHammerError):
    """A job in Redis names a function (or callback) outside ``jobs.``: refused, never imported."""

    code = "forbidden_job"


def _allowed(name: str | None) -> str | None:
    if name is not None and not str(name).startswith(ALLOWED_MODULES):
        raise ForbiddenJob(f"refused to run {name!r}: workers run only functions of the jobs package")
    return name


class CompanionJob(Job):
    """An RQ job that runs only ``jobs.*`` functions, never a method of a stored instance, and whose
    callbacks (if any) are ``jobs.*`` too: with the JSON serializer, write access to Redis can queue
    work the companion already does, not run code of the writer's choosing."""

    @property
    def func(self):
        if self.instance is not None:
            raise ForbiddenJob("refused a job that calls a method of a stored instance")
        _allowed(self.func_name)
        return super().func

    @property
    def success_callback(self):
        _allowed(self._success_callback_name)
        return super().success_callback

    @property
    def failure_callback(self):
        _allowed(self._failure_callback_name)
        return super().failure_callback

    @property
    def stopped_callback(self):
        _allowed(self._stopped_callback_name)
        return super().stopped_callback


def kind_of(func: str) -> str:
    """The queue kind of a job function named ``module.function`` (``jobs.render.render_job`` -> render)."""
    return ROUTES.get(func.rsplit(".", 1)[0], "default")


def check_kinds(kinds: Iterable[str]) -> list[str]:
    """``kinds`` as a list, each checked; UnknownQueue names the first that is not a queue."""
    out = []
    for kind in kinds:
        kind = kind.strip()
        if kind not in QUEUES:
            raise UnknownQueue(f"unknown queue {kind!r}: the queues are {', '.join(QUEUES)}")
        if kind not in out:
            out.append(kind)
    return out


def parse_groups(text: str) -> list[list[str]]:
    """``"publish,commerce;release"`` -> ``[["publish", "commerce"], ["release"]]`` (checked)."""
    groups = [check_kinds(k for k in g.split(",") if k.strip()) for g in str(text).split(";") if g.strip()]
    missing = [k for k in QUEUES if not any(k in g for g in groups)]
    if missing:
        raise UnknownQueue(f"no worker group takes the queue(s) {', '.join(missing)}: every queue needs one")
    return groups


def queue_name(prefix: str, kind: str) -> str:
    return f"{prefix}:{kind}"


def make_queue(svc, kind: str) -> Queue:
    (kind,) = check_kinds([kind])
    return Queue(queue_name(svc.config.queue_name, kind), connection=svc.redis, serializer=SERIALIZER,
                 job_class=CompanionJob, default_timeout=svc.config.job_timeout)


def make_queues(svc, kinds: Iterable[str] | None = None) -> list[Queue]:
    return [make_queue(svc, k) for k in check_kinds(QUEUES if kinds is None else kinds)]


class CompanionWorker(Worker):
    """RQ's forking worker, whose running job's heartbeat outlives a beat by ``heartbeat_grace`` seconds
    (RQ's own is 60): when a worker dies with its work horse (SIGKILL, a machine lost), its job is
    "abandoned" once that lease runs out, and the next maintenance of any worker of the queue
    (StartedJobRegistry cleanup) retries it while it has retries left."""

    heartbeat_grace: int = 60

    @property
    def dequeue_timeout(self) -> int:
        """Wait for work at most one maintenance interval, so that an idle worker looks for abandoned
        jobs on time (RQ's own waits worker_ttl - 15 s, minutes)."""
        return max(1, min(super().dequeue_timeout, int(self.maintenance_interval)))

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return max(1, super().get_heartbeat_ttl(job, working_time) - 60 + int(self.heartbeat_grace))

    def maintain_heartbeats(self, job: Job, execution) -> None:
        """A heartbeat while the work horse runs: when Redis is away for a moment (restarted), skip this
        beat instead of letting RQ's monitor raise and the worker quit with its horse still working;
        the next beat, once Redis is back, renews the lease (its grace outlasts a short outage)."""
        import redis

        try:
            super().maintain_heartbeats(job, execution)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            self.log.warning("Worker %s: Redis unavailable during a heartbeat (%s); the job goes on", self.name, exc)


def make_worker(svc, kinds: Iterable[str] | None = None, *, cls: type[Worker] = CompanionWorker,
                **kwargs) -> Worker:
    """A worker of ``cls`` (CompanionWorker, SimpleWorker...) on the queues ``kinds`` (default: all),
    JSON only, with the config's heartbeat and maintenance intervals."""
    kwargs.setdefault("job_monitoring_interval", max(1, int(svc.config.worker_monitor_seconds)))
    kwargs.setdefault("maintenance_interval", max(1, int(svc.config.worker_maintenance_seconds)))
    worker = cls(make_queues(svc, kinds), connection=svc.redis, serializer=SERIALIZER, job_class=CompanionJob,
                 **kwargs)
    if isinstance(worker, CompanionWorker):
        worker.heartbeat_grace = max(1, int(svc.config.worker_heartbeat_grace))
    return worker


def depths(svc) -> dict[str, int]:
    """Jobs waiting in each queue."""
    return {q.name.rsplit(":", 1)[1]: q.count for q in make_queues(svc)}
