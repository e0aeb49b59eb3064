"""Validating and storing beacon batches (plain functions: the API, the CLI and tests call them)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import sqlalchemy as sa
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, validate, validates_schema
from companion import schema_fields as fields
from sqlalchemy.orm import Session

from companion.analytics.models import EVENT_TYPES
from companion.catalog.models import Album, Track
from companion.catalog.service import PUBLIC_STATES
from companion.errors import Unprocessable

#: A beacon body may be no larger than this (sendBeacon itself caps at 64 KiB).
MAX_BEACON_BYTES = 32 * 1024
MAX_EVENTS = 100
MAX_POSITION = 24 * 3600.0


#: the reactions the player offers.
REACTIONS = ("fire", "heart", "wow", "laugh", "sad", "clap")
#: the controls of the player whose use is counted (the interaction heat map).
CONTROLS = ("play", "pause", "seek", "volume", "next", "prev", "visualizer", "tipjar", "download_menu", "download",
            "share", "reaction")
#: an event's own clock may be this far from the companion's (events queued offline are days old at most).
MAX_EVENT_AGE = dt.timedelta(days=7)
MAX_EVENT_AHEAD = dt.timedelta(hours=24)

_MARKUP = re.compile(r"[<>]|&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def _no_markup(value: str) -> None:
    if _MARKUP.search(value) or any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise ValidationError("plain text only: no markup, entities or control characters")


class EventDataSchema(Schema):
    """What an event may carry besides its type, track and position."""

    class Meta:
        unknown = RAISE

    # seek
    from_ = fields.Float(data_key="from", validate=validate.Range(min=0, max=MAX_POSITION))
    to = fields.Float(validate=validate.Range(min=0, max=MAX_POSITION))
    # bitrate (adaptive level switch) and the stream mode
    level = fields.Integer(validate=validate.Range(min=-1, max=64))
    bitrate = fields.Integer(validate=validate.Range(min=0, max=10_000_000))
    mode = fields.String(validate=validate.OneOf(("hls.js", "native-hls", "progressive", "preview")))
    # download
    format = fields.String(validate=validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,39}$"))
    # tip_click
    amount = fields.Float(validate=validate.Range(min=0, max=100_000))
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    # progress / complete
    played = fields.Float(validate=validate.Range(min=0, max=MAX_POSITION))
    duration = fields.Float(validate=validate.Range(min=0, max=MAX_POSITION))
    # reaction: an emoji from the player's set and an optional short comment, plain text only
    emoji = fields.String(validate=validate.OneOf(REACTIONS))
    text = fields.String(validate=[validate.Length(min=1, max=280), _no_markup])
    # exposure: the A/B test and the variation the listener was given
    test = fields.String(validate=validate.Regexp(r"^[a-f0-9]{32}$"))
    variation = fields.String(validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$"))
    # ui: which control of the player was used
    control = fields.String(validate=validate.OneOf(CONTROLS))


class EventSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    track = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    pos = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_POSITION))
    t = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2**53))
    data = fields.Nested(EventDataSchema, load_default=dict)


class BeaconSchema(Schema):
    """One batch from one player session."""

    class Meta:
        unknown = EXCLUDE  # forward compatible: newer players may add top-level fields

    v = fields.Integer(load_default=1, validate=validate.Equal(1))
    session = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$"))
    # the batch's number within the session: the same (session, seq) twice is a replay (409)
    seq = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=10**9))
    # the site's consent setting, as the player knows it (required when Config.analytics_consent is "required")
    consent = fields.Boolean(load_default=None, allow_none=True)
    page = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    events = fields.List(fields.Nested(EventSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_EVENTS))

    @validates_schema
    def _types_have_their_data(self, data, **_kw):
        for i, ev in enumerate(data.get("events", [])):
            d = ev.get("data") or {}
            if ev["type"] == "seek" and "to" not in d and ev.get("pos") is None:
                raise ValidationError({"events": {i: ["a seek needs data.to or pos"]}})
            if ev["type"] == "download" and "format" not in d:
                raise ValidationError({"events": {i: ["a download needs data.format"]}})
            if ev["type"] == "reaction" and "emoji" not in d and "text" not in d:
                raise ValidationError({"events": {i: ["a reaction needs data.emoji or data.text"]}})
            if ev["type"] == "exposure" and not {"test", "variation"} <= set(d):
                raise ValidationError({"events": {i: ["an exposure needs data.test and data.variation"]}})
            if ev["type"] == "ui" and "control" not in d:
                raise ValidationError({"events": {i: ["a ui event needs data.control"]}})


def parse_beacon(payload: Any) -> dict:
    """The validated batch, or Unprocessable naming the fields at fault."""
    if not isinstance(payload, dict):
        raise Unprocessable("A beacon is a JSON object with 'session' and 'events'.", code="bad_beacon")
    try:
        return BeaconSchema().load(payload)
    except ValidationError as err:
        raise Unprocessable("The beacon's fields are not valid: see details.fields.", code="bad_beacon",
                            details={"fields": err.messages}) from None


def _host(page: str | None) -> str | None:
    if not page:
        return None
    from urllib.parse import urlsplit

    try:
        return (urlsplit(page).hostname or "")[:255] or None
    except ValueError:
        return None


def reportable_track_ids(session: Session, track_ids: set[int], *, private: bool = False) -> set[int]:
    """Of ``track_ids``, those a caller may report playback of: released tracks (public or premium,
    whose preview anyone may hear) outside an unreleased album; with ``private`` (band.read_private)
    any existing track."""
    q = sa.select(Track.id).where(Track.id.in_(track_ids))
    if not private:
        q = (q.outerjoin(Album, Track.album_id == Album.id)
             .where(Track.release_state.in_(PUBLIC_STATES))
             .where(sa.or_(Track.album_id.is_(None), Album.release_state.in_(PUBLIC_STATES))))
    return set(session.scalars(q))


def check_times(beacon: dict, now: dt.datetime | None = None) -> None:
    """Unprocessable when an event's own time is far in the past or the future (a replayed or forged
    batch, or a broken clock): the whole batch is refused."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # compared as epoch milliseconds (the events' own unit): no datetime per event
    now_ms = (now - _EPOCH) // _MS
    lo, hi = now_ms - MAX_EVENT_AGE // _MS, now_ms + MAX_EVENT_AHEAD // _MS
    for i, ev in enumerate(beacon["events"]):
        t = ev.get("t")
        if t is None:
            continue
        if not lo <= t <= hi:
            raise Unprocessable("An event's time is too far from now: events older than 7 days or more than 24 "
                                "hours ahead are refused.", code="beacon_out_of_time",
                                details={"fields": {"events": {str(i): ["t out of range"]}}})


