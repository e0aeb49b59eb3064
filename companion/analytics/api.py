"""POST /api/beacons: the player's batched playback events (navigator.sendBeacon)."""
from __future__ import annotations

import json

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from companion.analytics import service
from companion.app import services
from companion.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

blp = Blueprint("analytics", __name__, url_prefix="/api/beacons",
                description="Playback beacons from the player: validated, then stored as playback events.")

_ACCEPTED_TYPES = ("text/plain", "application/json", "")


class BeaconAcceptedSchema(Schema):
    stored = fields.Integer()


def _cors(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
    resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


@blp.after_request
def _add_cors(resp):
    return _cors(resp)


def _read_body(limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"A beacon may be at most {limit} bytes.", code="beacon_too_large",
                              details={"limit_bytes": limit})
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"A beacon may be at most {limit} bytes.", code="beacon_too_large",
                              details={"limit_bytes": limit})
    return data


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
    @blp.alt_response(422, description="fields not valid, unknown event type or unknown track")
    def post(self):
        """Store a batch of playback events (play, pause, seek, progress, complete, bitrate, download, tip_click)."""
        if (request.mimetype or "") not in _ACCEPTED_TYPES:
            raise UnsupportedMedia("Send beacons as text/plain or application/json.", code="beacon_type",
                                   details={"content_type": request.mimetype})
        raw = _read_body(service.MAX_BEACON_BYTES)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidInput("A beacon must be UTF-8 JSON.", code="beacon_not_json") from None
        beacon = service.parse_beacon(payload)
        with services().db.session() as s:
            stored = service.store_beacon(s, beacon)
        return {"stored": stored}

    def options(self):
        """CORS preflight for players on other sites that fall back to fetch()."""
        return Response(status=204)
