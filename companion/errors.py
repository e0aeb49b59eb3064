"""Typed errors of the companion and the one JSON shape every error takes.

Domain code raises these; :func:`register_error_handlers` turns each into
``{"status": 404, "code": "not_found", "message": "...", "details": {...}}``.

Every exception class defined in ``companion/`` descends from :class:`ScriptHammerError`
(tests/band/test_exception_root.py checks it). Importing this module needs only the standard
library (Flask is imported where a response is made): the composition model's errors derive from
it, and that model is imported inside the SHF sandbox, where only the standard library exists.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask


class ScriptHammerError(Exception):
    """Base of every error the companion reports to a caller."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message, "details": self.details}


class InvalidInput(ScriptHammerError):
    status = 400
    code = "invalid_input"


class Unauthorized(ScriptHammerError):
    status = 401
    code = "unauthorized"


class Forbidden(ScriptHammerError):
    status = 403
    code = "forbidden"


class NotFound(ScriptHammerError):
    status = 404
    code = "not_found"


class Conflict(ScriptHammerError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ScriptHammerError):
    """A body over a limit; the message and ``details.limit_bytes`` state the limit."""

    status = 413
    code = "payload_too_large"

    @classmethod
    def over(cls, what: str, limit_bytes: int, *, code: str | None = None, **details: Any) -> "PayloadTooLarge":
        """The error for ``what`` (e.g. "A composition import") being over ``limit_bytes``."""
        return cls(f"{what} may be at most {describe_bytes(limit_bytes)} ({limit_bytes} bytes).", code=code,
                   details={"limit_bytes": int(limit_bytes), **details})


class UnsupportedMedia(ScriptHammerError):
    status = 415
    code = "unsupported_media"


class Unprocessable(ScriptHammerError):
    status = 422
    code = "unprocessable"


class TooManyRequests(ScriptHammerError):
    """A rate limit was reached; ``details.retry_after_seconds`` (and the Retry-After header) say when to retry."""

    status = 429
    code = "too_many_requests"


class NotImplementedHere(ScriptHammerError):
    """What the caller asks for is a thing this server does not do (oEmbed: a format other than JSON)."""

    status = 501
    code = "not_implemented"


class ServiceUnavailable(ScriptHammerError):
    status = 503
    code = "service_unavailable"


def describe_bytes(n: int) -> str:
    """``8388608`` -> ``"8 MiB"``; ``1536`` -> ``"1.5 KiB"`` (what a 413 says its limit is)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def error_body(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message, "details": details or {}}


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media", 422: "invalid_input", 429: "too_many_requests",
    500: "internal_error", 503: "service_unavailable",
}


def error_response(err: ScriptHammerError):
    """The JSON response of a typed error (429s carry Retry-After)."""
    from flask import jsonify

    resp = jsonify(err.to_dict())
    resp.status_code = err.status
    retry = err.details.get("retry_after_seconds")
    if err.status == 429 and retry is not None:
        resp.headers["Retry-After"] = str(int(retry))
    return resp


def register_error_handlers(app: "Flask") -> None:
    from flask import jsonify
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(ScriptHammerError)
    def _domain(err: ScriptHammerError):
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.response is not None:  # already in our shape (e.g. a rate limit's 429 with Retry-After)
            return err.response
        status = err.code or 500
        details: dict[str, Any] = {}
        # flask-smorest / webargs put validation messages on err.data
        data = getattr(err, "data", None) or {}
        if isinstance(data, dict) and data.get("messages"):
            details["fields"] = data["messages"]
        message = err.description or err.name
        if status == 413:
            limit = _body_limit()
            message = (f"The request body is larger than this companion accepts here: at most "
                       f"{describe_bytes(limit)} ({limit} bytes).") if limit else "The request body is too large."
            if limit:
                details["limit_bytes"] = limit
        if status == 422 and details:
            message = "The request's fields are not valid: see details.fields."
        code = _HTTP_CODES.get(status, "http_error")
        if status == 422:
            code = "invalid_input"
        resp = jsonify(error_body(status, code, message, details))
        resp.status_code = status
        for name, value in err.get_headers():  # e.g. a 405's Allow
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # pragma: no cover - last resort
        down = unavailable(err)
        if down is not None:  # a service the companion needs is down: 503, and the next request may work
            app.logger.warning("%s: %s", down.code, err)
            return error_response(down)
        app.logger.exception("unhandled error")
        return jsonify(error_body(500, "internal_error", "Something went wrong in the companion.")), 500


def unavailable(err: BaseException) -> ServiceUnavailable | None:
    """The 503 for an error that means a service the companion needs is unreachable (the database,
    Redis, the object store), or None. Each is retried by the next request: the database pool
    pre-pings its connections, Redis clients reconnect, S3 clients open new connections."""
    import sys

    def is_a(module: str, *names: str) -> bool:
        mod = sys.modules.get(module)  # only libraries already in use can have raised it
        return mod is not None and isinstance(err, tuple(getattr(mod, n) for n in names if hasattr(mod, n)))

    if is_a("sqlalchemy.exc", "OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError"):
        return ServiceUnavailable("The database is unreachable or restarting; nothing was changed. Try again shortly.",
                                  code="database_unavailable")
    if is_a("redis.exceptions", "ConnectionError", "TimeoutError", "BusyLoadingError"):
        return ServiceUnavailable("The job queue (Redis) is unreachable; nothing was queued. Try again shortly.",
                                  code="queue_unavailable")
    if is_a("botocore.exceptions", "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
            "ConnectionClosedError"):
        return ServiceUnavailable("The object store is unreachable or too slow; try again shortly.",
                                  code="storage_unavailable")
    return None


def _body_limit() -> int | None:
    """The body limit in force for this request (a route may lower the app's MAX_CONTENT_LENGTH)."""
    from flask import request

    try:
        return request.max_content_length
    except RuntimeError:  # outside a request
        return None