_EPOCH = dt.datetime(1970, 1, 1)
_MS = dt.timedelta(milliseconds=1)


def event_rows(beacon: dict, *, received_at: dt.datetime, listener: str | None = None,
               page_host: str | None = None) -> list[dict]:
    """The rows of a validated batch, as JSON-ready dicts (what goes onto the stream), each with its
    event_uid: ``<session>.<seq>.<n>`` when the player numbered the batch, otherwise a random batch id."""
    host = page_host or _host(beacon.get("page"))
    batch = f"{beacon['session']}.{beacon['seq']}" if beacon.get("seq") is not None else uuid.uuid4().hex
    at = received_at.isoformat(timespec="microseconds")
    rows = []
    clients: dict[int, str | None] = {}  # a batch's events often share their time: each converted once
    for n, ev in enumerate(beacon["events"]):
        data = ev.get("data")
        data = dict(data) if data else {}
        if "from_" in data:
            data["from"] = data.pop("from_")
        t = ev.get("t")
        if not t:
            client = None
        elif t in clients:
            client = clients[t]
        else:
            try:
                client = (_EPOCH + dt.timedelta(milliseconds=t)).isoformat(timespec="milliseconds")
            except (OverflowError, OSError, ValueError):
                client = None
            clients[t] = client
        rows.append({"received_at": at, "event_uid": f"{batch}.{n:03d}", "session_id": beacon["session"],
                     "listener": listener, "track_id": ev["track"], "event": ev["type"], "position": ev.get("pos"),
                     "data": data, "page_host": host, "client_time": client})
    return rows


#: a released track stays known as reportable in a process for this long (a database round trip saved per
#: beacon); a track taken back to draft is refused at the latest this many seconds later.
REPORTABLE_TTL = 5.0
_reportable: dict[tuple[str, int], float] = {}


def known_reportable(db_url: str, beacon: dict) -> bool:
    """True when every track of the batch was found reportable in this process less than
    :data:`REPORTABLE_TTL` ago (then :func:`check_tracks` needs no database session)."""
    import time

    now = time.monotonic()
    return all(_reportable.get((db_url, ev["track"]), 0.0) > now for ev in beacon["events"])


def check_tracks(session: Session, beacon: dict, *, private: bool = False) -> None:
    """Every event must name a track the caller may report on (see :func:`reportable_track_ids`).

    A batch naming any other track is refused whole with one generic answer, the same for a
    missing id, a draft and a track the caller may not see: beacons do not tell which ids exist.
    Only "reportable" answers are remembered (:data:`REPORTABLE_TTL`), never refusals."""
    import time

    track_ids = {ev["track"] for ev in beacon["events"]}
    db, now = str(session.get_bind().url), time.monotonic()
    if not private and all(_reportable.get((db, t), 0.0) > now for t in track_ids):
        return
    if reportable_track_ids(session, track_ids, private=private) != track_ids:
        raise Unprocessable("The beacon names a track that cannot be reported on.", code="beacon_refused")
    if not private:
        if len(_reportable) > 10_000:
            _reportable.clear()
        for t in track_ids:
            _reportable[(db, t)] = now + REPORTABLE_TTL


def store_beacon(session: Session, beacon: dict, *, page_host: str | None = None, private: bool = False,
                 listener: str | None = None) -> int:
    """Check and store a validated batch in this session at once (the "direct" ingest, and tests).
    Returns how many were stored."""
    from companion.analytics.ingest import write_rows

    check_tracks(session, beacon, private=private)
    rows = event_rows(beacon, received_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), listener=listener,
                      page_host=page_host)
    return write_rows(session, rows)
