"""The catalog's object index: every writer keeps it (it is the session's job), on each database."""
from __future__ import annotations

import sqlalchemy as sa

from companion.access.delivery import classify
from companion.catalog import service
from companion.catalog.models import Album, CatalogObject, Track

SHA = "ab" * 32


def manifest(prefix: str = "cd") -> dict:
    row = dict(kind="download", format="mp3", codec="mp3", container="mp3", mime="audio/mpeg", extension="mp3",
               size=10, sha256=SHA)
    return {
        "renditions": [dict(row, name="mp3-320", key=f"renditions/{prefix}/x/t-mp3-320.mp3"),
                       dict(row, name="master-wav", kind="master", key=f"renditions/{prefix}/x/t-master-wav.wav"),
                       dict(row, name="preview", kind="preview", key=f"renditions/{prefix}/x/t-preview.m4a")],
        "source": {"duration": 5.0}, "loudness": {},
        "hls": {"master_key": f"hls/{prefix}/ladder/master.m3u8"},
        "peaks": [{"samples_per_pixel": 256, "length": 10, "key": f"peaks/{prefix}/p/peaks-256.json"}],
    }


def index(db) -> set[tuple]:
    """(key, item type, item id, role, the item's release state) of every row."""
    with db.session() as s:
        rows = s.scalars(sa.select(CatalogObject)).all()
        return {(r.key, r.item_type, r.item_id, r.role,
                 s.get(Track if r.item_type == "track" else Album, r.item_id).release_state) for r in rows}


def test_the_index_follows_releases_state_changes_attachments_and_deletions(app, db_kind):
    from companion.render.publish import attach_shf

    db = app.extensions["scripthammer"].db
    with db.session() as s:
        album = service.create_album(s, title="A", release_state="public")
        album.cover_key = "covers/aa/cover.jpg"
        t = service.create_track(s, title="T", album_id=album.id, release_state="premium")
        t.source_key = "uploads/ab/source.wav"
        service.apply_manifest(s, t, manifest())
        tid, aid = t.id, album.id
    rows = index(db)
    assert ("hls/cd/ladder/", "track", tid, "stream", "premium") in rows
    assert ("renditions/cd/x/t-master-wav.wav", "track", tid, "master", "premium") in rows
    assert ("peaks/cd/p/peaks-256.json", "track", tid, "peaks", "premium") in rows
    assert ("covers/aa/cover.jpg", "track", tid, "cover", "premium") in rows  # the album's cover, shown by the track
    assert ("covers/aa/cover.jpg", "album", aid, "cover", "public") in rows
    assert ("uploads/ab/source.wav", "track", tid, "source", "premium") in rows
    with db.session() as s:
        refs = classify(s, "hls/cd/ladder/a096k_00003.m4s")
        assert [(r.role, r.release_state, r.public) for r in refs] == [("stream", "premium", False)]
        assert [r.public for r in classify(s, "renditions/cd/x/t-preview.m4a")] == [True]
        assert classify(s, "renditions/cd/x/unknown.mp3") == []
    # The render room attaches an SHF straight to the rendition rows: indexed all the same.
    with db.session() as s:
        attach_shf(s, tid, "shf/ab/bundle.shf", 5, SHA)
    assert ("shf/ab/bundle.shf", "track", tid, "download", "premium") in index(db)
    # A state change reaches every row of the item; a re-release replaces the rows.
    with db.session() as s:
        service.update_fields(s.get(Track, tid), {"release_state": "public"})
    assert {r[4] for r in index(db) if r[1] == "track"} == {"public"}
    with db.session() as s:
        service.apply_manifest(s, s.get(Track, tid), manifest("ef"))
    keys = {r[0] for r in index(db) if r[1] == "track"}
    assert "hls/ef/ladder/" in keys and "hls/cd/ladder/" not in keys and "shf/ab/bundle.shf" not in keys
    with db.session() as s:
        s.delete(s.get(Track, tid))
    assert {r[1] for r in index(db)} == {"album"}
    with db.session() as s:
        s.get(Album, aid).cover_key = None
    assert index(db) == set()


def test_the_state_is_read_at_each_lookup_not_copied(app):
    """Even a change that no session hook saw (another writer, a raw UPDATE) counts at the next lookup."""
    db = app.extensions["scripthammer"].db
    with db.session() as s:
        t = service.create_track(s, title="T", release_state="public")
        service.apply_manifest(s, t, manifest())
        tid = t.id
    with db.engine.begin() as c:
        c.execute(sa.text("UPDATE tracks SET release_state = 'draft' WHERE id = :i"), {"i": tid})
    with db.session() as s:
        assert [r.public for r in classify(s, "renditions/cd/x/t-preview.m4a")] == [False]
        assert [r.public for r in classify(s, "hls/cd/ladder/a048k.m3u8")] == [False]


def test_a_rolled_back_change_leaves_the_index_as_it_was(app):
    db = app.extensions["scripthammer"].db
    with db.session() as s:
        t = service.create_track(s, title="T", release_state="public")
        service.apply_manifest(s, t, manifest())
        tid = t.id
    before = index(db)
    try:
        with db.session() as s:
            s.get(Track, tid).release_state = "draft"
            s.flush()
            raise RuntimeError("the request failed after the change")
    except RuntimeError:
        pass
    assert index(db) == before


def test_the_migration_indexes_what_already_exists(tmp_path):
    """An existing catalog upgraded to 0005 gets its index from the migration."""
    from companion.db import Database, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    db = Database(url)
    with db.engine.begin() as c:
        c.execute(sa.text("INSERT INTO albums (id, slug, title, artist, description, cover_key, release_state, "
                          "created_at, updated_at) VALUES (1, 'a', 'A', 'S', '', 'covers/x.jpg', 'public', "
                          "'2026-01-01', '2026-01-01')"))
        c.execute(sa.text("INSERT INTO tracks (id, album_id, slug, title, artist, description, release_state, status, "
                          "hls_key, peaks, source_key, created_at, updated_at) VALUES (1, 1, 't', 'T', 'S', '', "
                          "'premium', 'ready', 'hls/aa/l/master.m3u8', '[{\"key\": \"peaks/aa/p.json\"}]', "
                          "'uploads/aa/s.wav', '2026-01-01', '2026-01-01')"))
        c.execute(sa.text("INSERT INTO renditions (track_id, name, kind, format, codec, container, mime, extension, "
                          "size, key, sha256, normalized, created_at) VALUES (1, 'flac', 'download', 'flac', 'flac', "
                          "'flac', 'audio/flac', 'flac', 1, 'renditions/aa/t.flac', 'x', 0, '2026-01-01')"))
    db.dispose()
    upgrade(url)
    db = Database(url)
    with db.engine.connect() as c:
        rows = {tuple(r) for r in c.execute(sa.text("SELECT key, item_type, item_id, role FROM catalog_objects"))}
    db.dispose()
    assert rows == {("covers/x.jpg", "album", 1, "cover"), ("covers/x.jpg", "track", 1, "cover"),
                    ("hls/aa/l/", "track", 1, "stream"), ("peaks/aa/p.json", "track", 1, "peaks"),
                    ("uploads/aa/s.wav", "track", 1, "source"), ("renditions/aa/t.flac", "track", 1, "download")}
