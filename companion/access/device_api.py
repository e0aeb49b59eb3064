"""Apps sign in with the device authorization grant (RFC 8628); companion/access/device.py has the rules.

| route | who |
|---|---|
| ``POST /api/auth/device`` ``client_id`` (form or JSON) | an app (public client): a device code and a user code |
| ``POST /api/auth/token`` ``grant_type=urn:ietf:params:oauth:grant-type:device_code``, ``device_code``, ``client_id`` | the app, polling: a listener token once the fan approved; otherwise 400 with the RFC's ``error`` |
| ``POST /api/auth/token`` ``grant_type=refresh_token``, ``refresh_token``, ``client_id`` | the app: a new listener token (the refresh token rotates) |
| ``POST /api/auth/device/lookup`` ``{user_code, wp_user_id}`` | WordPress only (signed request): which app waits for this code |
| ``POST /api/auth/device/decision`` ``{user_code, wp_user_id, display_name, approve}`` | WordPress only (signed request): the fan's answer |
| ``POST /api/auth/device/revoke`` ``{wp_user_id}`` | WordPress only (signed request): sign the fan out of every app |

Only WordPress's signature says who the fan is: a listener token, a member's token or an unsigned
request gets 401/403 on the last three before the body is read.
"""
from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate

from companion import schema_fields as fields
from companion.access import device
from companion.access.guard import requires_any
from companion.services import current as services

blp = Blueprint("device", __name__, url_prefix="/api/auth",
                description="Apps sign fans in with the device authorization grant (RFC 8628), confirmed in WordPress.")
confirm_blp = Blueprint("device_confirm", __name__, url_prefix="/api/auth",
                        description="WordPress confirms an app's sign-in for the fan signed in there (signed requests).")


def limit_device(limiter) -> None:
    """Asking for codes and polling are public writes: at most ``Config.device_rate_limit`` per client address."""
    from companion.band.ratelimit import limit_blueprint

    limit_blueprint(limiter, blp, lambda: services().config.device_rate_limit, code="too_many_device_requests",
                    what="Too many sign-in requests")


class DeviceAuthorizationSchema(Schema):
    device_code = fields.String(metadata={"description": "the app's secret; poll the token endpoint with it"})
    user_code = fields.String(metadata={"description": "XXXX-XXXX: what the app shows the fan"})
    verification_uri = fields.String(metadata={"description": "the WordPress page where the fan types the code"})
    verification_uri_complete = fields.String(metadata={"description": "the same page with the code filled in"})
    expires_in = fields.Integer()
    interval = fields.Integer(metadata={"description": "the least seconds between polls"})


class DeviceListenerSchema(Schema):
    wp_user_id = fields.Integer()
    display_name = fields.String()


class DeviceTokenSchema(Schema):
    access_token = fields.String(metadata={"description": "a listener token (shmls.…) for the fan"})
    token_type = fields.String()
    expires_in = fields.Integer()
    refresh_token = fields.String()
    listener = fields.Nested(DeviceListenerSchema)


class DeviceLookupAnswerSchema(Schema):
    user_code = fields.String()
    client_id = fields.String()
    client_name = fields.String()
    expires_at = fields.String()


class DeviceDecisionAnswerSchema(Schema):
    status = fields.String(metadata={"description": "approved or denied"})
    client_id = fields.String()
    client_name = fields.String()


RFC_ERROR = ("the RFC's error (invalid_client, invalid_request, authorization_pending, slow_down, access_denied, "
             "expired_token, invalid_grant, unsupported_grant_type) in `error`, beside the usual fields")


def _params() -> dict:
    """The request's parameters: a form (as RFC 8628 sends them) or a JSON object."""
    if request.form:
        return request.form.to_dict()
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _no_store(payload: dict, status: int = 200):
    resp = jsonify(payload)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@blp.route("/device")
class DeviceAuthorizationView(MethodView):
    @blp.doc(requestBody={"content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": {"client_id": {"type": "string"}}, "required": ["client_id"]}}}})
    @blp.response(200, DeviceAuthorizationSchema)
    @blp.alt_response(400, description=RFC_ERROR)
    @blp.alt_response(429, description="more requests from this client than Config.device_rate_limit allows")
    @blp.alt_response(503, description="device_flow_unavailable: the companion knows no WordPress site")
    def post(self):
        """Start signing an app in: device_code, user_code, verification_uri(_complete), expires_in, interval."""
        return _no_store(device.start(services(), _params().get("client_id")))


