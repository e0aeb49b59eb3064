"""Premium broadcasts: who may listen to a live session whose scheduled broadcast is premium.

A broadcast marked ``premium`` (by whoever may schedule it) is heard only by

- the band (``band.read_private`` or ``live.run``) and WordPress (the service identity);
- a fan (a WordPress-minted listener token) with an active entitlement covering it: a subscription
  (scope ``all``), a ticket (a purchase of scope ``live:<broadcast id>``) or a leader's grant of
  either scope;
- a guest the band invited to it (a guest token whose ``broadcasts`` scope names the broadcast).

The same gate keeps the session's chat, marks, shared studio view and members' room (service.py): on a
premium session nobody outside the band, the invited guests and (for reading the chat and marks) the
entitled fans gets them.

Everyone else gets a clear error on every listening route (WebRTC ``listen`` and the HLS files):
401 ``premium_sign_in`` when nobody is signed in, 403 ``premium_ticket_required`` (with the ticket's
buy link where WordPress published a product) for a signed-in caller without a ticket, 403
``premium_not_invited`` for a guest whose token does not name the broadcast.

The live HLS of a premium session follows docs/security.md's per-listener playlists: the playlist is
served with every URI signed for the caller (``?exp=&lid=&sig=``, the key ``live/<session>/<file>``),
so a segment is never fetchable without a signature bound to its listener. The playlist's own URL is
signed for :data:`PLAYLIST_SECONDS` (a broadcast's length); every fetch of it re-checks the entitlement
(a refund stops the stream at the next playlist refresh), and its segments are signed for
:data:`SEGMENT_SECONDS` only (the sliding window is a few seconds long).
"""
from __future__ import annotations

import dataclasses
import re

import sqlalchemy as sa

from companion.access.identity import listener_id_of, principal_of
from companion.access.models import Entitlement
from companion.access.signing import expiry, signer_for
from companion.band.identity import Identity
from companion.db import utcnow
from companion.errors import Forbidden, Unauthorized
from companion.live.models import LiveBroadcast

#: a premium session's playlist URL lives this long (a broadcast is heard through on one URL)
PLAYLIST_SECONDS = 4 * 3600
#: the segment URLs in a served playlist live this long (rounded up to signing.EXPIRY_STEP)
SEGMENT_SECONDS = 120
_URI_ATTR = re.compile(r'URI="([^"]+)"')


@dataclasses.dataclass(frozen=True)
class Gate:
    """What one caller may do with one session: ``premium`` (its broadcast is), ``broadcast`` (its id),
    ``allowed`` (may listen), ``principal`` (whom signed URLs are issued to), ``why`` (band, entitled,
    invited, public, sign_in, ticket, invite)."""

    premium: bool
    broadcast: int | None
    allowed: bool
    principal: str | None
    why: str


def broadcast_of(s, session_id: int) -> LiveBroadcast | None:
    """The scheduled broadcast whose session this is (None: a session started by hand)."""
    return s.scalar(sa.select(LiveBroadcast).where(LiveBroadcast.session_id == session_id)
                    .order_by(LiveBroadcast.id.desc()).limit(1))


def covering(broadcast_id: int) -> tuple[str, str]:
    return ("all", f"live:{int(broadcast_id)}")


def ticketed(s, listener_id: int | None, broadcast_id: int) -> bool:
    """Has this fan an active entitlement covering the broadcast (subscription, ticket, grant)?"""
    if listener_id is None:
        return False
    now = utcnow()
    return s.scalar(sa.select(Entitlement.id).where(
        Entitlement.listener_id == listener_id, Entitlement.scope.in_(covering(broadcast_id)),
        Entitlement.revoked_at.is_(None), Entitlement.starts_at <= now,
        sa.or_(Entitlement.ends_at.is_(None), Entitlement.ends_at > now)).limit(1)) is not None


def gate(svc, ident: Identity, session_id: int) -> Gate:
    with svc.db.session() as s:
        row = broadcast_of(s, session_id)
        if row is None or not row.premium:
            return Gate(False, row.id if row else None, True, principal_of(ident), "public")
        bid = row.id
        if ident.authenticated and (ident.has("band.read_private") or ident.has("live.run")
                                    or (ident.kind == "service" and ident.role == "service")):
            return Gate(True, bid, True, principal_of(ident), "band")
        if not ident.authenticated:
            return Gate(True, bid, False, None, "sign_in")
        if ident.role == "guest":
            if bid in invited_to(ident):
                return Gate(True, bid, True, principal_of(ident), "invited")
            return Gate(True, bid, False, None, "invite")
        if ticketed(s, listener_id_of(ident), bid):
            return Gate(True, bid, True, principal_of(ident), "entitled")
        return Gate(True, bid, False, None, "ticket")


def invited_to(ident_or_scopes) -> set[int]:
    """The broadcasts a guest token is invited to (its ``broadcasts`` scope: broadcast ids)."""
    scopes = ident_or_scopes.scopes if isinstance(ident_or_scopes, Identity) else (ident_or_scopes or {})
    ids = scopes.get("broadcasts") or []
    return {x for x in ids if type(x) is int} if isinstance(ids, list) else set()


