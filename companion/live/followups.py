"""A broadcast's follow-up jobs and the broadcast row of a session started by hand.

What both the broadcasts (companion/live/broadcasts.py) and the live sessions (companion/live/service.py)
use, so that neither imports the other for it: the queued follow-ups (the WordPress link and post, the
ticket product, the recording's link, a by-hand session's release), each retried with the configured
backoff, and the validation of a broadcast's title and premium flag.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa

from companion.band.identity import Identity
from companion.db import utcnow
from companion.errors import InvalidInput
from companion.live.models import LiveBroadcast, LiveSession

log = logging.getLogger(__name__)

LINK_FUNC = "jobs.broadcast.link_post"
TICKET_FUNC = "jobs.broadcast.ticket_product"
RECORDING_FUNC = "jobs.broadcast.link_recording"
POST_FUNC = "jobs.broadcast.performance_post"
ENDED_FUNC = "jobs.broadcast.session_ended"
TITLE_MAX = 200


def _owner(identity: Identity) -> str:
    return identity.member_id or ("wordpress" if identity.kind == "service" else identity.name)[:64]


def _title(value) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= TITLE_MAX:
        raise InvalidInput(f"title is 1 to {TITLE_MAX} characters.", code="invalid_title", details={"field": "title"})
    return value.strip()


def _premium(value) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput("premium is true (listeners need a ticket, a subscription or a grant) or false.",
                           code="invalid_premium", details={"field": "premium"})
    return value


def _enqueue_retried(svc, func: str, broadcast_id: int, description: str, result_ttl: int) -> None:
    """Queue one of the broadcast's follow-up jobs, retried with the configured backoff; Redis away is
    logged, not raised (the broadcast's own state is already stored, and the sweep queues it again)."""
    from rq import Retry

    intervals = svc.config.retry_intervals
    try:
        svc.queue_for(func).enqueue_call(
            func, args=(broadcast_id,), timeout=120, result_ttl=result_ttl, failure_ttl=7 * 86400,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None, description=description)
    except Exception:  # noqa: BLE001 - see above
        log.exception("broadcast %s: could not queue %s", broadcast_id, description)


def enqueue_link(svc, broadcast_id: int) -> None:
    """Queue the job that writes the session into the WordPress post (retried with backoff). Redis away:
    the broadcast is live in the companion; a later start_due sweep links it."""
    _enqueue_retried(svc, LINK_FUNC, broadcast_id, f"link broadcast {broadcast_id} to its post", result_ttl=86400)


def enqueue_recording(svc, broadcast_id: int) -> None:
    """Queue the job that points the post at its released recording (retried while WordPress is away)."""
    _enqueue_retried(svc, RECORDING_FUNC, broadcast_id, f"link broadcast {broadcast_id}'s recording to its post",
                     result_ttl=3600)


def enqueue_ticket(svc, broadcast_id: int) -> None:
    """Queue the job that makes a premium broadcast's ticket product in WooCommerce (retried with backoff).
    Redis away: logged; the sweep (:func:`start_due`) queues it again."""
    _enqueue_retried(svc, TICKET_FUNC, broadcast_id, f"ticket product of broadcast {broadcast_id}", result_ttl=86400)


def for_session(s, identity: Identity, session: LiveSession, title: str | None, premium: bool,
                performance: bool = False) -> LiveBroadcast:
    """The broadcast row of a session started by hand (in the session's own transaction): it carries the
    session's premium flag (so premium.py gates its listeners as a scheduled broadcast's) and the
    performance post the companion makes for it (:func:`performance_post`)."""
    row = LiveBroadcast(wp_post_id=0, title=_title(title or f"Live session {session.id}"), starts_at=utcnow(),
                        params=dict(session.params), seed=session.seed, state="starting", reason="",
                        session_id=session.id, premium=premium, by_hand=True, wants_post=performance,
                        created_by=_owner(identity),
                        wp_linked=False, wp_error="")
    s.add(row)
    s.flush()
    return row


def of_session(s, session_id: int) -> LiveBroadcast | None:
    return s.scalar(sa.select(LiveBroadcast).where(LiveBroadcast.session_id == session_id))


def enqueue_post(svc, broadcast_id: int) -> None:
    _enqueue_retried(svc, POST_FUNC, broadcast_id, f"make the performance post of broadcast {broadcast_id}",
                     result_ttl=86400)


def enqueue_ended(svc, session_id: int) -> None:
    _enqueue_retried(svc, ENDED_FUNC, session_id, f"release live session {session_id}'s recording",
                     result_ttl=86400)


def recording_published(svc, track_id: int) -> list[int]:
    """A track was just made public or premium: if it is an ended broadcast's released recording that the
    broadcast's post does not show yet, queue the job that points the post at it. Called by the catalog
    (the band's PATCH) and by the WordPress publish, so the post changes when the band publishes, not when
    someone next reads the broadcast. The broadcasts whose link was queued."""
    with svc.db.session() as s:
        ids = list(s.scalars(
            sa.select(LiveBroadcast.id).join(LiveSession, LiveSession.id == LiveBroadcast.session_id)
            .where(LiveSession.track_id == track_id, LiveBroadcast.wp_post_id != 0,
                   sa.or_(LiveBroadcast.recording_track_id.is_(None),
                          LiveBroadcast.recording_track_id != track_id))))
    for broadcast_id in ids:
        enqueue_recording(svc, broadcast_id)
    return ids


def unlinked_recordings(s) -> list[int]:
    """Ended broadcasts with a post whose released recording is published and not yet shown by the post
    (what a lost link job left behind; the sweep queues them again)."""
    from companion.catalog.models import Track

    return list(s.scalars(
        sa.select(LiveBroadcast.id).join(LiveSession, LiveSession.id == LiveBroadcast.session_id)
        .join(Track, Track.id == LiveSession.track_id)
        .where(LiveBroadcast.state == "ended", LiveBroadcast.wp_post_id != 0,
               Track.release_state.in_(("public", "premium")),
               sa.or_(LiveBroadcast.recording_track_id.is_(None),
                      LiveBroadcast.recording_track_id != LiveSession.track_id))))
