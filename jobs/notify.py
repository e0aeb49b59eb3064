"""Web Push jobs: the fan-out of one announcement, and one delivery per subscription (companion/notify)."""
from __future__ import annotations

import logging

from companion.errors import ScriptHammerError
from companion.notify import service
from jobs.context import services

log = logging.getLogger("scripthammer.jobs")


def announce(message: dict) -> dict:
    """Queue a delivery job for every subscription to the message's topic."""
    return {"queued": service.announce(services(), message)}


class TransientPushFailure(RuntimeError):
    """The push service did not take the message for now: RQ retries the job (Config.job_retry_intervals)."""


def deliver(subscription_id: int, message: dict) -> dict:
    """Send one message to one subscription. A push service that is away (429, 5xx, network) raises
    TransientPushFailure (RQ retries with backoff); an endpoint that is now refused (it resolves to a
    private address) is given up, not retried."""
    svc = services()
    try:
        return service.deliver(svc, int(subscription_id), message)
    except service.PushRetry as exc:
        raise TransientPushFailure(exc.message) from exc
    except ScriptHammerError as exc:
        log.warning("push to subscription %s given up: %s", subscription_id, exc.message)
        service._note(svc, int(subscription_id), exc.code)
        return {"subscription": subscription_id, "sent": False, "why": exc.code}
