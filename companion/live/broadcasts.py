"""Scheduled broadcasts: a WordPress performance post goes live at a set time.

A broadcast is scheduled (``scheduled``) for ``starts_at`` (UTC). At that time an RQ job
(``jobs.broadcast.start_broadcast``, put on RQ's schedule with ``enqueue_at``; the workers run RQ's
scheduler) claims it with a conditional update (``scheduled`` -> ``starting``, only once due), creates
its live session in the same transaction and hands it to a worker of the "live" queue
(``jobs.live.run_session``), so a retried or duplicated job starts no second session. Then
``jobs.broadcast.link_post`` writes the session id into the post's ``scripthammer_live_session`` meta
through the companion's WordPress client (retried while WordPress is away; the broadcast is live in the
companion either way). From there the broadcast follows its session: ``live``, then ``ended`` or
``failed`` (with the session's reason). A scheduled broadcast may be rescheduled or cancelled.

Anyone reads a broadcast's public fields (the countdown page polls them); members with ``live.run``
and WordPress (``live.schedule``, for its editors) schedule, reschedule and cancel; a member changes
only the broadcasts they scheduled (the leader and WordPress any).
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from companion.algorithms.base import Params
from companion.band.identity import Identity
from companion.db import utcnow
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from companion.live.models import LiveBroadcast, LiveSession
from companion.live.followups import (  # noqa: F401 - the follow-ups, also used by the sessions
    ENDED_FUNC, LINK_FUNC, POST_FUNC, RECORDING_FUNC, TICKET_FUNC, TITLE_MAX, _enqueue_retried, _owner, _premium,
    _title, enqueue_ended, enqueue_link, enqueue_post, enqueue_recording, enqueue_ticket, for_session, of_session,
    unlinked_recordings)

log = logging.getLogger(__name__)

#: a start time this far in the past is still accepted (the clocks of WordPress and the companion differ)
CLOCK_SKEW = dt.timedelta(seconds=60)
#: how far ahead a broadcast may be scheduled
MAX_AHEAD = dt.timedelta(days=366)
#: a start job that runs this early still starts the broadcast (RQ's scheduler polls about every second)
EARLY = dt.timedelta(seconds=2)
ACTIVE = ("scheduled", "starting", "live")
START_FUNC = "jobs.broadcast.start_broadcast"


# --- who may do what ----------------------------------------------------------------------------------

def may_schedule(identity: Identity) -> None:
    if not (identity.has("live.run") or identity.has("live.schedule")):
        raise Forbidden(f"Your role ({identity.role}) lacks the right 'live.run'.", code="missing_right",
                        details={"right": "live.run", "role": identity.role})


def _may_change(identity: Identity, row: LiveBroadcast) -> None:
    may_schedule(identity)
    if identity.has("*") or identity.kind == "service" or row.created_by == identity.member_id:
        return
    raise Forbidden("This broadcast was scheduled by someone else.", code="not_your_broadcast",
                    details={"broadcast": row.id})


# --- input --------------------------------------------------------------------------------------------

def parse_starts_at(value, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 time with its offset (``2026-12-24T20:00:00Z``) -> naive UTC; in the future (less a
    clock-skew margin), at most a year ahead."""
    now = now or utcnow()
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput("starts_at is an ISO 8601 date and time with its offset, e.g. 2026-12-24T20:00:00Z.",
                           code="invalid_starts_at", details={"field": "starts_at"})
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("starts_at is an ISO 8601 date and time with its offset, e.g. 2026-12-24T20:00:00Z.",
                           code="invalid_starts_at", details={"field": "starts_at"}) from None
    if when.tzinfo is None:
        raise InvalidInput("starts_at needs its UTC offset (Z or +hh:mm): a time without one is ambiguous.",
                           code="invalid_starts_at", details={"field": "starts_at"})
    when = when.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    if when < now - CLOCK_SKEW:
        raise InvalidInput("starts_at is in the past.", code="starts_at_past",
                           details={"field": "starts_at", "now": _iso(now)})
    if when > now + MAX_AHEAD:
        raise InvalidInput("starts_at is more than a year ahead.", code="starts_at_too_far",
                           details={"field": "starts_at", "max_days": MAX_AHEAD.days})
    return when


