"""POST /api/beacons: the player's batched playback events (navigator.sendBeacon)."""
from __future__ import annotations

import functools

from flask import Response, request
from werkzeug.exceptions import HTTPException
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from companion import schema_fields as fields

from companion.analytics import fastparse, ingest, service
from companion.band.auth import current_identity
from companion.db import utcnow
from companion.errors import Conflict, PayloadTooLarge, ScriptHammerError, TooManyRequests, UnsupportedMedia
from companion.services import current as services

blp = Blueprint("analytics", __name__, url_prefix="/api/beacons",
                description="Playback beacons from the player: validated, then stored as playback events.")

_ACCEPTED_TYPES = ("text/plain", "application/json", "")


class BeaconAcceptedSchema(Schema):
    accepted = fields.Integer(metadata={"description": "events accepted (0 when Do-Not-Track, Global Privacy "
                                                       "Control or a missing consent means nothing is kept)"})


def _cors(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
    resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


@blp.after_request
def _add_cors(resp):
    return _cors(resp)


def limit_beacons(limiter) -> None:
    """Beacons are a public write: at most ``Config.beacon_rate_limit`` per client address (429 beyond),
    and, as every route, ``Config.public_rate_limit``.

    Both are counted by the view itself, in the same Redis round trip as the append to the stream
    (:func:`companion.analytics.ingest.accept`; fixed windows per client address, as Flask-Limiter's),
    so the route leaves Flask-Limiter's default limits (its credential-failure limit still applies).
    Every request counts, whatever its answer: a malformed or refused batch costs the same hit, and
    the preflight counts against the public limit only."""
    from companion.band.ratelimit import counts_its_own_limits

    counts_its_own_limits(limiter, blp)


@functools.lru_cache(maxsize=16)
def _parsed(limit: str) -> tuple[tuple[str, int, int, str], ...]:
    """(key part, amount, window seconds, text as the 429 says it) of each limit in ``limit``."""
    from limits import parse_many

    if not limit:
        return ()
    return tuple((f"{item.amount}/{item.get_expiry()}", item.amount, item.get_expiry(), str(item))
                 for item in parse_many(limit))


def _limits(svc, *, beacon: bool = True) -> list[tuple[str, int, int, str, str, str]]:
    """The limits this request counts against: (counter key, amount, window, text, error code, what)."""
    from companion.band.ratelimit import client_address

    addr, cfg = client_address(), svc.config
    prefix = f"shm-rl:{cfg.queue_name}:beacons"
    out = [(f"{prefix}:public:{part}:{addr}", amount, window, text, "too_many_requests", "Too many requests")
           for part, amount, window, text in _parsed(cfg.public_rate_limit)]
    if beacon:
        out += [(f"{prefix}:writes:{part}:{addr}", amount, window, text, "too_many_beacons", "Too many beacons")
                for part, amount, window, text in _parsed(cfg.beacon_rate_limit)]
    return out


def _too_many(limits, exc: ingest.Limited) -> TooManyRequests:
    _, _, window, text, code, what = limits[exc.index]
    retry = min(exc.retry_after, window)
    return TooManyRequests(f"{what} from this client: at most {text}. Try again in {retry} s.", code=code,
                           details={"retry_after_seconds": retry, "limit": text})


def _count(svc, limits) -> None:
    """Count a request that stores nothing against the limits; 429 when one is exceeded. When Redis cannot
    be reached the limits are skipped (logged), as Flask-Limiter does for every other route."""
    import redis

    try:
        ingest.accept(svc, [lim[:3] for lim in limits])
    except ingest.Limited as exc:
        raise _too_many(limits, exc) from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        ingest.log.warning("beacon rate limits skipped: %s", exc)


def _read_body(limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge.over("A beacon", limit, code="beacon_too_large")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge.over("A beacon", limit, code="beacon_too_large")
    return data


#: how long a (session, seq) pair is remembered to refuse replays.
REPLAY_WINDOW_SECONDS = 8 * 86400


def _not_tracked(svc, beacon: dict) -> bool:
    """Do-Not-Track or Global Privacy Control, or no consent where the site asks for it: keep nothing."""
    if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
        return True
    return svc.config.analytics_consent == "required" and beacon.get("consent") is not True


def _batch_key(svc, beacon: dict) -> str | None:
    """The Redis key that remembers a numbered batch (session, seq); None for an unnumbered one."""
    if beacon.get("seq") is None:
        return None
    return f"{svc.config.queue_name}:analytics:seen:{beacon['session']}:{beacon['seq']}"


def _replayed() -> Conflict:
    return Conflict("This beacon batch was already accepted.", code="beacon_replayed")


@blp.route("")
class Beacons(MethodView):
    @blp.doc(requestBody={
        "description": "A batch of playback events as JSON. navigator.sendBeacon sends it as text/plain "
                       "(a CORS-safe type), so text/plain and application/json are both accepted. "
                       f"At most {service.MAX_BEACON_BYTES} bytes and {service.MAX_EVENTS} events.",
        "content": {"application/json": {"schema": service.BeaconSchema}, "text/plain": {"schema": {"type": "string"}}}})
    @blp.response(202, BeaconAcceptedSchema)
    @blp.alt_response(400, description="not JSON")
    @blp.alt_response(413, description="larger than the limit")
    @blp.alt_response(415, description="neither text/plain nor application/json")
    @blp.alt_response(409, description="a replayed batch (the same session and seq again)")
    @blp.alt_response(422, description="fields not valid, unknown event type, markup in a reaction, an event "
                                       "time far in the past or future, or a track that cannot be reported "
                                       "on (one generic answer for missing, draft and hidden tracks)")
    @blp.alt_response(429, description="more beacons from this client than Config.beacon_rate_limit allows")
    def post(self):
        """Accept a batch of playback events (play, pause, seek, progress, complete, bitrate, download,
        tip_click, reaction, exposure, ui).

        A public write (no credentials needed), rate-limited per client address. Accepted batches go
        onto the analytics stream (or, with SCRIPTHAMMER_ANALYTICS_INGEST=direct, into the table at
        once). Do-Not-Track (``DNT: 1``), Global Privacy Control (``Sec-GPC: 1``) and, when the site asks
        for consent, a batch without ``consent: true`` are answered 202 with nothing kept."""
        svc = services()
        limits = _limits(svc)
        stream = svc.config.analytics_ingest != "direct"
        try:
            private = current_identity().has("band.read_private")
            if (request.mimetype or "") not in _ACCEPTED_TYPES:
                raise UnsupportedMedia("Send beacons as text/plain or application/json.", code="beacon_type",
                                       details={"content_type": request.mimetype})
            beacon = fastparse.parse(_read_body(service.MAX_BEACON_BYTES))
            tracked = not _not_tracked(svc, beacon)
            if tracked:
                service.check_times(beacon)
                if private or not service.known_reportable(str(svc.db.engine.url), beacon):
                    with svc.db.session() as s:
                        service.check_tracks(s, beacon, private=private)
        except (ScriptHammerError, HTTPException):
            _count(svc, limits)  # a refused batch costs a hit too (and over the limit, 429 comes first)
            raise
        if not tracked or not stream:
            _count(svc, limits)
        if not tracked:
            return {"accepted": 0}
        received = utcnow()
        listener = ingest.listener_id(svc, request.remote_addr, request.headers.get("User-Agent"), received.date())
        rows = service.event_rows(beacon, received_at=received, listener=listener)
        once = _batch_key(svc, beacon)
        if svc.config.analytics_ingest == "direct":
            if once and ingest.seen_before(svc, once, REPLAY_WINDOW_SECONDS):
                raise _replayed()
            try:
                with svc.db.session() as s:
                    ingest.write_rows(s, rows)
            except BaseException:
                if once:
                    svc.redis.delete(once)  # not kept: the player may send it again
                raise
        else:
            try:
                ingest.accept(svc, [lim[:3] for lim in limits], rows, once_key=once, once_seconds=REPLAY_WINDOW_SECONDS)
            except ingest.Limited as exc:
                raise _too_many(limits, exc) from None
            except ingest.Replayed:
                raise _replayed() from None
        return {"accepted": len(rows)}

    @blp.doc(responses={"204": {"description": "The CORS headers, no body"}})
    def options(self):
        """CORS preflight for players on other sites that fall back to fetch()."""
        _count(services(), _limits(services(), beacon=False))
        resp = Response(status=204)
        del resp.headers["Content-Type"]  # no body, so no type
        return resp
