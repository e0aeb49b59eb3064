"""Live sessions: start one (its rig and its robots), steer it (votes), watch it, stop it.

A session runs in a :class:`Runner` thread of the companion process that started it: it starts the
rig (companion/live/engine.py), then, bar by bar, closes the vote round of the bar playing, applies
the winners to the next bar, and sends that bar to scsynth ahead of its line. Its state lives in the
database (``live_sessions``), so any companion process answers for it. When a member stops it, or a
program of the rig dies (a crash is detected within a bar), the recording made so far is trimmed to
the session clock (from the count-in click) and kept in the object store: a WAV stem per robot and
the mix, all of the same length.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import sqlalchemy as sa

from companion.access.identity import listener_id_of
from companion.algorithms.base import Params
from companion.band.identity import Identity
from companion.db import utcnow
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from companion.live import votes as ballot
from companion.live.analysis import first_sound
from companion.live.engine import Rig, free_udp_port
from companion.live import ice
from companion.live.janus import JanusClient, JanusServer
from companion.live.models import LiveNote, LiveSession, LiveVote
from companion.live.robots import ROBOTS

if TYPE_CHECKING:
    from companion.live.band import LiveBand

log = logging.getLogger(__name__)

RUNNING = ("starting", "live", "stopping")
#: a running session whose runner has not written for this long lost its companion process
STALE = dt.timedelta(seconds=45)
STALE_START = dt.timedelta(minutes=5)  # a session not yet playing (its rig starting, waiting for a worker)
CHAT_MAX_CHARS = 500
#: what of a session's Janus the state shows (its admin address and secret, the handles and what the
#: robots hear stay in the companion)
PUBLIC_WEBRTC = ("janus", "mountpoint", "room")
#: libopus' encoder lookahead at 48 kHz (2.5 ms + 4 ms), the samples a decoder skips when the Ogg says so
OPUS_LOOKAHEAD = 312
re_listener = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
#: runners of this process: session id -> Runner
_RUNNERS: dict[tuple[str, int], "Runner"] = {}
_LOCK = threading.Lock()


def work_dir(svc, session_id: int) -> Path:
    return Path(svc.config.var_dir) / "live" / str(session_id)


def hls_dir(svc, session_id: int) -> Path:
    return work_dir(svc, session_id) / "hls"


def _get(s, session_id: int) -> LiveSession:
    row = s.get(LiveSession, session_id)
    if row is None:
        raise NotFound("No such live session.", code="live_session_not_found", details={"session": session_id})
    return row


def _reap(row: LiveSession, database_url: str) -> None:
    """A running session whose runner stopped writing (its companion process died) is failed."""
    if (row.status in RUNNING and (database_url, row.id) not in _RUNNERS
            and utcnow() - row.heartbeat_at > (STALE_START if row.status == "starting" else STALE)):
        row.status, row.error, row.ended_at = "failed", "companion_lost", utcnow()
        row.message = "The companion process running this session stopped; nothing more was recorded."


def _get_live(s, session_id: int, database_url: str) -> LiveSession:
    row = _get(s, session_id)
    _reap(row, database_url)
    return row


def state(row: LiveSession) -> dict:
    return {"id": row.id, "status": row.status, "started_by": row.started_by, "robots": row.robots,
            "params": row.params, "bar": row.bar, "round": row.round, "t0": row.t0,
            "bars": row.bars[-16:], "applied": row.applied, "recording": row.recording, "error": row.error,
            "message": row.message, "track_id": row.track_id, "hls": f"/api/live/sessions/{row.id}/hls/live.m3u8",
            "webrtc": {k: v for k, v in row.webrtc.items() if k in PUBLIC_WEBRTC} if row.webrtc else None,
            "ballot": ballot.ballot(),
            "created_at": row.created_at.isoformat() + "Z",
            "ended_at": row.ended_at.isoformat() + "Z" if row.ended_at else None}


def get_state(svc, session_id: int) -> dict:
    with svc.db.session() as s:
        return state(_get_live(s, session_id, svc.config.database_url))


def start_session(svc, identity: Identity, params: dict | None = None, seed: int = 1, *, premium=False,
                  performance=None, title=None) -> dict:
    """Start a session for member ``identity``: the rig, the robots, the broadcast. Returns its state
    once the robots play (the count-in is scheduled). ``premium``: only those who may listen hear it;
    ``performance``: the companion makes its WordPress performance post and, once it ends, releases its
    recording (companion/live/followups.py, a broadcast row of the session's own). A premium session
    always has its post (its ticket is sold from it and fans listen on it): ``performance`` defaults to
    true with ``premium``, and ``"performance": false`` with it is 400 ``premium_needs_post``."""
    from companion.live import followups

    if identity.kind != "member" or not identity.member_id:
        raise Forbidden("Only band members start live sessions.", code="members_only")
    premium = followups._premium(premium)
    if performance is None:
        performance = premium
    if not isinstance(performance, bool):
        raise InvalidInput("performance is true or false", code="invalid_performance",
                           details={"field": "performance"})
    if premium and not performance:
        raise InvalidInput("A premium session needs its performance post: its ticket is sold from that page and "
                           "fans listen there. Leave performance out (or true) with premium.",
                           code="premium_needs_post", details={"field": "performance"})
    if title is not None:
        followups._title(title)
    try:
        p = Params.from_dict({"tempo": 120, **(params or {})})
    except (ValueError, TypeError) as exc:
        raise InvalidInput(str(exc), code="invalid_params") from exc
    if not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise InvalidInput("seed is an integer from 0 to 2^31 - 1", code="invalid_seed")
    with svc.db.session() as s:
        for row in s.scalars(sa.select(LiveSession).where(LiveSession.status.in_(RUNNING))):
            _reap(row, svc.config.database_url)
        s.flush()
        running = s.scalar(sa.select(sa.func.count()).select_from(LiveSession)
                           .where(LiveSession.status.in_(RUNNING)))
        if running >= svc.config.live_max_sessions:
            raise ServiceUnavailable("As many live sessions as this companion holds are running.",
                                     code="live_sessions_full", details={"max": svc.config.live_max_sessions})
        row = LiveSession(started_by=identity.member_id, seed=seed, robots=list(ROBOTS), params=p.to_dict())
        s.add(row)
        s.flush()
        session_id = row.id
        own = (followups.for_session(s, identity, row, title, premium, performance).id
               if (premium or performance) else None)
        job = None
        if svc.config.live_runner == "queue":
            from companion.tasks.service import create_job

            job = create_job(s, kind="live", params={"session_id": session_id}, created_by=identity.member_id)
    if job is not None:
        st = _start_on_queue(svc, job, session_id)
        _after_start(svc, own, premium, performance)
        return st
    runner = Runner(svc, session_id, p, seed)
    svc.at_close(end_all)  # the app closing stops the sessions it runs, their recordings kept
    with _LOCK:
        _RUNNERS[(svc.config.database_url, session_id)] = runner
    runner.start()
    if not runner.ready.wait(60):
        runner.stop_event.set()
    runner.ready.wait(30)
    st = get_state(svc, session_id)
    if st["status"] == "failed":
        raise ServiceUnavailable("The live session could not start.", code=st["error"] or "live_start_failed",
                                 details={"session": session_id, "message": st["message"]})
    _after_start(svc, own, premium, performance)
    return st


def _after_start(svc, broadcast_id: int | None, premium: bool, performance: bool) -> None:
    """A session started by hand with its own broadcast row: queue its performance post (and, once the
    post is made, a premium one's ticket)."""
    from companion.live import followups

    if broadcast_id is None:
        return
    if performance:  # a premium session's ticket follows its post (broadcasts.performance_post queues it)
        followups.enqueue_post(svc, broadcast_id)


def _start_on_queue(svc, job, session_id: int, timeout: float = 90.0) -> dict:
    """Hand the session to a worker of the "live" queue (jobs.live.run_session) and wait until it plays."""
    from companion.tasks.service import submit

    def undo(s) -> None:
        row = s.get(LiveSession, session_id)
        row.status, row.error, row.ended_at = "failed", "queue_unavailable", utcnow()

    submit(svc, job, "jobs.live.run_session", undo=undo)
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = get_state(svc, session_id)
        if st["status"] != "starting":
            break
        time.sleep(0.1)
    else:
        with svc.db.session() as s:
            row = s.get(LiveSession, session_id)
            if row.status == "starting":  # no live worker took it: the job will find it ended and do nothing
                row.status, row.error, row.ended_at = "failed", "no_live_worker", utcnow()
                row.message = "No worker of the live queue took the session."
        st = get_state(svc, session_id)
    if st["status"] == "failed":
        raise ServiceUnavailable("The live session could not start.", code=st["error"] or "live_start_failed",
                                 details={"session": session_id, "message": st["message"]})
    return st


def host_session(svc, session_id: int) -> dict:
    """Run a session here, until it is stopped or fails (a "live" queue worker's job). A session runs
    once: a session no longer "starting" (a retried job, a session given up) is left alone."""
    with svc.db.session() as s:
        row = _get(s, session_id)
        if row.status != "starting":
            return {"session": session_id, "ran": False, "status": row.status}
        params, seed = Params.from_dict(row.params), row.seed
    runner = Runner(svc, session_id, params, seed)
    with _LOCK:
        _RUNNERS[(svc.config.database_url, session_id)] = runner
    runner.run()  # in this thread: the job lasts as long as the session
    st = get_state(svc, session_id)
    return {"session": session_id, "ran": True, "status": st["status"], "error": st["error"]}


def stop_session(svc, identity: Identity, session_id: int, wait: float = 60.0) -> dict:
    """Stop a session (band members only); returns its final state with the recording."""
    if identity.kind != "member":
        raise Forbidden("Only band members stop live sessions.", code="members_only")
    with svc.db.session() as s:
        row = _get_live(s, session_id, svc.config.database_url)
        if row.status not in RUNNING:
            raise Conflict("The session is not running.", code="live_session_ended",
                           details={"status": row.status})
        row.status = "stopping"
    runner = _RUNNERS.get((svc.config.database_url, session_id))
    if runner is not None:
        runner.stop_event.set()
        runner.join(wait)
    else:  # run by another companion process: it sees "stopping" within a bar
        deadline = time.time() + wait
        while time.time() < deadline and get_state(svc, session_id)["status"] in RUNNING:
            time.sleep(0.2)
    return get_state(svc, session_id)


def cast_vote(svc, identity: Identity, session_id: int, parameter, value) -> dict:
    """One listener's vote in the open round (one per listener per round).

    A fan signed in through WordPress votes as their listener row (``l.<id>``: two fans with the same
    display name are two voters, and a fan's votes can be found for an export or an erasure)."""
    parameter, value = ballot.check(parameter, value)
    fan = listener_id_of(identity)
    voter = f"l.{fan}" if fan is not None else identity.token_id or identity.member_id or identity.name
    with svc.db.session() as s:
        row = _get_live(s, session_id, svc.config.database_url)
        if row.status != "live":
            raise Conflict("The session is not live.", code="live_session_not_live", details={"status": row.status})
        rnd = row.round
        exists = s.scalar(sa.select(LiveVote.id).where(LiveVote.session_id == session_id, LiveVote.round == rnd,
                                                       LiveVote.voter == voter))
        if exists:
            raise Conflict("You have voted in this round already; vote again in the next bar.",
                           code="already_voted", details={"round": rnd})
        s.add(LiveVote(session_id=session_id, round=rnd, voter=voter, parameter=parameter, value=value))
    return {"session": session_id, "round": rnd, "parameter": parameter, "value": value,
            "applies_at_bar": rnd + 1}


def _band_side(identity: Identity) -> str:
    if identity.kind not in ("member", "guest"):
        raise Forbidden("Only the band (members and invited guests) chat and mark moments in a session.",
                        code="band_only")
    return identity.member_id or f"guest:{identity.token_id or identity.name}"


def _in_session(svc, identity: Identity, session_id: int) -> str:
    """Who this caller is in the session's room, chat and marks: the band (members, invited guests) only,
    and on a premium session only those its gate lets in (companion/live/premium.py: members; a guest
    whose token names its broadcast, else 403 ``premium_not_invited``)."""
    from companion.live import premium

    who = _band_side(identity)
    premium.require_listener(svc, identity, session_id)
    return who


def _may_read_notes(svc, identity: Identity, session_id: int) -> None:
    """The chat and marks are read by the band (as :func:`_in_session`); a premium session's also by the
    fans who may listen to it (a ticket, a subscription, a grant: they follow the band's talk and marks;
    anyone else 403 ``premium_ticket_required``). A free session's stay the band's (403 ``band_only``)."""
    from companion.live import premium

    if identity.kind in ("member", "guest"):
        _in_session(svc, identity, session_id)
        return
    g = premium.gate(svc, identity, session_id) if identity.kind == "listener" else None
    if g is None or not g.premium:
        _band_side(identity)  # 403 band_only
    premium.refuse(svc, g)


def add_note(svc, identity: Identity, session_id: int, kind: str, text) -> dict:
    """A chat message or a marked moment, stamped with the session's media clock (and its bar)."""
    author = _in_session(svc, identity, session_id)
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Send some text.", code="empty_text")
    if len(text) > CHAT_MAX_CHARS:
        raise InvalidInput(f"A {kind} text may be at most {CHAT_MAX_CHARS} characters.", code="text_too_long",
                           details={"limit_chars": CHAT_MAX_CHARS, "length": len(text)})
    with svc.db.session() as s:
        row = _get_live(s, session_id, svc.config.database_url)
        if row.status != "live" or row.t0 is None:
            raise Conflict("The session is not live.", code="live_session_not_live", details={"status": row.status})
        media = max(0.0, time.time() - row.t0)
        bar = max((b["number"] for b in row.bars if b["start"] <= media), default=0)
        note = LiveNote(session_id=session_id, kind=kind, author=author, text=text.strip(), media_time=media, bar=bar)
        s.add(note)
        s.flush()
        return _note(note)


def _note(n: LiveNote) -> dict:
    return {"id": n.id, "kind": n.kind, "author": n.author, "text": n.text, "media_time": round(n.media_time, 3),
            "bar": n.bar}


def list_notes(svc, identity: Identity, session_id: int) -> list[dict]:
    """The chat and marks in media-clock order (:func:`_may_read_notes` says who)."""
    _may_read_notes(svc, identity, session_id)
    with svc.db.session() as s:
        _get(s, session_id)
        return [_note(n) for n in s.scalars(sa.select(LiveNote).where(LiveNote.session_id == session_id)
                                            .order_by(LiveNote.media_time, LiveNote.id))]


def _parts() -> dict[str, list[str]]:
    """Which parts each band member plays (their instruments' parts), for the session view."""
    from companion.algorithms.instruments import load_instruments

    out: dict[str, list[str]] = {}
    for inst in load_instruments().values():
        out.setdefault(inst.member, []).append(inst.part)
    return out


def session_view(svc, identity: Identity, session_id: int) -> dict:
    """The shared studio view of a session (members and invited guests): who is in the room now (from
    Janus), with the level Janus measures for each and the part each plays; what each robot plays in
    the bar in force (its notes and the parameters); what the robots hear of the members; the chat and
    the marks."""
    me = _in_session(svc, identity, session_id)
    with svc.db.session() as s:
        row = _get_live(s, session_id, svc.config.database_url)
        st = state(row)
        rtc = dict(row.webrtc or {})
        bars = list(row.bars or [])
        status, robots_of = row.status, list(row.robots)
        heard = next((b.get("heard") for b in reversed(bars) if b.get("heard")), None)
        followed = [{"bar": b["number"], **b["followed"]} for b in bars if b.get("followed")]
    parts = _parts()
    people: list[dict] = []
    if rtc.get("room") and status == "live":
        names = rtc.get("participants") or {}
        handles = rtc.get("handles") or {}
        client = JanusClient(rtc["janus"], rtc.get("admin"), rtc.get("admin_secret"), timeout=3)
        try:
            client.create_session()
            listed = client.list_participants(rtc["room"])
            for p in listed:
                pid = str(p.get("id"))
                who = names.get(pid) or p.get("display") or f"participant-{pid}"
                kind = "robots" if who == "robots" else ("guest" if who.startswith("guest:") else "member")
                entry = {"id": pid, "who": who, "kind": kind, "talking": bool(p.get("talking")),
                         "parts": [] if kind != "member" else parts.get(who, []), "level_db": None}
                if kind == "robots":
                    entry["parts"] = [f"{r}: {', '.join(parts.get(r, []))}" for r in robots_of]
                if pid in handles and rtc.get("admin"):
                    try:
                        info = client.handle_info(*handles[pid]).get("plugin_specific") or {}
                        if info.get("audio-level-dBov") is not None and info.get("started"):
                            entry["level_db"] = -float(info["audio-level-dBov"])
                        entry["opus_bitrate"] = info.get("opus-bitrate")
                    except ServiceUnavailable:
                        pass
                people.append(entry)
        except ServiceUnavailable:
            people = []
        finally:
            client.destroy()
    last = bars[-1] if bars else None
    robots = []
    for r in robots_of:
        robots.append({"robot": r, "parts": parts.get(r, []),
                       "bar": last["number"] if last else None,
                       "notes": ((last or {}).get("pitches") or {}).get(r, []),
                       "count": ((last or {}).get("notes") or {}).get(r, 0)})
    return {"id": session_id, "me": me, "status": st["status"], "bar": st["bar"], "t0": st["t0"],
            "params": st["params"], "media_time": round(time.time() - st["t0"], 3) if st["t0"] else None,
            "participants": people, "robots": robots, "heard": heard, "followed": followed,
            "notes": list_notes(svc, identity, session_id)}


def release_recording(svc, identity: Identity, session_id: int, title: str | None = None) -> dict:
    """Put an ended session's mix through the release pipeline as a (draft) track: the performance's
    recording. Once per session (409 ``already_released``)."""
    import hashlib
    import tempfile

    from companion.catalog.service import create_track
    from companion.catalog.uploads import accept_upload

    if title is not None and (not isinstance(title, str) or not 1 <= len(title.strip()) <= 200):
        raise InvalidInput("title is 1 to 200 characters", code="invalid_title")
    with svc.db.session() as s:
        row = _get_live(s, session_id, svc.config.database_url)
        if row.status in RUNNING:
            raise Conflict("Stop the session first.", code="live_session_running")
        if row.track_id is not None:
            raise Conflict("This session's recording is released already.", code="already_released",
                           details={"track_id": row.track_id})
        mix_key = (row.recording or {}).get("mix")
        if not mix_key:
            raise Conflict("This session kept no recording.", code="no_recording")
        day = row.created_at.date().isoformat()
    with tempfile.TemporaryDirectory(prefix="shm-live-release-") as tmp:
        path = Path(tmp) / f"live-session-{session_id}.wav"
        src = svc.store.open(mix_key)
        try:
            with open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
        finally:
            src.close()
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        with svc.db.session() as s:
            row = _get(s, session_id)
            if row.track_id is not None:  # another request released it meanwhile
                raise Conflict("This session's recording is released already.", code="already_released",
                               details={"track_id": row.track_id})
            track = create_track(s, title=(title or f"Live session {session_id} ({day})").strip(),
                                 description=f"Recorded live: the robots in session {session_id}, {day}.",
                                 release_state="draft")
            row.track_id = track.id
            track_id = track.id
        try:
            job_id, _ = accept_upload(svc, track_id, path, path.name, sha, created_by=identity.member_id)
        except Exception:
            with svc.db.session() as s:  # nothing half-written: the session can be released again
                _get(s, session_id).track_id = None
                from companion.catalog.models import Track
                s.delete(s.get(Track, track_id))
            raise
    return {"session": session_id, "track_id": track_id, "job_id": job_id}


SDP_MAX_BYTES = 64 * 1024


def _check_sdp(jsep, kind: str) -> dict:
    if (not isinstance(jsep, dict) or jsep.get("type") != kind or not isinstance(jsep.get("sdp"), str)
            or not jsep["sdp"].startswith("v=0") or len(jsep["sdp"].encode()) > SDP_MAX_BYTES
            or set(jsep) - {"type", "sdp"}):
        raise InvalidInput(f"jsep must be {{\"type\": \"{kind}\", \"sdp\": \"v=0...\"}} (at most 64 KB).",
                           code="malformed_signalling", details={"field": "jsep"})
    return {"type": kind, "sdp": jsep["sdp"]}


def join_room(svc, identity: Identity, session_id: int, jsep) -> dict:
    """A member (or invited guest) joins the session's room over WebRTC: their SDP offer in, Janus'
    answer out. They hear the robots and the others (mix-minus); the room records everyone. A premium
    session's room: members and the guests invited to it only (the room is its audio too)."""
    who = _in_session(svc, identity, session_id)
    offer = _check_sdp(jsep, "offer")
    rtc = _janus_of(svc, session_id)
    if "room" not in rtc:
        raise Conflict("This session has no members' room.", code="no_room")
    client = JanusClient(rtc["janus"])
    client.create_session()
    try:
        handle, answer, participant = client.join_webrtc(rtc["room"], who, offer)
    except ServiceUnavailable as exc:
        client.destroy()
        if "janus_code" in exc.details or "plugin_code" in exc.details:
            raise InvalidInput(f"Janus refused the offer: {exc.message}", code="malformed_signalling",
                               details={k: v for k, v in exc.details.items() if k.endswith("_code")}) from exc
        raise
    with _LOCK, svc.db.session() as s:  # who each of the room's recordings is (members join at once)
        row = s.get(LiveSession, session_id)
        row.webrtc = {**row.webrtc, "participants": {**row.webrtc.get("participants", {}), str(participant): who},
                      "handles": {**row.webrtc.get("handles", {}), str(participant): [client.session_id, handle]}}
    return {"participant": f"{client.session_id}-{handle}", "display": who, "jsep": answer}


def _janus_of(svc, session_id: int) -> dict:
    with svc.db.session() as s:
        row = _get_live(s, session_id, svc.config.database_url)
        if row.status != "live":
            raise Conflict("The session is not live.", code="live_session_not_live", details={"status": row.status})
        if not row.webrtc:
            raise Conflict("This session is broadcast over HLS only.", code="no_webrtc",
                           details={"hls": f"/api/live/sessions/{session_id}/hls/live.m3u8"})
        return dict(row.webrtc)


def listen_offer(svc, session_id: int) -> dict:
    """Signalling for a WebRTC listener, step 1: watch the session's mountpoint; Janus' offer back,
    with the listener's id for step 2."""
    rtc = _janus_of(svc, session_id)
    client = JanusClient(rtc["janus"])
    client.create_session()
    handle = client.attach("janus.plugin.streaming")
    client.message(handle, {"request": "watch", "id": rtc["mountpoint"]})
    deadline = time.time() + 10
    while time.time() < deadline:
        for ev in client.events(wait=3):
            jsep = ev.get("jsep") or {}
            if jsep.get("type") == "offer":
                listener = f"{client.session_id}-{handle}"
                return {"listener": listener, "jsep": {"type": "offer", "sdp": jsep["sdp"]},
                        **ice.ice_servers(svc.config, f"listener-{listener}")}
    client.destroy()
    raise ServiceUnavailable("Janus sent no offer for this session.", code="janus_no_offer")


def listen_answer(svc, session_id: int, listener, jsep) -> dict:
    """Signalling step 2: the listener's answer to Janus' offer; media flows once ICE connects."""
    if not isinstance(listener, str) or not re_listener.fullmatch(listener):
        raise InvalidInput("listener is the id the offer came with.", code="malformed_signalling",
                           details={"field": "listener"})
    if (not isinstance(jsep, dict) or jsep.get("type") != "answer" or not isinstance(jsep.get("sdp"), str)
            or not jsep["sdp"].startswith("v=0") or len(jsep["sdp"].encode()) > SDP_MAX_BYTES
            or set(jsep) - {"type", "sdp"}):
        raise InvalidInput("jsep must be {\"type\": \"answer\", \"sdp\": \"v=0...\"} (an SDP answer, at most 64 KB).",
                           code="malformed_signalling", details={"field": "jsep"})
    rtc = _janus_of(svc, session_id)
    janus_session, handle = (int(x) for x in listener.split("-"))
    client = JanusClient(rtc["janus"])
    client.session_id = janus_session
    try:
        client.message(handle, {"request": "start"}, jsep=jsep)
    except ServiceUnavailable as exc:
        if "janus_code" in exc.details:  # Janus refused it (unknown handle, a bad SDP): the caller's input
            raise InvalidInput(f"Janus refused the answer: {exc.message}", code="malformed_signalling",
                               details={"janus_code": exc.details["janus_code"]}) from exc
        raise
    return {"listener": listener, "started": True}


def end_all(svc) -> None:
    """Stop every session this process runs (the app closing)."""
    for key, runner in list(_RUNNERS.items()):
        if key[0] == svc.config.database_url:
            runner.stop_event.set()
            runner.join(30)


class Runner(threading.Thread):
    """The thread that holds one session's rig and plays its robots bar by bar."""

    def __init__(self, svc, session_id: int, params: Params, seed: int):
        super().__init__(name=f"live-session-{session_id}", daemon=True)
        self.svc = svc
        self.session_id = session_id
        self.params = params
        self.seed = seed
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.rig: Rig | None = None
        self.band: LiveBand | None = None
        self.janus: JanusServer | None = None
        self.janus_client: JanusClient | None = None
        self.ears = None  # companion/live/ears.py: what the robots hear of the members

    def _update(self, **fields) -> None:
        with self.svc.db.session() as s:
            row = _get(s, self.session_id)
            for k, v in fields.items():
                setattr(row, k, v)

    def run(self) -> None:
        cfg = self.svc.config
        work = work_dir(self.svc, self.session_id)
        shutil.rmtree(work, ignore_errors=True)
        error, message, status = "", "", "ended"
        try:
            work.mkdir(parents=True, exist_ok=True)
            rtp_ports = []
            if cfg.live_webrtc:  # a Janus of the session's own: listeners' mountpoint, the members' room
                self.janus = JanusServer(work=work)
                self.janus.start()
                jc = self.janus_client = JanusClient(self.janus.url, self.janus.admin_url, self.janus.admin_secret)
                mount_port = free_udp_port()
                rtp_ports.append((mount_port, None))
                jc.create_rtp_mountpoint(self.session_id, mount_port, f"live session {self.session_id}")
                room_dir = work / "room"
                room_dir.mkdir(parents=True, exist_ok=True)
                jc.create_room(self.session_id, room_dir, f"live session {self.session_id}",
                               prebuffer=cfg.live_room_prebuffer)
                # the robots jam in the room as a plain-RTP participant, and hear the members' group
                robots_port = free_udp_port()
                janus_port, robots_id = jc.join_plain_rtp(self.session_id, "robots", robots_port)
                rtp_ports.append((janus_port, robots_port))
                from companion.live.ears import Ears

                ears_port = free_udp_port()
                self.ears = Ears(work, ears_port)
                self.ears.start()
                jc.forward_group(self.session_id, "band", ears_port)
                self._update(webrtc={"janus": self.janus.url, "mountpoint": self.session_id,
                                     "admin": self.janus.admin_url, "admin_secret": self.janus.admin_secret,
                                     "room": self.session_id, "participants": {str(robots_id): "robots"}})
            self.rig = Rig(work=work, stems=list(ROBOTS), period=cfg.live_jack_period,
                           hls_time=cfg.live_hls_seconds, rtp_ports=rtp_ports)
            self.rig.start()
            from companion.live.band import LiveBand  # supriya and the algorithms: only a running session

            self.band = LiveBand(self.rig.osc_port, self.params, seed=self.seed, lookahead=cfg.live_lookahead)
            self.band.load()
            t0 = self.band.start()
            self._update(status="live", t0=t0, round=0, bar=0, heartbeat_at=utcnow(),
                         bars=[dataclasses.asdict(self.band.bars[0]) | {"params": None}])
            self.ready.set()
            error, message = self._loop()
            if error:
                status = "failed"
        except Exception as exc:  # the rig failed to start or broke: the session fails, cleanly
            log.exception("live session %s failed", self.session_id)
            error, message, status = getattr(exc, "code", "live_failed"), str(exc)[:500], "failed"
        finally:
            self.ready.set()
            if self.band is not None:
                self.band.close()
            if self.rig is not None:
                self.rig.stop()
            if self.ears is not None:
                self.ears.stop()
            if self.janus_client is not None:
                self.janus_client.destroy()
            if self.janus is not None:
                self.janus.stop()
            try:
                recording = self._keep_recording()
            except Exception as exc:
                log.exception("live session %s: keeping the recording failed", self.session_id)
                recording, error = {}, error or "recording_lost"
                message = message or str(exc)[:500]
            self._update(status=status, error=error, message=message, recording=recording, ended_at=utcnow())
            try:  # a session started by hand with a performance post: release its recording, link it
                from companion.live import followups
                from companion.live.models import LiveBroadcast

                with self.svc.db.session() as s:
                    own = s.scalar(sa.select(LiveBroadcast.id).where(LiveBroadcast.session_id == self.session_id,
                                                                     LiveBroadcast.by_hand.is_(True),
                                                                     LiveBroadcast.wants_post.is_(True)))
                if own is not None:
                    followups.enqueue_ended(self.svc, self.session_id)
            except Exception:  # noqa: BLE001 - the session's end is stored; the job can be queued again
                log.exception("live session %s: could not queue its release", self.session_id)
            with _LOCK:
                _RUNNERS.pop((self.svc.config.database_url, self.session_id), None)

    def _loop(self) -> tuple[str, str]:
        band, rig = self.band, self.rig
        while True:
            bar = band.next_bar()
            close_at = band.due(bar) - 0.05
            while time.time() < close_at:
                dead = rig.dead() or ("janus" if self.janus is not None and self.janus.dead() else None)
                if dead:
                    return f"{dead}_died", f"{dead} stopped during the session; the recording so far is kept."
                if self.stop_event.wait(0.02):
                    return "", ""
            with self.svc.db.session() as s:
                row = _get(s, self.session_id)
                if row.status == "stopping":
                    return "", ""
                closing = row.round
                row.round = closing + 1  # new votes go to the next round from here on
            time.sleep(0.03)  # votes that read the old round just before commit land
            with self.svc.db.session() as s:
                cast = s.execute(sa.select(LiveVote.parameter, LiveVote.value)
                                 .where(LiveVote.session_id == self.session_id, LiveVote.round == closing)
                                 .order_by(LiveVote.id)).all()
            winners = ballot.tally([(p, v) for p, v in cast])
            if winners:
                band.params = ballot.apply(band.params, winners)
                bar = band.next_bar()
            heard, followed = None, None
            if self.ears is not None:  # what the robots heard of the members over the bar ending now
                from companion.live.ears import follow

                now = time.time()
                heard = self.ears.heard(now - band.bars[-1].length, now)
                new = None if "key" in winners else follow(band.params, heard)
                if new is not None:  # a vote for the key wins over what the robots hear
                    followed = {"parameter": "key", "value": new.key, "pitch_class": heard["pitch_class"]}
                    band.params = new
                    bar = band.next_bar()
            band.play(bar)
            with self.svc.db.session() as s:
                row = _get(s, self.session_id)
                row.bar = bar.number
                row.heartbeat_at = utcnow()
                row.params = band.params.to_dict()
                row.bars = [*row.bars, {"number": bar.number, "start": bar.start, "length": bar.length,
                                        "notes": bar.notes_by_robot,
                                        "pitches": {k: v[:32] for k, v in bar.pitches_by_robot.items()},
                                        "heard": heard, "followed": followed,
                                        "params": band.params.to_dict()}][-64:]
                if winners:
                    row.applied = [*row.applied, *({"round": closing, "bar": bar.number, "parameter": p,
                                                    "value": v, "votes": n} for p, (v, n) in winners.items())]

    def _keep_recording(self) -> dict:
        """Trim the stems and the mix to the session clock and put them in the object store."""
        rig = self.rig
        if rig is None or not rig.mix_path.exists():
            return {}
        mix, sr = sf.read(str(rig.mix_path), dtype="float32", always_2d=True)
        start = first_sound(mix.mean(axis=1), sr)
        cut = int(round(start * sr)) if start is not None else 0
        store = self.svc.store
        out = {"stems": {}, "sample_rate": sr}
        keep = work_dir(self.svc, self.session_id) / "kept"
        keep.mkdir(exist_ok=True)
        for name in rig.stems:
            path = rig.stem_path(name)
            if not path.exists():
                continue
            data, _ = sf.read(str(path), dtype="int16", always_2d=True)
            dest = keep / f"{name}.wav"
            sf.write(str(dest), data[cut:cut + len(mix) - cut], sr, subtype="PCM_16")
            key = f"live/{self.session_id}/stems/{name}.wav"
            store.put_file(key, dest, "audio/wav")
            out["stems"][name] = key
        data, _ = sf.read(str(rig.mix_path), dtype="int16", always_2d=True)
        dest = keep / "mix.wav"
        sf.write(str(dest), data[cut:], sr, subtype="PCM_16")
        key = f"live/{self.session_id}/mix.wav"
        store.put_file(key, dest, "audio/wav")
        out["mix"] = key
        out["seconds"] = round((len(mix) - cut) / sr, 3)
        out["room"] = self._keep_room(out["seconds"])
        out["clock_offset_seconds"] = round(cut / sr, 3)
        return out


    def _keep_room(self, seconds: float) -> dict:
        """The members' room as Janus recorded it: its mix (WAV), and one stem per participant on the
        session clock (WAV, 48 kHz mono, the session's length): every stretch they were in the room
        (janus-pp-rec decodes each .mjr; its first-packet time places it), silence between, and the gaps
        (a member who dropped and rejoined) listed."""
        import json

        room = work_dir(self.svc, self.session_id) / "room"
        if not room.is_dir():
            return {}
        with self.svc.db.session() as s:
            row = _get(s, self.session_id)
            names = dict((row.webrtc or {}).get("participants") or {})
            t0 = row.t0
        store, out = self.svc.store, {"participants": {}}
        if (room / "room-mix.wav").is_file() and (room / "room-mix.wav").stat().st_size > 44:
            key = f"live/{self.session_id}/room/mix.wav"
            store.put_file(key, room / "room-mix.wav", "audio/wav")
            out["mix"] = key
        pp = shutil.which("janus-pp-rec")
        if pp is None or t0 is None:
            return out
        sr = 48000
        pieces: dict[str, list[tuple[float, np.ndarray]]] = {}
        for mjr in sorted(room.glob("*.mjr")):
            m = re.search(r"-user-(\d+)-", mjr.name)
            if m is None or mjr.stat().st_size <= 8:
                continue
            who = names.get(m.group(1), f"participant-{m.group(1)}")
            head = subprocess.run([pp, "-j", str(mjr)], capture_output=True, text=True)
            dest = mjr.with_suffix(".opus")
            conv = subprocess.run([pp, str(mjr), str(dest)], capture_output=True)
            try:
                first = json.loads(head.stdout.strip().splitlines()[-1])["u"] / 1e6
            except (ValueError, KeyError, IndexError):
                continue
            first += _least_delay(pp, mjr)
            if conv.returncode != 0 or not dest.is_file():
                continue
            raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(dest), "-f", "f32le", "-ac", "1",
                                  "-ar", str(sr), "-"], capture_output=True).stdout
            # janus-pp-rec's Ogg says pre-skip 0, so the decoder's output starts with the encoder's
            # lookahead (libopus: 312 samples at 48 kHz, browsers and aiortc alike): cut it, or every
            # member's stem lies 6.5 ms late
            pieces.setdefault(who, []).append((first - t0, np.frombuffer(raw, dtype="<f4")[OPUS_LOOKAHEAD:]))
        length = int(round(seconds * sr))  # the kept recording's length: everything on one clock
        kept_mix = work_dir(self.svc, self.session_id) / "kept" / "mix.wav"
        reference = None
        if "robots" in pieces and kept_mix.is_file():
            reference, _ = sf.read(str(kept_mix), dtype="float32", always_2d=True)
            reference = reference.mean(axis=1)
        for who, ps in pieces.items():
            stem = np.zeros(length, dtype=np.float32)
            spans = []
            for at, x in sorted(ps, key=lambda p: p[0]):
                i = int(round(at * sr))
                if who == "robots" and reference is not None:
                    # the robots' RTP left the capture a JACK period and an encoder frame after it was
                    # played: its first packet's arrival places it that late; the same audio is in the
                    # kept mix, on the session clock, so it is placed where it matches the mix
                    i = _match(x, reference, i, sr)
                if i < 0:  # in the room before the count-in (the robots are): its start is cut, not moved
                    x, i = x[-i:], 0
                x = x[: max(0, length - i)]
                stem[i:i + len(x)] = x
                spans.append([round(i / sr, 3), round((i + len(x)) / sr, 3)])
            gaps = [[a[1], b[0]] for a, b in zip(spans, spans[1:]) if b[0] - a[1] > 0.1]
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", who)
            path = room / f"stem-{safe}.wav"
            sf.write(str(path), stem, sr, subtype="PCM_16")
            key = f"live/{self.session_id}/room/{safe}.wav"
            store.put_file(key, path, "audio/wav")
            out["participants"][who] = {"stem": key, "spans": spans, "gaps": gaps}
        return out