def buy_url(svc, broadcast_id: int) -> str | None:
    from companion.commerce.products import buy_url as product_url

    with svc.db.session() as s:
        return product_url(s, "live", broadcast_id)


def refuse(svc, g: Gate) -> None:
    """Raise the clear error of a caller who may not listen (nothing for one who may)."""
    if g.allowed:
        return
    details = {"broadcast": g.broadcast, "premium": True}
    if g.why == "sign_in":
        raise Unauthorized("This broadcast is premium: sign in, then buy a ticket (or subscribe) to listen.",
                           code="premium_sign_in", details=details)
    if g.why == "invite":
        raise Forbidden("This session is premium: a guest needs the band's invitation to it (a guest token "
                        "naming its broadcast).", code="premium_not_invited", details=details)
    raise Forbidden("This broadcast is premium: a ticket (or a subscription) lets you listen.",
                    code="premium_ticket_required", details={**details, "buy_url": buy_url(svc, g.broadcast)})


def require_listener(svc, ident: Identity, session_id: int) -> Gate:
    g = gate(svc, ident, session_id)
    refuse(svc, g)
    return g


def view(svc, ident: Identity, session_id: int, st: dict) -> dict:
    """A session's state as this caller may see it: ``premium``, ``broadcast_id``; for a premium one,
    ``access`` ({allowed, why, buy_url}), the caller's own signed playlist as ``hls`` (None when they may
    not listen), and no Janus address nor recording keys for anyone outside the band."""
    g = gate(svc, ident, session_id)
    st = {**st, "premium": g.premium, "broadcast_id": g.broadcast, "recording_released": _released(svc, st.get("track_id"))}
    if not g.premium:
        return st
    st["access"] = {"allowed": g.allowed, "why": g.why, "buy_url": buy_url(svc, g.broadcast) if not g.allowed else None}
    if g.allowed and g.principal:
        st["hls"] = playlist_url(svc, session_id, g.principal)
    else:
        st["hls"] = None
        st["webrtc"] = {"available": True} if st.get("webrtc") else None
    if g.why != "band":
        st["recording"] = {"available": bool(st.get("recording"))}
    return st


def _released(svc, track_id: int | None) -> bool:
    """Is the session's released mix (its track) published: public or premium, so its player plays?"""
    if not track_id:
        return False
    from companion.catalog.models import Track

    with svc.db.session() as s:
        track = s.get(Track, int(track_id))
        return track is not None and track.release_state in ("public", "premium")


def key(session_id: int, name: str) -> str:
    return f"live/{int(session_id)}/{name}"


def playlist_url(svc, session_id: int, principal: str) -> str:
    q = signer_for(svc.config).sign(key(session_id, "live.m3u8"), principal, PLAYLIST_SECONDS)
    return f"/api/live/sessions/{int(session_id)}/hls/live.m3u8?{q.query()}"


def signed_playlist(svc, session_id: int, text: str, principal: str) -> str:
    """The live playlist with its init segment and every media segment signed for ``principal``."""
    signer = signer_for(svc.config)
    exp = expiry(SEGMENT_SECONDS)

    def sign(uri: str) -> str:
        if not uri or "/" in uri or "?" in uri or ":" in uri:
            return uri
        return f"{uri}?{signer.sign_until(key(session_id, uri), principal, exp).query()}"

    out = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            line = _URI_ATTR.sub(lambda m: f'URI="{sign(m.group(1))}"', line)
        elif line and not line.startswith("#"):
            line = sign(line.strip())
        out.append(line)
    return "\n".join(out) + "\n"


def check_signature(svc, session_id: int, name: str, args) -> str:
    """The principal of a valid signature on ``name``; 403 ``signature_invalid`` / ``signature_expired``."""
    res = signer_for(svc.config).check(key(session_id, name), args.get("exp"), args.get("lid"), args.get("sig"))
    if res == "ok":
        return args.get("lid")
    if res == "expired":
        raise Forbidden("This link has expired: reload the player for a fresh one.", code="signature_expired")
    raise Forbidden("This premium broadcast's files need a valid signed link.", code="signature_invalid")


def principal_still_entitled(svc, principal: str, broadcast_id: int | None) -> bool:
    """A signed playlist is re-checked on each fetch: a fan's ticket may have been refunded since."""
    if principal == "s" or principal.startswith("m."):
        return True  # the band and WordPress
    if principal.startswith("g."):  # an invited guest: the token still live and still naming the broadcast
        from companion.band.models import ApiToken

        with svc.db.session() as s:
            row = s.get(ApiToken, principal[2:])
            return (row is not None and row.role == "guest" and row.revoked_at is None
                    and (row.expires_at is None or row.expires_at > utcnow())
                    and broadcast_id is not None and broadcast_id in invited_to(row.scopes))
    if not principal.startswith("l."):
        return False
    try:
        lid = int(principal[2:])
    except ValueError:
        return False
    with svc.db.session() as s:
        return broadcast_id is not None and ticketed(s, lid, broadcast_id)
