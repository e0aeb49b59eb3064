"""/api/live/sessions: start and stop a live session (band members), its state and live HLS
broadcast (anyone), its recording (band members), and the audience's votes (signed-in listeners,
rate-limited per client address, one vote per listener per round)."""
from __future__ import annotations

from flask import make_response, request, send_file, send_from_directory
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from companion.band.auth import declare_security, require, require_signed_in, requires
from companion.band.ratelimit import limit_blueprint
from companion.errors import Conflict, Forbidden, NotFound
from companion.live import premium, service
from companion.live.models import BROADCAST_STATES
from companion.services import current as services

blp = Blueprint("live", __name__, url_prefix="/api/live/sessions",
                description="Live sessions: the robots playing in real time, broadcast over HLS, recorded.")
votes_blp = Blueprint("live_votes", __name__, url_prefix="/api/live/sessions",
                      description="The audience steers a live session: one vote per listener per bar.")


class StartSchema(Schema):
    params = fields.Dict(load_default=dict, metadata={"description": "mood, density, tempo_feel, key, tempo"})
    seed = fields.Integer(load_default=1)
    premium = fields.Raw(metadata={"description": "true: only those who may listen hear it (a ticket, a "
                                                  "subscription, the band); default false"})
    performance = fields.Raw(metadata={"description": "true: the companion makes a WordPress performance post "
                                                      "for the session and, once it ends, releases its recording; "
                                                      "default: as premium (a premium session needs its post)"})
    title = fields.Raw(metadata={"description": "the performance post's title (default 'Live session <id>')"})


class TextSchema(Schema):
    text = fields.Raw(required=True)


class VoteSchema(Schema):
    parameter = fields.Raw(required=True)
    value = fields.Raw(required=True)


def signed_in(view):
    """Decorator: the caller must be signed in (any role) before the body is read."""
    import functools

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        require_signed_in()
        return view(*args, **kwargs)
    return wrapper


def limit_votes(limiter) -> None:
    """Votes are a public write: at most ``Config.live_vote_rate_limit`` per client address."""
    limit_blueprint(limiter, votes_blp, lambda: services().config.live_vote_rate_limit, code="too_many_votes",
                    what="Too many votes")


@blp.route("")
class Sessions(MethodView):
    @requires("live.run")
    @blp.arguments(StartSchema)
    @blp.response(201)
    def post(self, body):
        """Start a live session (band members): the rig, the robots and the broadcast."""
        ident = require("live.run")
        return service.start_session(services(), ident, body.get("params"), body.get("seed", 1),
                                     premium=body.get("premium", False), performance=body.get("performance"),
                                     title=body.get("title"))


@blp.route("/<int:session_id>")
class Session(MethodView):
    @blp.response(200)
    def get(self, session_id: int):
        """The session's state: status, bar, parameters, what the votes changed, its HLS URL. A premium
        broadcast's session says ``premium`` and what the caller may do (``access``): an entitled caller's
        ``hls`` is its own signed playlist URL; anyone else gets no ``hls`` and no Janus address."""
        from companion.band.auth import current_identity

        svc = services()
        return premium.view(svc, current_identity(), session_id, service.get_state(svc, session_id))


@blp.route("/<int:session_id>/stop")
class Stop(MethodView):
    @requires("live.run")
    @blp.response(200)
    def post(self, session_id: int):
        """Stop the session (band members); the recording (stems and mix) is kept."""
        return service.stop_session(services(), require("live.run"), session_id)


