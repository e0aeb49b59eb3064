"""Delivery: the URLs a caller is given for an item, and whether an unsigned /media request may be answered.

- :class:`Viewer` is one caller as delivery sees them: their identity, what they may hear and
  download of each track (:mod:`companion.access.policy`), and the URL of each object: plain for
  public objects, signed (bound to the object, the caller and an expiry) for everything else.
  Entitlements are read once per viewer, so an album of twenty tracks costs one query.
- :func:`classify` finds what a stored key is (one indexed lookup in the catalog's object index)
  and :func:`may_fetch_unsigned` decides an unsigned request.

Durations (docs/security.md): stream URLs (the per-listener HLS playlists, their segments, and
the preview) live ``stream_url_seconds`` (15 minutes) plus the track's length, so a track can be
heard through; download links live ``download_url_seconds`` (one hour). A revoked or ended
entitlement stops new URLs at once (every response checks it); URLs already issued die at their
expiry.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import posixpath
import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.access import policy
from companion.access.identity import listener_id_of, principal_of
from companion.access.service import active_entitlements
from companion.access.signing import Signer, expiry, signer_for
from companion.band.auth import ANONYMOUS, Identity
from companion.catalog.models import Album, CatalogObject, Rendition, Track


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    """One index row of a key: the item naming it, in which role, and that item's release state."""

    role: str
    release_state: str
    item_type: str
    item_id: int

    @property
    def public(self) -> bool:
        return policy.is_public(self.role, self.release_state)


#: One indexed lookup of a key and its folder, joined to the item's row for its current release state.
_CLASSIFY = (sa.select(CatalogObject.role, sa.func.coalesce(Track.release_state, Album.release_state),
                       CatalogObject.item_type, CatalogObject.item_id)
             .outerjoin(Track, sa.and_(CatalogObject.item_type == "track", Track.id == CatalogObject.item_id))
             .outerjoin(Album, sa.and_(CatalogObject.item_type == "album", Album.id == CatalogObject.item_id))
             .where(CatalogObject.key.in_(sa.bindparam("keys", expanding=True))))


def classify(db, key: str) -> list[ObjectRef]:
    """Every (role, item's current release state, item) the catalog's index has for ``key`` (or for its
    HLS folder). ``db`` is a Session or a Connection (the /media handler reads on a bare connection)."""
    keys = [key]
    folder = posixpath.dirname(key)
    if folder:
        keys.append(folder + "/")
    conn = db.connection() if isinstance(db, Session) else db
    return [ObjectRef(role, state, item_type, item_id)
            for role, state, item_type, item_id in conn.execute(_CLASSIFY, {"keys": keys}) if state is not None]