def _params(value) -> dict:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidInput("params is an object (mood, density, tempo_feel, key, tempo).", code="invalid_params")
    try:
        return Params.from_dict({"tempo": 120, **value}).to_dict()
    except (ValueError, TypeError) as exc:
        raise InvalidInput(str(exc), code="invalid_params") from exc


def _seed(value) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InvalidInput("seed is an integer from 0 to 2^31 - 1", code="invalid_seed")
    return value


def _post_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise InvalidInput("wp_post_id is the performance post's id (a positive integer).",
                           code="invalid_wp_post_id", details={"field": "wp_post_id"})
    return value


# --- views --------------------------------------------------------------------------------------------

def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") + "Z" if when else None


def public(row: LiveBroadcast) -> dict:
    """What anyone may see: the countdown page's fields."""
    return {"id": row.id, "title": row.title, "starts_at": _iso(row.starts_at), "state": row.state,
            "session_id": row.session_id if row.state in ("live", "ended") else None,
            "wp_post_id": row.wp_post_id, "premium": bool(row.premium),
            "reason": row.reason if row.state in ("failed", "cancelled") else ""}


def full(row: LiveBroadcast) -> dict:
    """What the band and WordPress see besides."""
    return {**public(row), "session_id": row.session_id, "params": row.params, "seed": row.seed,
            "recording_track_id": row.recording_track_id, "by_hand": bool(row.by_hand),
            "wants_post": bool(row.wants_post),
            "created_by": row.created_by, "wp_linked": row.wp_linked, "wp_error": row.wp_error,
            "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at)}


def _sees_all(identity: Identity | None) -> bool:
    return identity is not None and (identity.has("live.run") or identity.has("live.schedule"))


def _get(s, broadcast_id: int) -> LiveBroadcast:
    row = s.get(LiveBroadcast, broadcast_id)
    if row is None:
        raise NotFound("No such broadcast.", code="broadcast_not_found", details={"broadcast": broadcast_id})
    return row


def _sync(s, row: LiveBroadcast, database_url: str) -> None:
    """A started broadcast follows its session: live, then ended or failed (with the session's reason)."""
    if row.state not in ("starting", "live") or row.session_id is None:
        return
    from companion.live.service import _reap

    sess = s.get(LiveSession, row.session_id)
    if sess is None:
        row.state, row.reason = "failed", "The broadcast's live session is gone."
        return
    _reap(sess, database_url)
    if sess.status == "live" and row.state == "starting":
        row.state = "live"
    elif sess.status == "ended":
        row.state = "ended"
    elif sess.status == "failed":
        row.state, row.reason = "failed", (f"{sess.error}: {sess.message}" if sess.message else sess.error)[:500]


def recording_to_link(s, row: LiveBroadcast) -> int | None:
    """The released recording (track id) an ended broadcast's post should show and does not yet: its
    session's mix released (``POST /api/live/sessions/<id>/release``) and published (public or premium)."""
    from companion.catalog.models import Track

    if row.state != "ended" or row.session_id is None:
        return None
    sess = s.get(LiveSession, row.session_id)
    if sess is None or sess.track_id is None or sess.track_id == row.recording_track_id:
        return None
    track = s.get(Track, sess.track_id)
    return track.id if track is not None and track.release_state in ("public", "premium") else None


def get(svc, broadcast_id: int, identity: Identity | None = None) -> dict:
    with svc.db.session() as s:
        row = _get(s, broadcast_id)
        _sync(s, row, svc.config.database_url)
        out = full(row) if _sees_all(identity) else public(row)
        pending = recording_to_link(s, row)
    if pending is not None:
        enqueue_recording(svc, broadcast_id)
    return out


def list_broadcasts(svc, identity: Identity | None = None, *, wp_post_id: int | None = None,
                    state: str | None = None) -> list[dict]:
    with svc.db.session() as s:
        q = sa.select(LiveBroadcast).order_by(LiveBroadcast.starts_at, LiveBroadcast.id)
        if wp_post_id is not None:
            q = q.where(LiveBroadcast.wp_post_id == wp_post_id)
        if state is not None:
            q = q.where(LiveBroadcast.state == state)
        rows = list(s.scalars(q.limit(200)))
        for row in rows:
            _sync(s, row, svc.config.database_url)
        view = full if _sees_all(identity) else public
        return [view(r) for r in rows]


# --- scheduling ---------------------------------------------------------------------------------------

def _enqueue_start(svc, broadcast_id: int, when: dt.datetime) -> str:
    """Put the start job on RQ's schedule for ``when`` (UTC); its RQ id. ServiceUnavailable if Redis is down."""
    import uuid

    from rq import Retry

    intervals = svc.config.retry_intervals  # a retried start is safe: the claim is conditional
    try:
        return svc.queue_for(START_FUNC).enqueue_at(
            when.replace(tzinfo=dt.timezone.utc), START_FUNC, broadcast_id,
            job_id=f"shm-broadcast-{broadcast_id}-{uuid.uuid4().hex[:8]}", job_timeout=300,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            result_ttl=86400, failure_ttl=7 * 86400, description=f"start broadcast {broadcast_id}").id
    except Exception as exc:
        raise ServiceUnavailable("The job queue (Redis) is unreachable; nothing was scheduled. Try again shortly.",
                                 code="queue_unavailable") from exc


def _drop_scheduled(svc, broadcast_id: int, keep: str | None = None) -> None:
    """Take the broadcast's start jobs off RQ's schedule (after a reschedule or a cancel). Tidiness only:
    a start job left there finds its broadcast not due, or no longer scheduled, and does nothing."""
    from rq.registry import ScheduledJobRegistry

    try:
        queue = svc.queue_for(START_FUNC)
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            if job_id.startswith(f"shm-broadcast-{broadcast_id}-") and job_id != keep:
                registry.remove(job_id, delete_job=True)
    except Exception:  # Redis away: the jobs stay, harmless
        log.warning("broadcast %s: could not take its old start jobs off the schedule", broadcast_id)


def create(svc, identity: Identity, body: dict) -> dict:
    """Schedule a broadcast: ``{wp_post_id, title, starts_at, params?, seed?, premium?}`` (a premium
    broadcast is heard by ticket holders, subscribers and grantees: companion/live/premium.py)."""
    may_schedule(identity)
    post_id = _post_id(body.get("wp_post_id"))
    title = _title(body.get("title"))
    when = parse_starts_at(body.get("starts_at"))
    params, seed = _params(body.get("params")), _seed(body.get("seed"))
    is_premium = _premium(body.get("premium"))
    with svc.db.session() as s:
        other = s.scalar(sa.select(LiveBroadcast.id).where(LiveBroadcast.wp_post_id == post_id,
                                                          LiveBroadcast.state.in_(ACTIVE)))
        if other is not None:
            raise Conflict("This post has a broadcast scheduled already: reschedule or cancel it.",
                           code="broadcast_exists", details={"broadcast": other})
        row = LiveBroadcast(wp_post_id=post_id, title=title, starts_at=when, params=params, seed=seed,
                            state="scheduled", reason="", created_by=_owner(identity), wp_linked=False, wp_error="",
                            premium=is_premium)
        s.add(row)
        s.flush()
        broadcast_id = row.id
    try:
        _enqueue_start(svc, broadcast_id, when)
    except ServiceUnavailable:
        with svc.db.session() as s:  # nothing half-written
            s.delete(s.get(LiveBroadcast, broadcast_id))
        raise
    if is_premium:
        enqueue_ticket(svc, broadcast_id)
    with svc.db.session() as s:
        made = full(s.get(LiveBroadcast, broadcast_id))
    from companion.notify.service import enqueue_announcement

    enqueue_announcement(svc, "broadcast", {"id": broadcast_id, "title": made["title"], "starts_at": made["starts_at"]})
    return made


def reschedule(svc, identity: Identity, broadcast_id: int, body: dict) -> dict:
    """Change a scheduled broadcast's start (and title, params, seed). The start job put on the schedule
    before finds it not yet due (or no longer scheduled) and does nothing."""
    may_schedule(identity)
    with svc.db.session() as s:
        _may_change(identity, _get(s, broadcast_id))
    changes: dict = {}
    if "starts_at" in body and body["starts_at"] is not None:
        changes["starts_at"] = parse_starts_at(body["starts_at"])
    if "title" in body and body["title"] is not None:
        changes["title"] = _title(body["title"])
    if "params" in body and body["params"] is not None:
        changes["params"] = _params(body["params"])
    if "seed" in body and body["seed"] is not None:
        changes["seed"] = _seed(body["seed"])
    if "premium" in body and body["premium"] is not None:
        changes["premium"] = _premium(body["premium"])
    if not changes:
        raise InvalidInput("Send starts_at, title, params, seed or premium to change.", code="nothing_to_change")
    with svc.db.session() as s:
        row = _get(s, broadcast_id)
        if row.state != "scheduled":
            raise Conflict(f"The broadcast is {row.state}, no longer scheduled.", code="broadcast_not_scheduled",
                           details={"state": row.state})
        before = row.starts_at
        for k, v in changes.items():
            setattr(row, k, v)
    if "starts_at" in changes and changes["starts_at"] != before:
        try:
            new_job = _enqueue_start(svc, broadcast_id, changes["starts_at"])
        except ServiceUnavailable:
            with svc.db.session() as s:
                s.get(LiveBroadcast, broadcast_id).starts_at = before
            raise
        _drop_scheduled(svc, broadcast_id, keep=new_job)
    if changes.get("premium"):
        enqueue_ticket(svc, broadcast_id)
    with svc.db.session() as s:
        return full(s.get(LiveBroadcast, broadcast_id))


def cancel(svc, identity: Identity, broadcast_id: int) -> dict:
    """Cancel a scheduled broadcast: no session will start (a started one is stopped as a session)."""
    may_schedule(identity)
    with svc.db.session() as s:
        _may_change(identity, _get(s, broadcast_id))
    with svc.db.session() as s:
        done = s.execute(sa.update(LiveBroadcast).where(LiveBroadcast.id == broadcast_id,
                                                        LiveBroadcast.state == "scheduled")
                         .values(state="cancelled", reason=f"cancelled by {_owner(identity)}", updated_at=utcnow()))
        if done.rowcount != 1:
            row = _get(s, broadcast_id)
            _sync(s, row, svc.config.database_url)
            if row.state != "cancelled":
                raise Conflict(f"The broadcast is {row.state}: stop its session instead.",
                               code="broadcast_not_scheduled", details={"state": row.state, "session": row.session_id})
    _drop_scheduled(svc, broadcast_id)
    with svc.db.session() as s:
        return full(s.get(LiveBroadcast, broadcast_id))


# --- the jobs' work -----------------------------------------------------------------------------------

def start(svc, broadcast_id: int, now: dt.datetime | None = None) -> dict:
    """Start a due broadcast's session (the start job). Idempotent: the claim is a conditional update
    (``scheduled`` -> ``starting`` where due), made in one transaction with the session's row, so a job
    run twice, or two at once, start one session; a broadcast not yet due (rescheduled later), cancelled
    or started already is left alone."""
    from companion.live.robots import ROBOTS
    from companion.live.service import RUNNING, _reap
    from companion.tasks.models import Job
    from companion.tasks.service import create_job, submit

    now = now or utcnow()
    with svc.db.session() as s:
        claimed = s.execute(sa.update(LiveBroadcast).where(
            LiveBroadcast.id == broadcast_id, LiveBroadcast.state == "scheduled",
            LiveBroadcast.starts_at <= now + EARLY).values(state="starting", updated_at=utcnow())).rowcount == 1
        if not claimed:
            row = s.get(LiveBroadcast, broadcast_id)
            return {"broadcast": broadcast_id, "started": False, "state": row.state if row else "gone",
                    "session_id": row.session_id if row else None}
        row = s.get(LiveBroadcast, broadcast_id)
        for other in s.scalars(sa.select(LiveSession).where(LiveSession.status.in_(RUNNING))):
            _reap(other, svc.config.database_url)
        s.flush()
        running = s.scalar(sa.select(sa.func.count()).select_from(LiveSession)
                           .where(LiveSession.status.in_(RUNNING)))
        if running >= svc.config.live_max_sessions:
            row.state, row.reason = "failed", "live_sessions_full: as many live sessions as this companion holds were running."
            return {"broadcast": broadcast_id, "started": False, "state": "failed"}
        sess = LiveSession(started_by=row.created_by[:64], seed=row.seed, robots=list(ROBOTS), params=dict(row.params))
        s.add(sess)
        s.flush()
        row.session_id = session_id = sess.id
        job = create_job(s, kind="live", params={"session_id": session_id, "broadcast_id": broadcast_id},
                         created_by=row.created_by)
        job_id = job.id

    def undo(s) -> None:
        s.get(LiveSession, session_id).status = "failed"
        s.get(LiveSession, session_id).error = "queue_unavailable"
        b = s.get(LiveBroadcast, broadcast_id)
        b.state, b.reason = "failed", "queue_unavailable: the job queue (Redis) was unreachable at the start."

    with svc.db.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
    # A worker of the "live" queue hosts the session (a start job cannot keep a session past its end).
    submit(svc, job, "jobs.live.run_session", undo=undo)
    enqueue_link(svc, broadcast_id)
    return {"broadcast": broadcast_id, "started": True, "state": "starting", "session_id": session_id}


def link_post(svc, broadcast_id: int, client=None) -> dict:
    """Write the broadcast's session id into its post's ``scripthammer_live_session`` meta. Idempotent.
    WordPress away (or refusing the credentials) raises for the job to retry; the reason is kept on the
    broadcast (``wp_error``)."""
    from companion.wordpress.client import (WordPressAuthError, WordPressClient, WordPressError,
                                            WordPressNotConfigured, WordPressRejected, WordPressUnavailable)

    with svc.db.session() as s:
        row = _get(s, broadcast_id)
        if row.session_id is None or row.wp_linked or row.by_hand:  # by hand: performance_post makes the post
            return {"broadcast": broadcast_id, "linked": row.wp_linked, "session_id": row.session_id}
        post_id, session_id = row.wp_post_id, row.session_id

    def note(error: str, linked: bool = False) -> None:
        with svc.db.session() as s:
            r = s.get(LiveBroadcast, broadcast_id)
            r.wp_error, r.wp_linked = error[:500], linked

    try:
        client = client or WordPressClient.from_config(svc.config)
        client.save_post("performance", post_id, {"meta": {"scripthammer_live_session": session_id}})
    except (WordPressNotConfigured, WordPressRejected) as exc:  # retrying will not help
        note(f"{exc.code}: {exc.message}")
        return {"broadcast": broadcast_id, "linked": False, "error": exc.code}
    except (WordPressUnavailable, WordPressAuthError, WordPressError) as exc:
        note(f"{exc.code}: {exc.message}")
        raise
    note("", linked=True)
    return {"broadcast": broadcast_id, "linked": True, "session_id": session_id, "wp_post_id": post_id}


def link_recording(svc, broadcast_id: int, client=None) -> dict:
    """Point an ended broadcast's post at its released recording: the post's
    ``scripthammer_recording_track`` meta (the companion's track id), so its live block shows the
    recording's player instead of the ended live player. Idempotent; WordPress away raises (retried)."""
    from companion.wordpress.client import WordPressClient, WordPressNotConfigured, WordPressRejected

    with svc.db.session() as s:
        row = _get(s, broadcast_id)
        _sync(s, row, svc.config.database_url)
        track_id = recording_to_link(s, row)
        if track_id is None or not row.wp_post_id:  # no post (yet): nothing to point
            return {"broadcast": broadcast_id, "linked": row.recording_track_id}
        post_id = row.wp_post_id
    try:
        client = client or WordPressClient.from_config(svc.config)
        client.save_post("performance", post_id, {"meta": {"scripthammer_recording_track": track_id}})
    except (WordPressNotConfigured, WordPressRejected) as exc:  # retrying will not help
        return {"broadcast": broadcast_id, "linked": None, "error": exc.code}
    with svc.db.session() as s:
        s.get(LiveBroadcast, broadcast_id).recording_track_id = track_id
    return {"broadcast": broadcast_id, "linked": track_id, "wp_post_id": post_id}


def ticket_product(svc, broadcast_id: int, client=None) -> dict:
    """Ask the plugin for a premium broadcast's ticket (a WooCommerce product of scope ``live:<id>``, priced
    from the pricing's ``live`` model; made once) and record it, which gives the live player its "buy a
    ticket" link. Nothing for a free broadcast or one with its product recorded; no WooCommerce: nothing
    to sell. WordPress away raises (the job retries)."""
    from companion.commerce.products import product_for
    from companion.wordpress.client import WordPressClient, WordPressError, WordPressNotConfigured
    from companion.wordpress.service import ensure_product

    with svc.db.session() as s:
        row = _get(s, broadcast_id)
        if not row.premium:
            return {"broadcast": broadcast_id, "ticket": None}
        if not row.wp_post_id:  # a session by hand before its post: the ticket is made once the post is
            return {"broadcast": broadcast_id, "ticket": None, "waiting": "performance_post"}
        known = product_for(s, "live", broadcast_id)
        if known is not None:
            return {"broadcast": broadcast_id, "ticket": {"product_id": known.wc_product_id,
                                                          "permalink": known.permalink, "created": False}}
        title, post_id = row.title, row.wp_post_id
    try:
        client = client or WordPressClient.from_config(svc.config)
    except WordPressNotConfigured as exc:
        return {"broadcast": broadcast_id, "ticket": None, "error": exc.code}
    made = ensure_product(svc, client, "live", broadcast_id, title, post_id)
    if made is not None and str(made.get("error", "")).startswith(("http_5", "wordpress")):
        raise WordPressError(made.get("message") or made["error"], code=str(made["error"])[:40])
    return {"broadcast": broadcast_id, "ticket": made}


def unlinked_recordings_ids(svc) -> list[int]:
    """The ended broadcasts whose post does not show their published recording yet (the sweep's list)."""
    with svc.db.session() as s:
        return unlinked_recordings(s)


def relink_recordings(svc) -> list[int]:
    """Queue the link of every published recording a post does not show yet (what a lost link job left;
    part of :func:`start_due`). The broadcasts queued."""
    ids = unlinked_recordings_ids(svc)
    for b in ids:
        enqueue_recording(svc, b)
    return ids


def start_due(svc, now: dt.datetime | None = None) -> list[dict]:
    """Start every broadcast that is due and still scheduled (a sweep; the scheduled start jobs do this
    one by one), and link every started one WordPress does not know yet."""
    now = now or utcnow()
    with svc.db.session() as s:
        due = list(s.scalars(sa.select(LiveBroadcast.id).where(LiveBroadcast.state == "scheduled",
                                                               LiveBroadcast.starts_at <= now + EARLY)))
        unlinked = list(s.scalars(sa.select(LiveBroadcast.id).where(LiveBroadcast.state.in_(("starting", "live")),
                                                                    LiveBroadcast.session_id.is_not(None),
                                                                    LiveBroadcast.by_hand.is_(False),
                                                                    LiveBroadcast.wp_linked.is_(False))))
        postless = list(s.scalars(sa.select(LiveBroadcast.id).where(LiveBroadcast.by_hand.is_(True),
                                                                    LiveBroadcast.wants_post.is_(True),
                                                                    LiveBroadcast.wp_post_id == 0)))
        from companion.commerce.models import CommerceProduct

        ticketless = list(s.scalars(sa.select(LiveBroadcast.id).where(
            LiveBroadcast.by_hand.is_(True), LiveBroadcast.premium.is_(True), LiveBroadcast.wp_post_id != 0,
            LiveBroadcast.state.in_(("starting", "live")),
            ~sa.exists().where(CommerceProduct.scope == sa.literal("live:") + sa.cast(LiveBroadcast.id, sa.String(20))))))
    out = [start(svc, b, now) for b in due]
    for b in unlinked:
        enqueue_link(svc, b)
    for b in postless:  # sessions by hand whose post a lost job did not make (it queues a premium one's ticket)
        enqueue_post(svc, b)
    relink_recordings(svc)  # published recordings whose post a lost job did not point at them
    for b in ticketless:  # premium sessions by hand with their post, whose ticket job was lost
        enqueue_ticket(svc, b)
    return out


# --- sessions started by hand ---------------------------------------------------------------------------

def performance_post(svc, broadcast_id: int, client=None) -> dict:
    """Make the WordPress performance post of a session started by hand (once): published, its live block,
    ``scripthammer_live_session`` naming the session; its id kept (``wp_post_id``). Idempotent: the post's
    slug is ``live-session-<session>``, so a retry after WordPress made it but before the answer came finds
    it instead of making another. WordPress away raises for the job to retry (``wp_error`` says why)."""
    from companion.wordpress.client import (REST_BASES, WordPressClient, WordPressNotConfigured,
                                            WordPressRejected)

    with svc.db.session() as s:
        row = _get(s, broadcast_id)
        if not (row.by_hand and row.wants_post) or row.wp_post_id:
            return {"broadcast": broadcast_id, "wp_post_id": row.wp_post_id or None, "created": False}
        title, session_id = row.title, row.session_id

    def note(error: str) -> None:
        with svc.db.session() as s:
            s.get(LiveBroadcast, broadcast_id).wp_error = error[:500]

    slug = f"live-session-{session_id}"
    try:
        client = client or WordPressClient.from_config(svc.config)
        found = client.rest("GET", f"/wp/v2/{REST_BASES['performance']}", params={
            "slug": slug, "status": "publish,draft,pending,private,future", "context": "edit"})
        post = found[0] if found else client.save_post("performance", None, {
            "title": title, "slug": slug, "status": "publish", "content": "<!-- wp:scripthammer/live /-->",
            "meta": {"scripthammer_live_session": session_id}})
    except (WordPressNotConfigured, WordPressRejected) as exc:  # retrying will not help
        note(f"{exc.code}: {exc.message}")
        return {"broadcast": broadcast_id, "wp_post_id": None, "error": exc.code}
    except Exception as exc:
        note(f"{getattr(exc, 'code', 'wordpress_error')}: {getattr(exc, 'message', str(exc))}")
        raise
    with svc.db.session() as s:
        r = s.get(LiveBroadcast, broadcast_id)
        r.wp_post_id, r.wp_linked, r.wp_error = int(post["id"]), True, ""
        premium = r.premium
    if premium:  # its ticket product, sold from (and linking to) this post
        enqueue_ticket(svc, broadcast_id)
    return {"broadcast": broadcast_id, "wp_post_id": int(post["id"]), "created": not found}


def session_ended(svc, session_id: int) -> dict:
    """After a session started by hand with a performance post ends: its mix goes through the release
    pipeline (a draft track, once), and its post is pointed at the recording once that is published
    (:func:`link_recording`, as for a scheduled broadcast). Idempotent."""
    from companion.live import service

    with svc.db.session() as s:
        row = of_session(s, session_id)
        if row is None or not (row.by_hand and row.wants_post):
            return {"session": session_id, "released": None}
        _sync(s, row, svc.config.database_url)
        sess = s.get(LiveSession, session_id)
        if row.state not in ("ended", "failed") or sess is None:
            return {"session": session_id, "released": None, "state": row.state}
        broadcast_id, track_id, created_by = row.id, sess.track_id, sess.started_by
        has_mix = bool((sess.recording or {}).get("mix"))
    if track_id is None and has_mix:
        try:
            who = Identity(kind="member", role="member", member_id=created_by, name=created_by,
                           rights=frozenset({"catalog.upload"}))
            out = service.release_recording(svc, who, session_id, title=None)
            track_id = out["track_id"]
        except Conflict as exc:  # released meanwhile (by hand or a duplicated job)
            track_id = (exc.details or {}).get("track_id")
    enqueue_recording(svc, broadcast_id)
    return {"session": session_id, "released": track_id, "broadcast": broadcast_id}