@blp.route("/token")
class TokenView(MethodView):
    @blp.doc(requestBody={"content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": {"grant_type": {"type": "string"}, "device_code": {"type": "string"},
                                         "refresh_token": {"type": "string"}, "client_id": {"type": "string"}},
        "required": ["grant_type", "client_id"]}}}})
    @blp.response(200, DeviceTokenSchema)
    @blp.alt_response(400, description=RFC_ERROR)
    @blp.alt_response(429, description="more requests from this client than Config.device_rate_limit allows")
    @blp.alt_response(503, description="signing_disabled: the companion has no shared secret")
    def post(self):
        """Poll for the fan's answer (device grant) or refresh a listener token (refresh_token grant)."""
        params = _params()
        grant = params.get("grant_type")
        if grant == device.GRANT_TYPE:
            body = device.exchange(services(), params.get("client_id"), params.get("device_code"))
        elif grant == "refresh_token":
            body = device.refresh(services(), params.get("client_id"), params.get("refresh_token"))
        elif not grant:
            raise device.DeviceGrantError("invalid_request", "grant_type is missing.")
        else:
            raise device.DeviceGrantError("unsupported_grant_type",
                                          f"Use grant_type={device.GRANT_TYPE} or refresh_token.")
        return _no_store(body)


only_wordpress = requires_any(lambda ident: ident.role == "service",
                              "Only the WordPress site (a signed request) confirms app sign-ins.", "service")


class DeviceLookupSchema(Schema):
    user_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    wp_user_id = fields.Integer(required=True, validate=validate.Range(min=1))


class DeviceDecisionSchema(DeviceLookupSchema):
    display_name = fields.String(load_default="", validate=validate.Length(max=200))
    approve = fields.Boolean(required=True)


@confirm_blp.route("/device/lookup")
class DeviceLookupView(MethodView):
    @confirm_blp.doc(security=[{"signed": []}])
    @only_wordpress
    @confirm_blp.arguments(DeviceLookupSchema)
    @confirm_blp.response(200, DeviceLookupAnswerSchema)
    @confirm_blp.alt_response(401, description="not signed by WordPress")
    @confirm_blp.alt_response(403, description="a token that is not WordPress's")
    @confirm_blp.alt_response(404, description="device_code_unknown: no app waits for this code")
    @confirm_blp.alt_response(429, description="too_many_wrong_codes for this fan")
    def post(self, body):
        """Which app waits for a code the fan typed (404 device_code_unknown; 429 after too many wrong codes)."""
        return _no_store(device.look_up(services(), body["wp_user_id"], body["user_code"]))


@confirm_blp.route("/device/decision")
class DeviceDecisionView(MethodView):
    @confirm_blp.doc(security=[{"signed": []}])
    @only_wordpress
    @confirm_blp.arguments(DeviceDecisionSchema)
    @confirm_blp.response(200, DeviceDecisionAnswerSchema)
    @confirm_blp.alt_response(401, description="not signed by WordPress")
    @confirm_blp.alt_response(403, description="a token that is not WordPress's")
    @confirm_blp.alt_response(404, description="device_code_unknown: no app waits for this code")
    @confirm_blp.alt_response(429, description="too_many_wrong_codes for this fan")
    def post(self, body):
        """The fan approves or denies the app their code names."""
        return _no_store(device.decide(services(), body["wp_user_id"], body["display_name"], body["user_code"],
                                       body["approve"]))


class DeviceRevokeSchema(Schema):
    wp_user_id = fields.Integer(required=True, validate=validate.Range(min=1))


class DeviceRevokedSchema(Schema):
    revoked = fields.Integer(metadata={"description": "how many app sign-ins ended"})


@confirm_blp.route("/device/revoke")
class DeviceRevokeView(MethodView):
    @confirm_blp.doc(security=[{"signed": []}])
    @only_wordpress
    @confirm_blp.arguments(DeviceRevokeSchema)
    @confirm_blp.response(200, DeviceRevokedSchema)
    @confirm_blp.alt_response(401, description="not signed by WordPress")
    @confirm_blp.alt_response(403, description="a token that is not WordPress's")
    def post(self, body):
        """Sign a fan out of every app: their refresh tokens stop working (WordPress: user deleted, password reset)."""
        return _no_store({"revoked": device.revoke(services(), body["wp_user_id"])})
