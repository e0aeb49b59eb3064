"""Check who is asking before anything reads the request's body.

flask-smorest parses and validates a body (``@blp.arguments``) before the view runs, so a check
inside the view comes too late: an anonymous ``POST {}`` got 422 instead of 401. Put
:func:`requires` above ``@blp.arguments``::

    @requires("catalog.write")
    @blp.arguments(TrackCreateSchema)
    @blp.response(201, TrackSchema)
    def post(self, body): ...

It answers 401 (no or bad credentials) or 403 (the right is missing) first; the view reads the
identity again with ``current_identity()`` (cached on the request).
"""
from __future__ import annotations

import functools
from typing import Callable

from companion.band.auth import current_identity, require
from companion.errors import Forbidden, Unauthorized


def requires(right: str) -> Callable:
    """Refuse the request (401/403) unless the caller holds ``right``, before the body is read."""
    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            require(right)
            return view(*args, **kwargs)

        return guarded

    return wrap


def requires_any(check: Callable, message: str, right_name: str) -> Callable:
    """Like :func:`requires` with a custom test ``check(identity) -> bool`` (403 naming ``right_name``)."""
    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            ident = current_identity()
            if not ident.authenticated:
                raise Unauthorized("Sign in first: send a bearer token or a signed request.", code="auth_required")
            if not check(ident):
                raise Forbidden(message, code="missing_right", details={"right": right_name, "role": ident.role})
            return view(*args, **kwargs)

        return guarded

    return wrap
