"""Fans' timed feedback on tracks (SoundCloud-style): a reaction from the player's set or a short
plain-text comment at a playback position, moderated, and carried into the composition workflow.

- Who: a signed-in fan (a WordPress-minted listener token) posts; nobody else does (band members
  comment in the studio). A fan may delete their own feedback, never another's. Moderators (the
  ``analytics.moderate`` right: the leader, and WordPress's signed client for its "Fan feedback"
  page) approve, hide or mark it as spam.
- Moderation: new feedback is ``pending`` until approved. Only approved feedback shows on the
  public waveform and in the studio; a fan also sees their own pending feedback (marked so).
- Mapping: when the track was rendered from a composition version (``Track.composition_id`` and
  ``composition_commit``, set when a render is published), the position is mapped through that
  version's tempo map (companion/render/timeline.py; the render starts at measure 1 at 0 s) to a
  measure. The part is not knowable from a mixdown, so it is none. On approval the feedback becomes
  a fan's comment (``fan``) in the studio on that version and measure; hidden or spam takes it out.
- Privacy: the fan is kept as their listener row id (pseudonymous here); no address is stored.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..access.identity import listener_id_of
from ..catalog.models import Track
from ..compositions.model import Composition
from ..compositions.store import Store
from ..db import utcnow
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized, Unprocessable
from ..render.timeline import TempoMap
from ..studio.models import CompositionComment
from .models import FEEDBACK_STATES, TrackFeedback
from .service import REACTIONS, reportable_track_ids

#: the glyph of each reaction (the player shows the same).
GLYPHS = {"fire": "\U0001F525", "heart": "\u2764\ufe0f", "wow": "\U0001F62E", "laugh": "\U0001F602",
          "sad": "\U0001F622", "clap": "\U0001F44F"}
assert set(GLYPHS) == set(REACTIONS)

MODERATION_STATES = ("approved", "hidden", "spam")


def _fan(ident) -> int:
    if not ident.authenticated:
        raise Unauthorized("sign in as a fan to leave feedback", code="auth_required")
    lid = listener_id_of(ident)
    if lid is None:
        raise Forbidden("timed feedback is for fans signed in through the site; the band comments in the studio",
                        code="listeners_only")
    return lid


def _track_not_found() -> NotFound:
    return NotFound("no such released track", code="track_not_found")


def measure_at(store: Store, comp_id: str, commit: str, seconds: float) -> int | None:
    """The measure of composition ``comp_id`` at ``commit`` that sounds ``seconds`` into its render
    (None when the version cannot be read or the time is past its last measure)."""
    try:
        repo = store.repo(comp_id)
        comp = Composition.from_files(store.read_files(repo, store.resolve(repo, commit)))
    except Exception:  # noqa: BLE001 - a missing or unreadable version maps to nothing
        return None
    if comp.measures < 1:
        return None
    tm = TempoMap(comp)
    if seconds >= tm.end(comp.measures):
        return None
    measure = 1
    for m in range(1, comp.measures + 1):
        if tm.at(m, 0) <= seconds:
            measure = m
        else:
            break
    return measure


def out(f: TrackFeedback, *, viewer: int | None = None, full: bool = False) -> dict:
    d = {"id": f.id, "track_id": f.track_id, "position": round(f.position, 3), "emoji": f.emoji,
         "glyph": GLYPHS.get(f.emoji or ""), "text": f.text, "author_name": f.author_name, "state": f.state,
         "mine": viewer is not None and f.listener_id == viewer, "created_at": f.created_at.isoformat() + "Z",
         "composition": f.composition, "version": f.version, "part": f.part, "measure": f.measure}
    if full:
        d.update(listener=f"listener:{f.listener_id}", comment_id=f.comment_id, moderated_by=f.moderated_by,
                 moderated_at=f.moderated_at.isoformat() + "Z" if f.moderated_at else None)
    return d


def add(session, store: Store, ident, track_id: int, data: dict) -> dict:
    lid = _fan(ident)
    if track_id not in reportable_track_ids(session, {track_id}):
        raise _track_not_found()
    track = session.get(Track, track_id)
    emoji, text = data.get("emoji"), (data.get("text") or "").strip() or None
    if emoji is None and text is None:
        raise Unprocessable("feedback needs a reaction or some text", code="empty_feedback", details={"field": "emoji"})
    position = float(data["position"])
    if track.duration and position > track.duration + 0.5:
        raise Unprocessable(f"the track is {track.duration:.1f} s long", code="bad_position",
                           details={"field": "position", "duration": track.duration})
    f = TrackFeedback(track_id=track_id, listener_id=lid, author_name=(ident.name or "")[:200], position=position,
                      emoji=emoji, text=text, state="pending")
    if track.composition_id and track.composition_commit:
        f.composition, f.version = track.composition_id, track.composition_commit
        f.measure = measure_at(store, track.composition_id, track.composition_commit, position)
    session.add(f)
    session.flush()
    return out(f, viewer=lid)


def list_for_track(session, ident, track_id: int) -> list[dict]:
    """Approved feedback on a released track, and the caller's own pending feedback, by position."""
    if track_id not in reportable_track_ids(session, {track_id}):
        raise _track_not_found()
    viewer = listener_id_of(ident)
    shown = TrackFeedback.state == "approved"
    if viewer is not None:
        shown = sa.or_(shown, sa.and_(TrackFeedback.listener_id == viewer, TrackFeedback.state == "pending"))
    q = sa.select(TrackFeedback).where(TrackFeedback.track_id == track_id, shown)
    return [out(f, viewer=viewer) for f in session.scalars(q.order_by(TrackFeedback.position, TrackFeedback.id))]