def _premium_gate(svc, session_id: int, name: str) -> str | None:
    """None for a free session's HLS file; for a premium one, the principal the file is served to (a
    valid signature bound to them, or, for the playlist, an entitled caller's credentials), or the clear
    error: 401 ``premium_sign_in``, 403 ``premium_ticket_required``, ``signature_invalid``,
    ``signature_expired``."""
    from companion.band.auth import current_identity

    g = premium.gate(svc, current_identity(), session_id)
    if not g.premium:
        return None
    if request.args.get("sig") is not None:
        principal = premium.check_signature(svc, session_id, name, request.args)
        if name == "live.m3u8" and not premium.principal_still_entitled(svc, principal, g.broadcast):
            raise Forbidden("Your ticket for this broadcast is no longer valid.", code="premium_ticket_required",
                            details={"broadcast": g.broadcast, "premium": True,
                                     "buy_url": premium.buy_url(svc, g.broadcast)})
        return principal
    premium.refuse(svc, g)
    if name != "live.m3u8" or not g.principal:
        raise Forbidden("This premium broadcast's files need a valid signed link.", code="signature_invalid")
    return g.principal


@blp.route("/<int:session_id>/hls/<string:name>")
class Hls(MethodView):
    @blp.response(200)
    def get(self, session_id: int, name: str):
        """The live HLS broadcast: the playlist (live.m3u8), the init segment and the media segments."""
        if not (name == "live.m3u8" or name == "init.mp4" or (name.startswith("seg") and name.endswith(".m4s"))):
            raise NotFound("No such HLS file.", code="hls_not_found")
        svc = services()
        folder = service.hls_dir(svc, session_id)
        g = _premium_gate(svc, session_id, name)
        if not (folder / name).is_file():
            raise NotFound("No such HLS file.", code="hls_not_found")
        if g is not None:  # premium: a per-listener playlist, signed segments, nothing cached in between
            if name == "live.m3u8":
                text = premium.signed_playlist(svc, session_id, (folder / name).read_text(), g)
                resp = make_response(text)
                resp.headers["Cache-Control"] = "private, no-store"
            else:
                resp = send_from_directory(folder, name, max_age=60)
                resp.headers["Cache-Control"] = "private, max-age=60"
            resp.headers["Content-Type"] = {"m3u8": "application/vnd.apple.mpegurl", "mp4": "audio/mp4",
                                            "m4s": "audio/mp4"}[name.rsplit(".", 1)[1]]
            return resp
        resp = send_from_directory(folder, name, max_age=0 if name.endswith(".m3u8") else 60)
        resp.headers["Content-Type"] = {"m3u8": "application/vnd.apple.mpegurl", "mp4": "audio/mp4",
                                        "m4s": "audio/mp4"}[name.rsplit(".", 1)[1]]
        return resp


@blp.route("/<int:session_id>/recording/<string:name>")
class Recording(MethodView):
    @blp.response(200)
    def get(self, session_id: int, name: str):
        """A kept recording (band members): ``mix`` or a robot's stem, as WAV."""
        require("band.read_private")
        st = service.get_state(services(), session_id)
        rec = st["recording"] or {}
        key = rec.get("mix") if name == "mix" else (rec.get("stems") or {}).get(name)
        if not key:
            raise NotFound("No such recording in this session.", code="recording_not_found")
        return send_file(services().store.open(key), mimetype="audio/wav", download_name=f"{name}.wav")


@votes_blp.route("/<int:session_id>/votes")
class Votes(MethodView):
    @signed_in
    @votes_blp.arguments(VoteSchema)
    @votes_blp.response(202)
    def post(self, body, session_id: int):
        """Vote on what the robots do next (signed-in listeners; one vote per round, a round is a bar). A
        premium broadcast's session: its listeners only (403 ``premium_ticket_required``)."""
        ident = require_signed_in()
        premium.require_listener(services(), ident, session_id)
        return service.cast_vote(services(), ident, session_id, body.get("parameter"), body.get("value"))


@blp.route("/<int:session_id>/chat")
class Chat(MethodView):
    @signed_in
    @blp.arguments(TextSchema)
    @blp.response(201)
    def post(self, body, session_id: int):
        """Say something in the session's chat (members and invited guests; of a premium session, the guests
        invited to its broadcast: 403 ``premium_not_invited``), stamped with its media clock."""
        return service.add_note(services(), require_signed_in(), session_id, "chat", body.get("text"))


