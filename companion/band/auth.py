"""Who is asking: bearer tokens (members, guests, listeners) and HMAC-signed service calls.

Every write endpoint calls :func:`require` with the right it needs: 401 without valid
credentials, 403 naming the missing right, before anything is changed.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from flask import g, request

from companion.band.roster import Band
from companion.band.signing import UPLOAD_TOKEN_PREFIX, SignatureError, read_upload_token, verify
from companion.band.tokens import find_token
from companion.db import utcnow
from companion.errors import Forbidden, ServiceUnavailable, Unauthorized


@dataclasses.dataclass(frozen=True)
class Identity:
    kind: str  # member | guest | service | listener | anonymous
    role: str  # leader | member | guest | listener | service | anonymous
    member_id: str | None
    name: str
    rights: frozenset[str]
    scopes: dict = dataclasses.field(default_factory=dict)
    expires_at: dt.datetime | None = None
    token_id: str | None = None

    def has(self, right: str) -> bool:
        return "*" in self.rights or right in self.rights

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"


ANONYMOUS = Identity(kind="anonymous", role="anonymous", member_id=None, name="anonymous", rights=frozenset())


def current_band() -> Band:
    from companion.app import services

    return services().band


def current_identity() -> Identity:
    """The identity of this request's caller (cached on flask.g)."""
    if "identity" not in g:
        g.identity = _authenticate()
    return g.identity


def require(right: str) -> Identity:
    """The caller, if it holds ``right``; 401 or 403 otherwise."""
    ident = current_identity()
    if not ident.authenticated:
        raise Unauthorized("Sign in first: send a bearer token or a signed request.", code="auth_required")
    if not ident.has(right):
        raise Forbidden(f"Your role ({ident.role}) lacks the right {right!r}.", code="missing_right",
                        details={"right": right, "role": ident.role})
    return ident


def _authenticate() -> Identity:
    from companion.app import services

    svc = services()
    if request.headers.get("X-ScriptHammer-Signature"):
        return _service_identity(svc)
    header = request.headers.get("Authorization", "")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="bad_auth_header")
    if token.strip().startswith(UPLOAD_TOKEN_PREFIX):
        return _upload_identity(svc, token.strip())
    with svc.db.session() as s:
        row = find_token(s, token.strip())
        if row is None:
            raise Unauthorized("This token is unknown, expired or revoked.", code="invalid_token")
        row.last_used_at = utcnow()
        role, member_id, scopes, expires = row.role, row.member_id, dict(row.scopes or {}), row.expires_at
        token_id, label = row.id, row.label
    band = svc.band
    if member_id:
        member = band.members.get(member_id)
        name = member.name if member else member_id
        kind = "member"
    else:
        name = label or role
        kind = role if role in {"guest", "listener", "service"} else "member"
        if role == "guest":
            member_id = f"guest:{token_id}"
    return Identity(kind=kind, role=role, member_id=member_id, name=name, rights=band.rights_of(role),
                    scopes=scopes, expires_at=expires, token_id=token_id)


def _service_identity(svc) -> Identity:
    body = request.get_data(cache=True)
    path = request.full_path.rstrip("?") if request.query_string else request.path

    def remember(nonce: str, ttl: int) -> bool:
        try:
            return bool(svc.redis.set(f"shm:nonce:{nonce}", "1", nx=True, ex=ttl))
        except Exception as exc:  # fail closed: without the nonce store, replays can't be refused
            raise ServiceUnavailable("Signed requests need Redis, which is unreachable.",
                                     code="nonce_store_down") from exc

    try:
        verify(svc.config.wp_shared_secret, request.method, path, body, request.headers, remember_nonce=remember)
    except SignatureError as exc:
        raise Unauthorized(exc.message, code=exc.code) from None
    return Identity(kind="service", role="service", member_id=None, name="wordpress",
                    rights=svc.band.rights_of("service"))


def _upload_identity(svc, token: str) -> Identity:
    """A WordPress-minted upload token: catalog.upload for one track, for a few minutes."""
    try:
        claims = read_upload_token(svc.config.wp_shared_secret, token)
    except SignatureError as exc:
        raise Unauthorized(exc.message, code=exc.code) from None
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc).replace(tzinfo=None)
    return Identity(kind="service", role="uploader", member_id=None,
                    name=f"wordpress:{claims['user']}" if claims["user"] else "wordpress",
                    rights=frozenset({"catalog.upload"}), scopes={"tracks": [claims["track_id"]]},
                    expires_at=expires)


def require_track_scope(ident: Identity, track_id: int) -> None:
    """Upload tokens name one track: refuse any other."""
    tracks = ident.scopes.get("tracks") if ident.role == "uploader" else None
    if tracks is not None and int(track_id) not in tracks:
        raise Forbidden("This upload token is for another track.", code="wrong_track",
                        details={"track_id": track_id})
