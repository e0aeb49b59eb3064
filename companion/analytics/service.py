"""Validating and storing beacon batches (plain functions: the API, the CLI and tests call them)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from companion.analytics.models import EVENT_TYPES, PlaybackEvent
from companion.catalog.models import Track
from companion.errors import Unprocessable

#: A beacon body may be no larger than this (sendBeacon itself caps at 64 KiB).
MAX_BEACON_BYTES = 32 * 1024
MAX_EVENTS = 100
MAX_POSITION = 24 * 3600.0


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


def store_beacon(session: Session, beacon: dict, *, page_host: str | None = None) -> int:
    """Store a validated batch; every event must name a known track. Returns how many were stored."""
    track_ids = {ev["track"] for ev in beacon["events"]}
    known = set(session.scalars(sa.select(Track.id).where(Track.id.in_(track_ids))))
    unknown = sorted(track_ids - known)
    if unknown:
        raise Unprocessable("The beacon names tracks this companion does not have.", code="unknown_track",
                            details={"tracks": unknown})
    host = page_host or _host(beacon.get("page"))
    rows = []
    for ev in beacon["events"]:
        data = dict(ev.get("data") or {})
        if "from_" in data:
            data["from"] = data.pop("from_")
        client = None
        if ev.get("t"):
            try:
                client = dt.datetime.fromtimestamp(ev["t"] / 1000, dt.timezone.utc).replace(tzinfo=None)
            except (OverflowError, OSError, ValueError):
                client = None
        rows.append(PlaybackEvent(session_id=beacon["session"], track_id=ev["track"], event=ev["type"],
                                  position=ev.get("pos"), data=data, page_host=host, client_time=client))
    session.add_all(rows)
    session.flush()
    return len(rows)