@blp.route("/<int:session_id>/marks")
class Marks(MethodView):
    @signed_in
    @blp.arguments(TextSchema)
    @blp.response(201)
    def post(self, body, session_id: int):
        """Mark this moment of the session (members and invited guests), with a label."""
        return service.add_note(services(), require_signed_in(), session_id, "mark", body.get("text"))


@blp.route("/<int:session_id>/notes")
class Notes(MethodView):
    @signed_in
    @blp.response(200)
    def get(self, session_id: int):
        """The session's chat and marks in media-clock order: the band (members and invited guests) and the
        session's listeners (signed-in fans; of a premium session, those with a ticket, a subscription or a
        grant: 403 ``premium_ticket_required``)."""
        return service.list_notes(services(), require_signed_in(), session_id)


@blp.route("/<int:session_id>/view")
class View(MethodView):
    @signed_in
    @blp.response(200)
    def get(self, session_id: int):
        """The shared studio view (members and invited guests; 403 ``band_only`` for anyone else): who is
        in the room (from Janus) with their level and parts, what each robot plays in the bar in force,
        what the robots hear of the members, the chat and the marks. The studio's session page polls it."""
        return service.session_view(services(), require_signed_in(), session_id)


class AnswerSchema(Schema):
    jsep = fields.Raw(required=True)


@blp.route("/<int:session_id>/ice")
class Ice(MethodView):
    @signed_in
    @blp.response(200)
    def get(self, session_id: int):
        """The ICE servers (TURN with a short-lived credential) for a signed-in peer of a session that
        runs over WebRTC: a member asks before making their offer; a listener gets them with Janus' offer."""
        from companion.live import ice

        ident = require_signed_in()
        st = service.get_state(services(), session_id)  # 404 for a session that does not exist
        if st["status"] not in service.RUNNING:
            raise Conflict("This session has ended.", code="session_ended")
        if not st.get("webrtc"):
            raise Conflict("This session is broadcast over HLS only.", code="no_webrtc")
        premium.require_listener(services(), ident, session_id)  # a premium session's: who may be in it
        who = ident.member_id or f"{ident.kind}-{ident.token_id or 'anon'}"
        return ice.ice_servers(services().config, who)


@blp.route("/<int:session_id>/listen")
class Listen(MethodView):
    @signed_in
    @blp.response(201)
    def post(self, session_id: int):
        """WebRTC signalling for a (signed-in) listener, step 1: Janus' offer for the session's broadcast,
        and the listener id to answer with. 409 ``no_webrtc`` where the session is on HLS only. A premium
        broadcast's session: 403 ``premium_ticket_required`` without a ticket (or subscription, or grant)."""
        premium.require_listener(services(), require_signed_in(), session_id)
        return service.listen_offer(services(), session_id)


@blp.route("/<int:session_id>/listen/<string:listener>")
class ListenAnswer(MethodView):
    @signed_in
    @blp.arguments(AnswerSchema)
    @blp.response(200)
    def post(self, body, session_id: int, listener: str):
        """Step 2: the listener's SDP answer; malformed signalling is 400 ``malformed_signalling``."""
        premium.require_listener(services(), require_signed_in(), session_id)
        return service.listen_answer(services(), session_id, listener, body.get("jsep"))


class ReleaseSchema(Schema):
    title = fields.Raw(load_default=None)


@blp.route("/<int:session_id>/release")
class Release(MethodView):
    @requires("catalog.upload")
    @blp.arguments(ReleaseSchema)
    @blp.response(202)
    def post(self, body, session_id: int):
        """Release an ended session's mix through the release pipeline as a draft track (band members)."""
        return service.release_recording(services(), require("catalog.upload"), session_id, body.get("title"))