class Remembered:
    """What this process found public, remembered for ``ttl`` seconds: the hot paths' answers for anyone
    (a public segment's verdict, an anonymous caller's view of a released track) without a database
    round trip.

    Only answers for anyone are remembered, never a "no": what turns public is served as soon as the
    catalog says so. A change to a track, a rendition, an album or the object index flushed by any session
    of this process forgets everything at once; another process sees it within ``ttl`` (public objects
    are cached an hour by browsers and CDNs anyway, PUBLIC_CACHE in companion/storage/api.py)."""

    def __init__(self, clock=time.monotonic, limit: int = 50_000):
        self.clock = clock
        self.limit = limit
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        """The value remembered for ``key`` (None: nothing, or expired)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        until, value = entry
        if until < self.clock():
            self._entries.pop(key, None)
            return None
        return value

    def known(self, key) -> bool:
        return self.get(key) is not None

    def remember(self, key, ttl: float, value=True) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.limit:  # bounded: a crawl over many keys cannot grow it without end
                self._entries.clear()
            self._entries[key] = (self.clock() + ttl, value)

    def forget_all(self) -> None:
        with self._lock:
            self._entries.clear()


#: object keys found public (/media)
PUBLIC_KEYS = Remembered()
#: (track id, base URL) -> (the anonymous caller's view of the released track, its stream key)
PUBLIC_VIEWS = Remembered(limit=5_000)


@sa.event.listens_for(Session, "after_flush")
def _forget_public_keys(session, _ctx) -> None:
    for obj in (*session.dirty, *session.deleted, *session.new):
        if isinstance(obj, (Track, Album, Rendition, CatalogObject)):
            PUBLIC_KEYS.forget_all()
            PUBLIC_VIEWS.forget_all()
            return


def guest_scope(ident: Identity) -> tuple[frozenset[int], frozenset[int]]:
    """(track ids, album ids) a guest token names; empty for everyone else (no scope: nothing)."""
    if ident.role != "guest":
        return frozenset(), frozenset()

    def ids(name):
        try:
            return frozenset(int(x) for x in ident.scopes.get(name) or [])
        except (TypeError, ValueError):
            return frozenset()

    return ids("tracks"), ids("albums")


def may_fetch_unsigned(db, key: str, ident: Identity, *, remember_seconds: float = 0) -> bool:
    """May an unsigned request for ``key`` be answered? Public objects for anyone; private ones only
    for the band (band.read_private) and for guests whose token names the item, by their token.
    ``remember_seconds``: keep a public verdict that long in :data:`PUBLIC_KEYS`."""
    refs = classify(db, key)
    if any(r.public for r in refs):
        PUBLIC_KEYS.remember(key, remember_seconds)
        return True
    if not ident.authenticated:
        return False
    if ident.has("band.read_private"):
        return True
    tracks, albums = guest_scope(ident)
    if not (tracks or albums):
        return False
    for r in refs:
        if r.item_type == "track" and r.item_id in tracks or r.item_type == "album" and r.item_id in albums:
            return True
        if r.item_type == "track" and albums:
            album_id = db.scalar(sa.select(Track.album_id).where(Track.id == r.item_id))
            if album_id in albums:
                return True
    return False


#: The companion acting on its own (a job), for shapes built outside a request.
SYSTEM = Identity(kind="service", role="service", member_id=None, name="companion",
                  rights=frozenset({"band.read_private"}))


class Viewer:
    """One caller, as delivery sees them: what they may have of each item and the URLs they get."""

    def __init__(self, ident: Identity, *, signer: Signer | None, base_url: str, db, stream_seconds: int = 900,
                 download_seconds: int = 3600, clock=time.time):
        self.ident = ident
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        self.db = db
        self.stream_seconds = stream_seconds
        self.download_seconds = download_seconds
        self.clock = clock
        self.principal = principal_of(ident)
        self.band = ident.has("band.read_private")
        self.listener_id = listener_id_of(ident)
        self.guest_tracks, self.guest_albums = guest_scope(ident)
        self._scopes: frozenset[str] | None = None

    @classmethod
    def for_request(cls) -> "Viewer":
        """The caller of the current request."""
        from flask import request

        from companion.band.auth import current_identity
        from companion.services import current as services

        svc = services()
        return cls.of(current_identity(), svc, request.host_url)

    @classmethod
    def of(cls, ident: Identity, svc, base_url: str | None = None) -> "Viewer":
        cfg = svc.config
        return cls(ident, signer=signer_for(cfg), base_url=base_url or cfg.public_url, db=svc.db,
                   stream_seconds=cfg.stream_url_seconds, download_seconds=cfg.download_url_seconds)

    @classmethod
    def anonymous(cls, svc, base_url: str | None = None) -> "Viewer":
        return cls.of(ANONYMOUS, svc, base_url)

    @classmethod
    def system(cls, svc) -> "Viewer":
        """The companion itself outside a request (jobs): sees what the band sees."""
        return cls.of(SYSTEM, svc)

    # --- what this caller may have -----------------------------------------------------------

    def entitlement_scopes(self) -> frozenset[str]:
        """The scopes of this listener's active entitlements (read once)."""
        if self._scopes is None:
            if self.listener_id is None:
                self._scopes = frozenset()
            else:
                with self.db.session() as s:
                    self._scopes = frozenset(e.scope for e in active_entitlements(s, self.listener_id))
        return self._scopes

    def level(self, track: Track) -> policy.Level:
        in_scope = track.id in self.guest_tracks or (track.album_id is not None and track.album_id in self.guest_albums)
        entitled = (track.release_state == "premium" and self.listener_id is not None
                    and policy.covers(self.entitlement_scopes(), track.id, track.album_id))
        return policy.level_for(track.release_state, band=self.band, guest_in_scope=in_scope, entitled=entitled)

    def sees_track(self, track: Track) -> bool:
        return self.level(track).visible

    def sees_album(self, album: Album) -> bool:
        return self.band or album.release_state in policy.RELEASED or album.id in self.guest_albums

    # --- URLs --------------------------------------------------------------------------------

    def plain_url(self, key: str) -> str:
        return f"{self.base_url}/media/{key}"

    def stream_expiry(self, track: Track) -> int:
        return int(self.stream_seconds + (track.duration or 0))

    def url(self, key: str | None, role: str, release_state: str, *, seconds: int) -> str | None:
        """The URL of ``key``: plain when public, else signed for ``seconds`` (None: this caller gets none)."""
        if not key:
            return None
        if policy.is_public(role, release_state):
            return self.plain_url(key)
        return self.signed_url(key, seconds=seconds)

    def signed_url(self, key: str, *, seconds: int) -> str | None:
        """``key`` signed for this caller for ``seconds`` (None: anonymous callers get no signed URL)."""
        if self.principal is None or self.signer is None:
            return None
        return f"{self.plain_url(key)}?{self.signer.sign(key, self.principal, seconds, now=self.clock()).query()}"

    def expires_at(self, seconds: int) -> dt.datetime:
        """When a URL signed now for ``seconds`` expires (as :meth:`Signer.sign` rounds it)."""
        return dt.datetime.fromtimestamp(expiry(seconds, self.clock()), dt.timezone.utc).replace(tzinfo=None)


def caller_media_url(key: str, seconds: int | None = None) -> str | None:
    """The URL of a stored object for the current request's caller: plain when public, else signed for
    them (for other rooms' private objects, e.g. the render room's quick previews; a signed playlist's
    segments come signed too). None when the caller gets no signed URLs (anonymous)."""
    viewer = Viewer.for_request()
    with viewer.db.engine.connect() as conn:
        public = any(r.public for r in classify(conn, key))
    return viewer.plain_url(key) if public else viewer.signed_url(key, seconds=seconds or viewer.stream_seconds)
