"""A/B tests of musical variations: a track carries two or more renderings (from composition branches,
mixes or algorithm seeds); each listener hears one, chosen deterministically; exposures and outcomes
come in as playback events; a sequential test (companion/analytics/sequential.py) may be looked at any
time and says when to stop. docs/ab-testing.md states what it guarantees.

The unit is the player's session id (``session`` in beacons): the player keeps one per listener in the
browser (with the site's consent), so the same listener gets the same variation on every visit. The
assignment is ``sha256(test id, unit) mod k``: no state to store, the same on every companion process.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.analytics import sequential
from companion.analytics.models import ABTest, ABVariation, PlaybackEvent
from companion.catalog.models import Track
from companion.db import utcnow
from companion.errors import Conflict, InvalidInput, NotFound

#: outcome -> what counts as a listener's conversion
#: "tip" and "purchase": a tip or a purchase attributed to a play of the session (paid, not refunded:
#: companion/analytics/attribution.py), not a click on the tip jar.
METRICS = ("completion", "replay", "reaction", "tip", "purchase", "download")
_EVENT_OF = {"completion": "complete", "reaction": "reaction", "download": "download"}
MAX_VARIATIONS = 8


def _variations(session: Session, test: ABTest) -> list[ABVariation]:
    return list(session.scalars(sa.select(ABVariation).where(ABVariation.test_id == test.id)
                                .order_by(ABVariation.position)))


def get_test(session: Session, test_id: str) -> ABTest:
    test = session.get(ABTest, test_id)
    if test is None:
        raise NotFound("No such A/B test.", code="ab_test_not_found")
    return test


def create_test(session: Session, *, track_id: int, name: str, variations: list[dict], metric: str = "completion",
                alpha: float = 0.05, max_exposures: int = 100_000, created_by: str | None = None) -> ABTest:
    """A running test of ``variations`` (the first is the control): each a dict with key, label,
    media_track_id (optional) and origin ({"branch", "commit", "mix", "seed"})."""
    if session.get(Track, track_id) is None:
        raise NotFound(f"no track {track_id}", code="track_not_found")
    if not 2 <= len(variations) <= MAX_VARIATIONS:
        raise InvalidInput(f"An A/B test has 2 to {MAX_VARIATIONS} variations.", code="ab_variations")
    keys = [v["key"] for v in variations]
    if len(set(keys)) != len(keys):
        raise InvalidInput("Variation keys must differ.", code="ab_variations", details={"keys": keys})
    media = {v["media_track_id"] for v in variations if v.get("media_track_id") is not None}
    if media and set(session.scalars(sa.select(Track.id).where(Track.id.in_(media)))) != media:
        raise InvalidInput("A variation names a track that does not exist.", code="ab_variations")
    running = session.scalars(sa.select(ABTest.id).where(ABTest.track_id == track_id, ABTest.state == "running")).first()
    if running:
        raise Conflict("The track already has a running A/B test.", code="ab_test_running",
                       details={"test": running})
    test = ABTest(track_id=track_id, name=name, metric=metric, alpha=alpha, max_exposures=max_exposures,
                  created_by=created_by, state="running", evidence={"looks": 0, "p": {}})
    session.add(test)
    session.flush()
    for i, v in enumerate(variations):
        session.add(ABVariation(test_id=test.id, key=v["key"], label=v.get("label") or v["key"], position=i,
                                media_track_id=v.get("media_track_id"), origin=dict(v.get("origin") or {})))
    session.flush()
    return test


def bucket(test_id: str, unit: str, k: int) -> int:
    """The deterministic arm of ``unit`` among ``k``: sha256 of the test id and the unit, modulo k."""
    digest = hashlib.sha256(f"{test_id}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % k


def assign(session: Session, test: ABTest, unit: str) -> ABVariation:
    """The variation ``unit`` hears: its bucket while the test runs; the winner, for everyone, once a
    winner is known (stopped with a winner, or promoted); the control after a stop without one."""
    arms = _variations(session, test)
    if test.state != "running":
        won = [a for a in arms if a.key == test.winner]
        return won[0] if won else arms[0]
    return arms[bucket(test.id, unit, len(arms))]


def _units(session: Session, test: ABTest, arms: list[ABVariation]) -> dict[str, str]:
    """session id -> the variation it was first exposed to (exposure events naming this test)."""
    keys = {a.key for a in arms}
    q = (sa.select(PlaybackEvent.session_id, PlaybackEvent.data)
         .where(PlaybackEvent.track_id == test.track_id, PlaybackEvent.event == "exposure")
         .order_by(PlaybackEvent.received_at, PlaybackEvent.event_uid))
    out: dict[str, str] = {}
    for sid, data in session.execute(q):
        d = data or {}
        if d.get("test") == test.id and d.get("variation") in keys and sid not in out:
            out[sid] = d["variation"]
    return out


def _converted(session: Session, test: ABTest, arms: list[ABVariation], units: Iterable[str]) -> set[str]:
    units = set(units)
    if not units:
        return set()
    tracks = {test.track_id} | {a.media_track_id for a in arms if a.media_track_id}
    base = sa.select(PlaybackEvent.session_id).where(PlaybackEvent.track_id.in_(tracks))
    if test.metric in ("tip", "purchase"):
        from companion.analytics import attribution

        return attribution.converted_sessions(session, test.metric, tracks) & units
    if test.metric == "replay":
        q = (base.where(PlaybackEvent.event == "play").group_by(PlaybackEvent.session_id)
             .having(sa.func.count() >= 2))
    else:
        q = base.where(PlaybackEvent.event == _EVENT_OF[test.metric]).distinct()
    return {sid for (sid,) in session.execute(q)} & units


def look(session: Session, test: ABTest) -> dict:
    """Look at the test now: counts, rates, always-valid p-values (running minimum over every look),
    and the stop rule, which stops the test when it fires. Looking is allowed at any time, as often as
    wanted: the error rates hold regardless (docs/ab-testing.md)."""
    arms = _variations(session, test)
    units = _units(session, test, arms)
    converted = _converted(session, test, arms, units)
    stats = []
    for a in arms:
        mine = [u for u, k in units.items() if k == a.key]
        stats.append(sequential.Arm(a.key, len(mine), sum(1 for u in mine if u in converted)))
    evidence = dict(test.evidence or {})
    comparisons = sequential.compare(stats, test.alpha, previous_p=evidence.get("p"))
    if test.state == "running":
        evidence = {"looks": int(evidence.get("looks", 0)) + 1, "p": {c.key: c.p_value for c in comparisons}}
        test.evidence = evidence
        reason, winner = sequential.decide(stats, comparisons, test.max_exposures)
        if reason:
            test.state, test.stop_reason, test.winner, test.stopped_at = "stopped", reason, winner, utcnow()
        session.flush()
    return {"arms": [{"key": s.key, "exposed": s.exposed, "converted": s.converted, "rate": round(s.rate, 6)}
                     for s in stats],
            "comparisons": [c.as_dict() for c in comparisons],
            "alpha": test.alpha, "per_comparison_alpha": test.alpha / max(1, len(arms) - 1),
            "min_per_arm": sequential.MIN_PER_ARM, "looks": int(evidence.get("looks", 0))}


def stop(session: Session, test: ABTest, reason: str = "stopped by a member") -> ABTest:
    if test.state != "running":
        raise Conflict("The A/B test is not running.", code="ab_test_not_running")
    test.state, test.stop_reason, test.stopped_at = "stopped", reason[:200], utcnow()
    session.flush()
    return test


def promote(session: Session, test: ABTest, key: str | None = None) -> ABTest:
    """Make a variation (default: the winner) the release: every listener hears it from now on.

    Promoting anything but the test's winner needs the test stopped first, so that a variation is not
    crowned while the evidence is still coming in."""
    if test.state == "promoted":
        raise Conflict("The A/B test's winner is already promoted.", code="ab_test_promoted")
    key = key or test.winner
    if key is None:
        raise Conflict("The A/B test has no winner yet: name the variation to promote.", code="ab_no_winner")
    if key not in {a.key for a in _variations(session, test)}:
        raise InvalidInput("No such variation in this test.", code="ab_variation_unknown")
    if key != test.winner and test.state == "running":
        raise Conflict("Stop the test before promoting a variation that has not won.", code="ab_test_running")
    test.state, test.winner = "promoted", key
    test.stopped_at = test.stopped_at or utcnow()
    session.flush()
    return test


def test_out(session: Session, test: ABTest) -> dict:
    return {"id": test.id, "track_id": test.track_id, "name": test.name, "metric": test.metric, "alpha": test.alpha,
            "state": test.state, "winner": test.winner, "stop_reason": test.stop_reason,
            "max_exposures": test.max_exposures, "created_by": test.created_by,
            "created_at": test.created_at.isoformat() if test.created_at else None,
            "stopped_at": test.stopped_at.isoformat() if test.stopped_at else None,
            "variations": [{"key": a.key, "label": a.label, "media_track_id": a.media_track_id, "origin": a.origin}
                           for a in _variations(session, test)]}
