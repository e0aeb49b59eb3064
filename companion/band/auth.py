"""Who is asking: bearer tokens (members, guests, listeners) and HMAC-signed service calls.

The rights convention (docs/rights.md): every write handler declares the coarse right it needs
with :func:`requires` placed above its ``@blp.arguments`` (or calls :func:`require` first
thing), so the caller is known and entitled (401 without valid credentials, 403 naming the
missing right) before the body is read or validated; domain service functions take the
:class:`Identity` and check the fine-grained, content-dependent rights (per-part ownership,
guest scopes) before anything is changed.

A signed request is checked in the order that reads least: headers and timestamp window first,
then the body's size against ``Config.signed_body_max_kb`` (413, nothing read), and only then
is the body read and its HMAC verified.
"""
from __future__ import annotations

import datetime as dt
import functools

from flask import g, request

from companion.band.identity import ANONYMOUS, Identity  # noqa: F401 - re-exported
from companion.band.roster import Band
from companion.band.signing import (STUDIO_TOKEN_PREFIX, UPLOAD_TOKEN_PREFIX, check_headers, read_studio_token,
                                    read_upload_token, verify_body)
from companion.band.tokens import find_token
from companion.db import utcnow
from companion.errors import Forbidden, PayloadTooLarge, ServiceUnavailable, Unauthorized


def current_band() -> Band:
    from companion.services import current as services

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


def init_app(app) -> None:
    """Signed requests are verified before any view runs (so before any body parsing): the header
    checks, the body cap and the HMAC come first on every route, whatever its handler does."""
    app.before_request(_verify_signed_request_first)


def _verify_signed_request_first() -> None:
    if request.headers.get("X-ScriptHammer-Signature") and request.method != "OPTIONS":
        current_identity()


#: What the OpenAPI document declares for an operation that needs a caller: a bearer token or a
#: signed request (the schemes app.py defines).
SECURITY = [{"bearer": []}, {"signed": []}]
#: ... and for one that anyone may call, with more to see for a caller (e.g. private compositions).
OPTIONAL_SECURITY = SECURITY + [{}]


def declare_security(view, security=None):
    """Declare ``security`` (default :data:`SECURITY`) on ``view``'s OpenAPI operation, as flask-smorest's
    ``blp.doc(security=...)`` does, unless the view declares its own."""
    doc = dict(getattr(view, "_apidoc", {}))
    manual = dict(doc.get("manual_doc", {}))
    manual.setdefault("security", security or SECURITY)
    doc["manual_doc"] = manual
    view._apidoc = doc
    return view


def requires(right: str):
    """Decorator for a view: :func:`require` ``right`` before the view runs, and so before
    flask-smorest reads or validates the body (put it above ``@blp.arguments``). The operation
    declares its security in the OpenAPI document."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            require(right)
            return view(*args, **kwargs)
        return declare_security(wrapper)
    return decorate


def require_signed_in() -> Identity:
    """The caller, if it presented valid credentials of any kind; 401 otherwise."""
    ident = current_identity()
    if not ident.authenticated:
        raise Unauthorized("Sign in first: send a bearer token or a signed request.", code="auth_required")
    return ident


def signed_in(view):
    """Decorator for a view: :func:`require_signed_in` before the body is read (rights come after)."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        require_signed_in()
        return view(*args, **kwargs)
    return declare_security(wrapper)


def presents_credentials() -> bool:
    """Whether this request carries credentials at all (an Authorization or a signature header)."""
    return bool(request.headers.get("Authorization") or request.headers.get("X-ScriptHammer-Signature"))


def _authenticate() -> Identity:
    from companion.services import current as services

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
    if token.strip().startswith("shmls."):  # a listener token (companion/access/tokens.py)
        return _listener_identity(svc, token.strip())
    if token.strip().startswith(STUDIO_TOKEN_PREFIX):
        return _studio_identity(svc, token.strip())
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
    signed = check_headers(svc.config.wp_shared_secret, request.headers)  # 401 before reading anything
    body = _signed_body(svc.config.signed_body_max_bytes)
    path = request.full_path.rstrip("?") if request.query_string else request.path

    def remember(nonce: str, ttl: int) -> bool:
        try:
            return bool(svc.redis.set(f"shm:nonce:{nonce}", "1", nx=True, ex=ttl))
        except Exception as exc:  # fail closed: without the nonce store, replays can't be refused
            raise ServiceUnavailable("Signed requests need Redis, which is unreachable.",
                                     code="nonce_store_down") from exc

    verify_body(svc.config.wp_shared_secret, request.method, path, body, signed, remember_nonce=remember)
    return Identity(kind="service", role="service", member_id=None, name="wordpress",
                    rights=svc.band.rights_of("service"))


def _signed_body(limit: int) -> bytes:
    """The body of a signed request, refused (413 stating ``limit``) before reading when it is larger.

    A declared Content-Length over the limit is refused without reading a byte; a body without
    one (chunked) is read at most one byte past the limit, and refused when it goes past it."""
    too_large = PayloadTooLarge.over("A signed request's body", limit, code="signed_body_too_large")
    length = request.content_length
    if length is not None and length > limit:
        raise too_large
    request.max_content_length = limit + 1
    body = request.get_data(cache=True)
    if len(body) > limit:
        raise too_large
    return body


def _upload_identity(svc, token: str) -> Identity:
    """A WordPress-minted upload token: catalog.upload for one track, for a few minutes."""
    claims = read_upload_token(svc.config.wp_shared_secret, token)
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc).replace(tzinfo=None)
    return Identity(kind="service", role="uploader", member_id=None,
                    name=f"wordpress:{claims['user']}" if claims["user"] else "wordpress",
                    rights=frozenset({"catalog.upload"}), scopes={"tracks": [claims["track_id"]]},
                    expires_at=expires)


def _studio_identity(svc, token: str) -> Identity:
    """A WordPress-minted studio token: the band member the site owner mapped the WordPress user to,
    with that member's rights, for the token's few minutes."""
    claims = read_studio_token(svc.config.wp_shared_secret, token)
    member = svc.band.members.get(claims["member"])
    if member is None:
        raise Unauthorized(f"The studio token names no band member ({claims['member']!r}).", code="studio_token_invalid")
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc).replace(tzinfo=None)
    return Identity(kind="member", role=member.role, member_id=member.id, name=member.name,
                    rights=svc.band.rights_of(member.role), expires_at=expires)


def _listener_identity(svc, token: str) -> Identity:
    """A WordPress-minted listener token: the fan it names (companion/access/identity.py)."""
    from companion.access.identity import listener_identity

    return listener_identity(svc, token)


def require_track_scope(ident: Identity, track_id: int) -> None:
    """Upload tokens name one track: refuse any other."""
    tracks = ident.scopes.get("tracks") if ident.role == "uploader" else None
    if tracks is not None and int(track_id) not in tracks:
        raise Forbidden("This upload token is for another track.", code="wrong_track",
                        details={"track_id": track_id})