def delete_own(session, ident, feedback_id: int, track_id: int) -> None:
    lid = _fan(ident)
    f = session.get(TrackFeedback, feedback_id)
    if f is None or f.track_id != track_id:
        raise NotFound("no such feedback", code="feedback_not_found")
    if f.listener_id != lid:
        raise Forbidden("that feedback is another fan's", code="not_yours")
    if f.comment_id is not None:
        _drop_comment(session, f)
    session.delete(f)
    session.flush()


def list_for_moderation(session, state: str | None = None, limit: int = 200) -> list[dict]:
    q = sa.select(TrackFeedback, Track.title).join(Track, Track.id == TrackFeedback.track_id)
    if state:
        q = q.where(TrackFeedback.state == state)
    rows = session.execute(q.order_by(TrackFeedback.created_at.desc(), TrackFeedback.id.desc()).limit(limit))
    return [{**out(f, full=True), "track_title": title} for f, title in rows]


def _drop_comment(session, f: TrackFeedback) -> None:
    c = session.get(CompositionComment, f.comment_id)
    if c is not None:
        session.delete(c)
    f.comment_id = None


def _body(f: TrackFeedback) -> str:
    minutes, secs = divmod(int(f.position), 60)
    head = f"{GLYPHS[f.emoji]} " if f.emoji else ""
    return f"{head}{f.text or ''}".strip() + f" (at {minutes}:{secs:02d} in the track)"


def moderate(session, ident, feedback_id: int, state: str) -> dict:
    if state not in MODERATION_STATES:
        raise InvalidInput(f"state is one of {', '.join(MODERATION_STATES)}", code="bad_state",
                           details={"field": "state"})
    f = session.get(TrackFeedback, feedback_id)
    if f is None:
        raise NotFound("no such feedback", code="feedback_not_found")
    assert state in FEEDBACK_STATES
    f.state, f.moderated_by, f.moderated_at = state, ident.member_id or ident.name, utcnow()
    if state == "approved" and f.comment_id is None and f.composition and f.version and f.measure:
        c = CompositionComment(composition=f.composition, version=f.version, part=f.part, measure_from=f.measure,
                               measure_to=f.measure, parent_id=None, author=f"listener:{f.listener_id}",
                               author_name=f.author_name, fan=True, body=_body(f), resolved=False)
        session.add(c)
        session.flush()
        f.comment_id = c.id
    elif state != "approved" and f.comment_id is not None:
        _drop_comment(session, f)
    session.flush()
    return out(f, full=True)
