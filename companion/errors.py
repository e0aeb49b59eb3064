"""Typed errors of the companion and the one JSON shape every error takes.

Domain code raises these; :func:`register_error_handlers` turns each into
``{"status": 404, "code": "not_found", "message": "...", "details": {...}}``.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


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
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(ScriptHammerError):
    status = 415
    code = "unsupported_media"


class Unprocessable(ScriptHammerError):
    status = 422
    code = "unprocessable"


class ServiceUnavailable(ScriptHammerError):
    status = 503
    code = "service_unavailable"


def error_body(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message, "details": details or {}}


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media", 422: "invalid_input", 429: "too_many_requests",
    500: "internal_error", 503: "service_unavailable",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ScriptHammerError)
    def _domain(err: ScriptHammerError):
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        details: dict[str, Any] = {}
        # flask-smorest / webargs put validation messages on err.data
        data = getattr(err, "data", None) or {}
        if isinstance(data, dict) and data.get("messages"):
            details["fields"] = data["messages"]
        message = err.description or err.name
        if status == 413:
            message = "The upload is larger than this companion accepts."
        if status == 422 and details:
            message = "The request's fields are not valid: see details.fields."
        code = _HTTP_CODES.get(status, "http_error")
        if status == 422:
            code = "invalid_input"
        return jsonify(error_body(status, code, message, details)), status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # pragma: no cover - last resort
        app.logger.exception("unhandled error")
        return jsonify(error_body(500, "internal_error", "Something went wrong in the companion.")), 500
