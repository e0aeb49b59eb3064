"""access: the catalog's object index (which key belongs to which item, in which role) and buy URLs

The index is filled from the existing tracks and albums here; from then on the database session
keeps it (companion/catalog/objects.py).

Revision ID: 0005_access
Revises: 0004
"""
import json
import posixpath

from alembic import op
import sqlalchemy as sa


revision = "0005_access"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("item_type", sa.String(length=10), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_objects") as batch:
        batch.create_index("ix_catalog_objects_key", ["key"])
        batch.create_index("ix_catalog_objects_item", ["item_type", "item_id"])
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("buy_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("albums") as batch:
        batch.add_column(sa.Column("buy_url", sa.String(length=500), nullable=True))
    _fill_index(op.get_bind())


def _fill_index(conn) -> None:
    """The index of what already exists (same rules as companion/catalog/objects.py, as of this revision)."""
    albums = {r.id: r for r in conn.execute(sa.text("SELECT id, cover_key FROM albums"))}
    rows = []
    for a in albums.values():
        if a.cover_key:
            rows.append((a.cover_key, "album", a.id, "cover"))
    tracks = conn.execute(sa.text("SELECT id, album_id, hls_key, peaks, cover_key, source_key, manifest_key "
                                  "FROM tracks")).fetchall()
    for t in tracks:
        entries = set()
        renditions = sa.table("renditions", sa.column("key"), sa.column("kind"), sa.column("track_id"))
        query = sa.select(renditions.c.key, renditions.c.kind).where(renditions.c.track_id == t.id)
        for r in conn.execute(query):  # (sa.select quotes "key", a reserved word in MySQL)
            entries.add((r.key, r.kind if r.kind in ("master", "download", "preview") else "download"))
        if t.hls_key:
            entries.add((posixpath.dirname(t.hls_key) + "/", "stream"))
        peaks = t.peaks if isinstance(t.peaks, list) else json.loads(t.peaks or "[]")
        entries |= {(p["key"], "peaks") for p in peaks if p.get("key")}
        album = albums.get(t.album_id)
        cover = t.cover_key or (album.cover_key if album is not None else None)
        if cover:
            entries.add((cover, "cover"))
        if t.source_key:
            entries.add((t.source_key, "source"))
        if t.manifest_key:
            entries.add((t.manifest_key, "manifest"))
        rows += [(k, "track", t.id, role) for k, role in sorted(entries)]
    if rows:
        table = sa.table("catalog_objects", sa.column("key"), sa.column("item_type"), sa.column("item_id"),
                         sa.column("role"))
        op.bulk_insert(table, [dict(zip(("key", "item_type", "item_id", "role"), r)) for r in rows])


def downgrade() -> None:
    with op.batch_alter_table("albums") as batch:
        batch.drop_column("buy_url")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("buy_url")
    op.drop_table("catalog_objects")
