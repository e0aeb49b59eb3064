"""Broadcast jobs: start a scheduled broadcast at its time (put on RQ's schedule with enqueue_at), and
write its live session into the WordPress post (retried while WordPress is away). Both are idempotent:
the start is a conditional claim of the broadcast (companion/live/broadcasts.py), so a retried or
duplicated job starts one session."""
from __future__ import annotations

from companion.live import broadcasts
from companion.models import import_models
from companion.wordpress.client import WordPressError
from jobs.context import services

import_models()


class TransientFailure(RuntimeError):
    """WordPress away or refusing the credentials for now: RQ retries the job."""

    def __init__(self, message: str, code: str = "wordpress_unavailable"):
        super().__init__(message)
        self.code = code


def start_broadcast(broadcast_id: int) -> dict:
    """Start the broadcast's live session if it is due and still scheduled (else nothing)."""
    return broadcasts.start(services(), int(broadcast_id))


def link_post(broadcast_id: int) -> dict:
    """Write the broadcast's session id into its post's ``scripthammer_live_session`` meta."""
    try:
        return broadcasts.link_post(services(), int(broadcast_id))
    except WordPressError as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc.message}", exc.code) from exc


def ticket_product(broadcast_id: int) -> dict:
    """Make (once) the WooCommerce ticket product of a premium broadcast and record it."""
    try:
        return broadcasts.ticket_product(services(), int(broadcast_id))
    except WordPressError as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc.message}", exc.code) from exc


def link_recording(broadcast_id: int) -> dict:
    """Point an ended broadcast's post at its released recording (``scripthammer_recording_track``)."""
    try:
        return broadcasts.link_recording(services(), int(broadcast_id))
    except WordPressError as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc.message}", exc.code) from exc


def start_due() -> list[dict]:
    """A sweep: start every due broadcast still scheduled, link the started ones WordPress lacks."""
    return broadcasts.start_due(services())


def performance_post(broadcast_id: int) -> dict:
    """Make (once) the WordPress performance post of a session started by hand."""
    try:
        return broadcasts.performance_post(services(), int(broadcast_id))
    except WordPressError as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc.message}", exc.code) from exc


def session_ended(session_id: int) -> dict:
    """A session started by hand with a performance post ended: release its recording, link it to the post."""
    return broadcasts.session_ended(services(), int(session_id))
