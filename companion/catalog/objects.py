"""The catalog's object index: which stored key belongs to which album or track, in which role.

Delivery (companion/access) classifies a key with one indexed lookup in ``catalog_objects``
(joined to the item's row for its current release state) instead of scanning renditions,
playlists and peaks. The index is kept by the database session itself: whenever a flush touches
a track, a rendition or an album, the rows of that item are rebuilt from its current state just
before the commit. So no writer (the release job, the render room's SHF attachment, the API, the
CLI) can forget it. The release state is read from the item at each lookup, never copied, so a
change of state counts at the next request even when two writers race on one item (the worst a
race leaves is a missing or an extra row of the item's own keys until its next change).

Entries of a track:

- each rendition's key in the rendition's kind (``master``, ``download``, ``preview``; the SHF
  download is a ``download``);
- its HLS ladder's folder (``hls/ab/abcd.../``) as ``stream``: every playlist and segment in it;
  so is the folder of its A/B variants (``hls-ab/...``, premium tracks);
- its peaks (``peaks``), its cover or its album's (``cover``);
- its uploaded original (``source``) and release manifest (``manifest``): never public.

Entries of an album: its cover.
"""
from __future__ import annotations

import posixpath
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from companion.catalog.models import Album, CatalogObject, Rendition, Track

_PENDING = "catalog_objects_pending"


def hls_folder(master_key: str) -> str:
    """The folder (with a trailing slash) holding an HLS ladder's playlists and segments."""
    return posixpath.dirname(master_key) + "/"


def track_entries(track: Track, renditions: Iterable[tuple[str, str]] | None = None) -> Iterator[tuple[str, str]]:
    """(key, role) of every object a track names (``renditions``: its (key, kind) pairs, else its relationship)."""
    pairs = renditions if renditions is not None else [(r.key, r.kind) for r in track.renditions]
    for key, kind in pairs:
        yield key, kind if kind in ("master", "download", "preview") else "download"
    if track.hls_key:
        yield hls_folder(track.hls_key), "stream"
    if track.ab_hls_key:
        yield hls_folder(track.ab_hls_key), "stream"
    for p in track.peaks or []:
        if p.get("key"):
            yield p["key"], "peaks"
    cover = track.cover_key or (track.album.cover_key if track.album else None)
    if cover:
        yield cover, "cover"
    if track.source_key:
        yield track.source_key, "source"
    if track.manifest_key:
        yield track.manifest_key, "manifest"


def album_entries(album: Album) -> Iterator[tuple[str, str]]:
    if album.cover_key:
        yield album.cover_key, "cover"


def reindex(session: Session, items: Iterable[tuple[str, int]]) -> None:
    """Rebuild the index rows of each ("track" | "album", id) from the item's current state."""
    for item_type, item_id in sorted(set(items)):
        session.execute(sa.delete(CatalogObject).where(CatalogObject.item_type == item_type,
                                                       CatalogObject.item_id == item_id))
        row = session.get(Track if item_type == "track" else Album, item_id)
        if row is None:
            continue
        if item_type == "track":
            # Read the renditions again (not the collection loaded earlier in this transaction).
            pairs = session.execute(sa.select(Rendition.key, Rendition.kind).where(Rendition.track_id == item_id)).all()
            entries = track_entries(row, pairs)
        else:
            entries = album_entries(row)
        for key, role in sorted(set(entries)):
            session.add(CatalogObject(key=key, item_type=item_type, item_id=item_id, role=role))
        if item_type == "album":  # tracks show their album's cover when they have none
            for t in row.tracks:
                if not t.cover_key:
                    reindex(session, [("track", t.id)])


def reindex_all(session: Session) -> int:
    """Rebuild the whole index (after a restore, or to repair it); returns the number of items."""
    items = [("track", i) for i in session.scalars(sa.select(Track.id))]
    items += [("album", i) for i in session.scalars(sa.select(Album.id))]
    reindex(session, items)
    return len(items)


def _items_of(obj) -> Iterator[tuple[str, int]]:
    if isinstance(obj, Track):
        yield "track", obj.id
    elif isinstance(obj, Album):
        yield "album", obj.id
    elif isinstance(obj, Rendition):
        ids = {obj.track_id, *sa.inspect(obj).attrs.track_id.history.deleted}
        for tid in ids:
            if tid is not None:
                yield "track", tid


@event.listens_for(Session, "after_flush")
def _note_changed_items(session: Session, _ctx) -> None:
    pending = session.info.setdefault(_PENDING, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        pending.update(_items_of(obj))


@event.listens_for(Session, "before_commit")
def _reindex_before_commit(session: Session) -> None:
    if not session.info.get(_PENDING) and not (session.new or session.dirty or session.deleted):
        return
    session.flush()
    pending = session.info.pop(_PENDING, set())
    if pending:
        reindex(session, pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