def _least_delay(pp: str, mjr: Path, packets: int = 500) -> float:
    """How much earlier than its first packet's arrival a recording's first sample was sent (seconds, <= 0):
    over its first ``packets`` packets, the least of (arrival after the first - RTP time after the first),
    from the arrival time Janus writes beside every packet (ms). The first packet can come late (a
    sender starting up, jitter); the least-delayed packet places the stream to about a millisecond."""
    out = subprocess.run([pp, "-p", "-d", "5", str(mjr)], capture_output=True, text=True)
    arrival, best, ts0, n = None, 0.0, None, 0
    for line in (out.stdout + out.stderr).splitlines():
        m = re.search(r"Time: (\d+)ms", line)
        if m:
            arrival = int(m.group(1)) / 1000
            continue
        m = re.search(r"RTP packet \(.*ts=(\d+)\)", line)
        if m and arrival is not None:
            ts = int(m.group(1))
            ts0 = ts if ts0 is None else ts0
            best = min(best, arrival - ((ts - ts0) % 2**32) / 48000)
            arrival, n = None, n + 1
            if n >= packets:
                break
    return best


def _match(x: np.ndarray, reference: np.ndarray, guess: int, sr: int, span: float = 0.25) -> int:
    """Where ``x`` (a piece of a stem) lands in ``reference`` (the session clock): the lag within ``guess``
    ± ``span`` seconds that correlates best, over up to 4 s of ``x`` with sound; ``guess`` when there is
    nothing to match."""
    from scipy.signal import correlate

    w = int(span * sr)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    if loud.size == 0:
        return guess
    a = int(loud[0])
    piece = x[a:a + 4 * sr].astype(np.float64)
    lo = guess + a - w
    ref = reference[max(0, lo):max(0, guess + a + len(piece) + w)].astype(np.float64)
    if len(ref) < len(piece) + 1:
        return guess
    c = correlate(ref, piece, mode="valid", method="fft")
    if not np.isfinite(c).all() or c.max() <= 0:
        return guess
    return max(0, lo) + int(np.argmax(c)) - a


def recording_path(svc, session_id: int, name: str) -> Path:
    return work_dir(svc, session_id) / "kept" / f"{name}.wav"


__all__ = ["start_session", "stop_session", "cast_vote", "get_state", "end_all", "hls_dir"]
