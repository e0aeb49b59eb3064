"""Rate limits (Flask-Limiter on the companion's Redis): failed credentials and public writes.

- Credential failures: every request that presents credentials (a bearer token or a signed
  request) and is answered 401 costs one hit against ``Config.auth_failure_limit`` for its client
  address; once that is spent, any request with credentials from that address gets 429 (with
  Retry-After) before its credentials are even looked at, until the window passes. Requests
  without credentials are neither counted nor blocked by this limit.
- Every route (embed pages, oEmbed, track JSON, HLS playlists and segments under /media, peaks,
  beacons, health, the API...) is limited per client address and route by
  ``Config.public_rate_limit`` (generous: a listener's player never comes near it), whoever calls:
  presenting a token does not lift it, since a made-up one would otherwise do.
- Public writes declare their own, stricter limit on top with :func:`limit_blueprint`. Limits are
  checked before the view runs, so a refused request's body is never read. The one exception is the
  beacons (``/api/beacons``, the hottest public write): they count the public and the beacon limit
  themselves, in the same Redis call that checks the batch for replays and stores it
  (companion/analytics, docs/analytics.md), after reading a body of at most 32 KiB.

Every 429 has the one JSON error shape, with ``details.retry_after_seconds`` and the
``Retry-After`` header. Counters live in Redis under a prefix of the app's queue name, so
several companions (or test apps) on one Redis do not share them. When Redis is unreachable the
limits are skipped (logged) rather than taking the API down: signed requests fail closed anyway,
since their nonces need Redis.
"""
from __future__ import annotations

import math
import time
from typing import Callable

from flask import Flask, current_app, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from companion.band.auth import current_identity, presents_credentials
from companion.config import Config
from companion.errors import TooManyRequests, error_response

AUTH_FAILURES_SCOPE = "auth-failures"

#: scope -> (error code, what the client did too often)
_BREACHES = {AUTH_FAILURES_SCOPE: ("too_many_failures", "Too many requests with failing credentials")}


def client_address() -> str:
    """Who a limit counts: the client's address as the WSGI server sees it (behind a proxy, let the
    proxy set REMOTE_ADDR, e.g. with werkzeug's ProxyFix; X-Forwarded-For is not trusted here)."""
    return get_remote_address() or "unknown"


def listener_or_address() -> str:
    """Who a per-listener limit counts: the signed-in fan (their listener id, whatever address they
    come from), otherwise the client address."""
    try:
        ident = current_identity()
    except Exception:  # bad credentials: answered 401 by the view; counted by address meanwhile
        return client_address()
    lid = (ident.scopes or {}).get("listener_id") if ident.kind == "listener" else None
    return f"listener:{lid}" if lid is not None else client_address()


def _config() -> Config:
    return current_app.config["SCRIPTHAMMER"]


def _failed_credentials(response) -> bool:
    return response.status_code == 401


def init_limiter(app: Flask, config: Config) -> Limiter:
    """The app's Limiter, with the credential-failure limit; kept in ``app.extensions["scripthammer_limiter"]``."""
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter = Limiter(
        key_func=client_address,
        storage_uri=config.redis_url,
        storage_options={"socket_connect_timeout": 2, "socket_timeout": 2, **config.redis_options()},
        key_prefix=f"shm-rl:{config.queue_name}",
        strategy="fixed-window",
        headers_enabled=False,
        swallow_errors=True,
        on_breach=_breach_response,
        # Every route, for every caller (credentials or not: a made-up token must not lift it), per
        # client address and route: Config.public_rate_limit (empty: none).
        default_limits=[lambda: _config().public_rate_limit or "1000000000 per second"],
        default_limits_per_method=False,
        default_limits_exempt_when=lambda: not _config().public_rate_limit,
        application_limits=[ApplicationLimit(
            limit_provider=lambda: _config().auth_failure_limit,
            key_function=client_address,
            scope=AUTH_FAILURES_SCOPE,
            exempt_when=lambda: not presents_credentials(),
            deduct_when=_failed_credentials,
        )],
    )
    limiter.init_app(app)
    limiter.request_filter(_nothing_to_count)
    # the limiter's own before_request resolves every limit before it asks the filter: ask it first
    hooks = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    hooks[:] = [_unless_nothing_to_count(f) if f == check else f for f in hooks]
    app.extensions["scripthammer_limiter"] = limiter
    return limiter


#: blueprints with a limit of their own (limit_blueprint records them)
_BLUEPRINT_LIMITED: set[str] = set()
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unless_nothing_to_count(check: Callable[[], None]) -> Callable[[], None]:
    def before_request() -> None:
        if not _nothing_to_count():
            check()

    return before_request


#: blueprints that count the public limit (and their own) themselves, in their view
_SELF_COUNTED: set[str] = set()


def counts_its_own_limits(limiter: Limiter, blueprint) -> None:
    """``blueprint``'s views count the public limit (and any of their own) themselves (the beacons: in the
    Redis round trip that stores a batch), so Flask-Limiter's default limits leave it; the credential-failure
    limit still applies to its requests that present credentials."""
    from flask_limiter import ExemptionScope

    limiter.exempt(blueprint, flags=ExemptionScope.DEFAULT)
    _SELF_COUNTED.add(blueprint.name)


def _nothing_to_count() -> bool:
    """Whether no limit can apply to this request, so the limiter need not resolve its limits (a third
    of a segment's CPU under load): a request without credentials to a blueprint that counts its own
    limits, or a read (GET, HEAD, OPTIONS) without credentials, with no public limit configured, on a route
    whose blueprint limits no reads. Every other request goes through the limiter."""
    if presents_credentials():
        return False
    if request.blueprint in _SELF_COUNTED and request.blueprint not in _BLUEPRINT_LIMITED:
        return True
    return (request.method in _SAFE_METHODS and not _config().public_rate_limit
            and request.blueprint not in _BLUEPRINT_LIMITED)


def limit_blueprint(limiter: Limiter, blueprint, limit: Callable[[], str], *, code: str, what: str,
                    methods: tuple[str, ...] = ("POST",), key_func: Callable[[], str] = client_address) -> None:
    """Limit every route of ``blueprint`` (its ``methods``) per client address (or per what ``key_func``
    returns, e.g. :func:`listener_or_address`); a breach answers 429 with ``code`` and a message naming
    ``what`` was sent too often."""
    scope = f"{blueprint.name}-writes"
    _BLUEPRINT_LIMITED.add(blueprint.name)
    _BREACHES[scope] = (code, what)
    limiter.limit(limit, key_func=key_func, methods=list(methods), scope=scope,
                  override_defaults=False)(blueprint)


def _breach_response(breach: RequestLimit):
    scope = str(breach.request_args[-1]) if breach.request_args else ""
    code, what = next((v for k, v in _BREACHES.items() if scope == k or scope.endswith(":" + k)),
                      ("too_many_requests", "Too many requests"))
    retry = min(max(1, math.ceil(breach.reset_at - time.time())), breach.limit.get_expiry())
    err = TooManyRequests(f"{what} from this client: at most {breach.limit}. Try again in {retry} s.", code=code,
                          details={"retry_after_seconds": retry, "limit": str(breach.limit)})
    return error_response(err)