@blp.route("/<int:session_id>/join")
class Join(MethodView):
    @signed_in
    @blp.arguments(AnswerSchema)
    @blp.response(201)
    def post(self, body, session_id: int):
        """A member or invited guest joins the session's room over WebRTC: ``{"jsep": <SDP offer>}`` in,
        Janus' answer out; malformed signalling is 400 ``malformed_signalling``."""
        return service.join_room(services(), require_signed_in(), session_id, body.get("jsep"))


broadcasts_blp = Blueprint("live_broadcasts", __name__, url_prefix="/api/live/broadcasts",
                           description="Scheduled broadcasts: a WordPress performance post goes live at a set time.")


class BroadcastSchema(Schema):
    wp_post_id = fields.Raw(required=True, metadata={"description": "the WordPress performance post"})
    title = fields.Raw(required=True)
    starts_at = fields.Raw(required=True, metadata={"description": "ISO 8601 with its offset, e.g. 2026-12-24T20:00:00Z"})
    params = fields.Raw(load_default=None, metadata={"description": "the session's parameters"})
    seed = fields.Raw(load_default=None)
    premium = fields.Raw(load_default=None, metadata={"description": "true: listeners need a ticket (live:<id>), "
                                                                    "a subscription or a grant"})


class RescheduleSchema(Schema):
    starts_at = fields.Raw(load_default=None)
    title = fields.Raw(load_default=None)
    params = fields.Raw(load_default=None)
    seed = fields.Raw(load_default=None)
    premium = fields.Raw(load_default=None)


class BroadcastListArgs(Schema):
    wp_post_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1),
                                metadata={"description": "only this WordPress post's broadcasts"})
    state = fields.String(load_default=None, validate=validate.OneOf(BROADCAST_STATES))


def _may_schedule_first(view):
    """Decorator: signed in with the right to schedule before the body is read."""
    import functools

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from companion.live.broadcasts import may_schedule

        may_schedule(require_signed_in())
        return view(*args, **kwargs)
    return declare_security(wrapper)


@broadcasts_blp.route("")
class Broadcasts(MethodView):
    @broadcasts_blp.arguments(BroadcastListArgs, location="query")
    @broadcasts_blp.response(200)
    def get(self, args):
        """Broadcasts in start order (public fields; the band and WordPress see all of each)."""
        from companion.band.auth import current_identity
        from companion.live import broadcasts

        return broadcasts.list_broadcasts(services(), current_identity(), wp_post_id=args.get("wp_post_id"),
                                          state=args.get("state"))

    @_may_schedule_first
    @broadcasts_blp.arguments(BroadcastSchema)
    @broadcasts_blp.response(201)
    def post(self, body):
        """Schedule a broadcast (members with ``live.run``; WordPress for its editors)."""
        from companion.live import broadcasts

        return broadcasts.create(services(), require_signed_in(), body)


@broadcasts_blp.route("/<int:broadcast_id>")
class BroadcastItem(MethodView):
    @broadcasts_blp.response(200)
    def get(self, broadcast_id: int):
        """One broadcast: title, starts_at, state, and its session once live (anyone; the countdown polls it)."""
        from companion.band.auth import current_identity
        from companion.live import broadcasts

        return broadcasts.get(services(), broadcast_id, current_identity())

    @_may_schedule_first
    @broadcasts_blp.arguments(RescheduleSchema)
    @broadcasts_blp.response(200)
    def patch(self, body, broadcast_id: int):
        """Reschedule a scheduled broadcast (its start, title, parameters)."""
        from companion.live import broadcasts

        return broadcasts.reschedule(services(), require_signed_in(), broadcast_id, body)


@broadcasts_blp.route("/<int:broadcast_id>/cancel")
class BroadcastCancel(MethodView):
    @_may_schedule_first
    @broadcasts_blp.response(200)
    def post(self, broadcast_id: int):
        """Cancel a scheduled broadcast: no session starts."""
        from companion.live import broadcasts

        return broadcasts.cancel(services(), require_signed_in(), broadcast_id)
