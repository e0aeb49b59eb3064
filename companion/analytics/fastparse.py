"""The beacon endpoint's fast path: a batch decoded and validated in one pass by msgspec (about 30 times
faster than marshmallow for a 100-event batch), with the same rules as the marshmallow schema in
service.py, which stays the definition: whatever msgspec refuses goes through marshmallow again, which
either accepts it (msgspec is stricter about types, e.g. "1.5" for a number) or refuses it with the
detailed error the API shows. So a valid batch is never refused by the fast path, and an invalid one is
refused by the schema itself, with its messages."""
from __future__ import annotations

import json
from typing import Annotated, Literal, Union

import msgspec

from companion.analytics import service as S
from companion.analytics.models import EVENT_TYPES
from companion.errors import InvalidInput, Unprocessable

UNSET = msgspec.UNSET
Pos = Annotated[float, msgspec.Meta(ge=0, le=S.MAX_POSITION)]


class _Data(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    from_: Union[Pos, msgspec.UnsetType] = msgspec.field(default=UNSET, name="from")
    to: Union[Pos, msgspec.UnsetType] = UNSET
    level: Union[Annotated[int, msgspec.Meta(ge=-1, le=64)], msgspec.UnsetType] = UNSET
    bitrate: Union[Annotated[int, msgspec.Meta(ge=0, le=10_000_000)], msgspec.UnsetType] = UNSET
    mode: Union[Literal["hls.js", "native-hls", "progressive", "preview"], msgspec.UnsetType] = UNSET
    format: Union[Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")], msgspec.UnsetType] = UNSET
    amount: Union[Annotated[float, msgspec.Meta(ge=0, le=100_000)], msgspec.UnsetType] = UNSET
    currency: Union[Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")], msgspec.UnsetType] = UNSET
    played: Union[Pos, msgspec.UnsetType] = UNSET
    duration: Union[Pos, msgspec.UnsetType] = UNSET
    emoji: Union[Literal[S.REACTIONS], msgspec.UnsetType] = UNSET  # type: ignore[valid-type]
    text: Union[Annotated[str, msgspec.Meta(min_length=1, max_length=280)], msgspec.UnsetType] = UNSET
    test: Union[Annotated[str, msgspec.Meta(pattern=r"^[a-f0-9]{32}$")], msgspec.UnsetType] = UNSET
    variation: Union[Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")], msgspec.UnsetType] = UNSET
    control: Union[Literal[S.CONTROLS], msgspec.UnsetType] = UNSET  # type: ignore[valid-type]


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    track: Annotated[int, msgspec.Meta(ge=1)]
    pos: Union[Pos, None] = None
    t: Union[Annotated[int, msgspec.Meta(ge=0, le=2**53)], None] = None
    data: _Data = msgspec.field(default_factory=_Data)


class _Beacon(msgspec.Struct):  # unknown top-level fields are ignored, as the schema's EXCLUDE
    session: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    events: Annotated[list[_Event], msgspec.Meta(min_length=1, max_length=S.MAX_EVENTS)]
    v: Literal[1] = 1
    seq: Union[Annotated[int, msgspec.Meta(ge=0, le=10**9)], None] = None
    consent: Union[bool, None] = None
    page: Union[Annotated[str, msgspec.Meta(max_length=2000)], None] = None


_decoder = msgspec.json.Decoder(_Beacon)
_DATA_FIELDS = _Data.__struct_fields__
_builtins = msgspec.to_builtins


def _as_dict(b: _Beacon) -> dict | None:
    """The schema's output shape; None when a rule the types cannot say is broken (the schema will say which)."""
    events = []
    for ev in b.events:
        d = _builtins(ev.data)  # the fields given (UNSET ones are left out), by their JSON names
        if "from" in d:
            d["from_"] = d.pop("from")  # the schema's attribute name
        if ev.type == "seek" and "to" not in d and ev.pos is None:
            return None
        if ev.type == "download" and "format" not in d:
            return None
        if ev.type == "reaction" and "emoji" not in d and "text" not in d:
            return None
        if ev.type == "exposure" and not ("test" in d and "variation" in d):
            return None
        if ev.type == "ui" and "control" not in d:
            return None
        if "text" in d:
            try:
                S._no_markup(d["text"])
            except Exception:  # noqa: BLE001 - the schema gives the message
                return None
        events.append({"type": ev.type, "track": ev.track, "pos": ev.pos, "t": ev.t, "data": d})
    return {"v": b.v, "session": b.session, "seq": b.seq, "consent": b.consent, "page": b.page, "events": events}


def parse(raw: bytes) -> dict:
    """A validated batch from the request body (as :func:`companion.analytics.service.parse_beacon` gives);
    InvalidInput when it is not UTF-8 JSON, Unprocessable (with the fields at fault) when it is not valid."""
    try:
        out = _as_dict(_decoder.decode(raw))
        if out is not None:
            return out
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("A beacon must be UTF-8 JSON.", code="beacon_not_json") from None
    return S.parse_beacon(payload)


__all__ = ["parse", "Unprocessable"]
