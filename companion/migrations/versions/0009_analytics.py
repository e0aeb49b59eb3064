"""analytics: playback events keyed by (received_at, event_uid) for idempotent stream ingest, partitioned
by day on PostgreSQL; A/B tests of musical variations

Revision ID: 0009_analytics
Revises: 0008_rights
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_analytics"
down_revision = "0008_rights"
branch_labels = None
depends_on = None

_OLD_INDEXES = ("ix_playback_events_session_id", "ix_playback_events_received_at", "ix_playback_events_track_event")


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    if bind.dialect.name != "mysql":  # index names are per table there (and one backs the foreign key)
        for name in _OLD_INDEXES:
            op.drop_index(name, table_name="playback_events")
    op.rename_table("playback_events", "playback_events_0002")
    kw = {"postgresql_partition_by": "RANGE (received_at)"} if pg else {}
    op.create_table(
        "playback_events",
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("event_uid", sa.String(length=100), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("listener", sa.String(length=32), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("page_host", sa.String(length=255), nullable=True),
        sa.Column("client_time", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("received_at", "event_uid"),
        **kw,
    )
    op.create_index("ix_playback_events_session_id", "playback_events", ["session_id"])
    op.create_index("ix_playback_events_track_event", "playback_events", ["track_id", "event"])
    op.create_index("ix_playback_events_track_received", "playback_events", ["track_id", "received_at"])
    if pg:
        # Rows outside every day partition (old ones, or a day the maintenance has not made yet) land
        # here; partitions.ensure() moves them into their day when it makes that day's partition.
        op.execute("CREATE TABLE playback_events_default PARTITION OF playback_events DEFAULT")
    uid = "'legacy.' || CAST(id AS VARCHAR(20))" if bind.dialect.name != "mysql" else "CONCAT('legacy.', id)"
    op.execute(f"INSERT INTO playback_events (received_at, event_uid, session_id, listener, track_id, event, position, "
               f"data, page_host, client_time) SELECT received_at, {uid}, session_id, NULL, track_id, event, position, "
               f"data, page_host, client_time FROM playback_events_0002")
    op.drop_table("playback_events_0002")
    if pg:
        from companion.analytics.partitions import ensure_partitions

        ensure_partitions(bind)

    op.create_table(
        "ab_tests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("winner", sa.String(length=32), nullable=True),
        sa.Column("stop_reason", sa.String(length=200), nullable=True),
        sa.Column("max_exposures", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ab_tests_track_id", "ab_tests", ["track_id"])
    op.create_table(
        "ab_variations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("test_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("media_track_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["test_id"], ["ab_tests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["media_track_id"], ["tracks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("test_id", "key", name="uq_ab_variations_test_key"),
    )
    op.create_index("ix_ab_variations_test_id", "ab_variations", ["test_id"])


def downgrade() -> None:
    op.drop_index("ix_ab_variations_test_id", table_name="ab_variations")
    op.drop_table("ab_variations")
    op.drop_index("ix_ab_tests_track_id", table_name="ab_tests")
    op.drop_table("ab_tests")
    bind = op.get_bind()
    op.rename_table("playback_events", "playback_events_0008")
    if bind.dialect.name != "mysql":
        for name in ("ix_playback_events_session_id", "ix_playback_events_track_event",
                     "ix_playback_events_track_received"):
            op.drop_index(name, table_name="playback_events_0008")
    op.create_table(
        "playback_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("page_host", sa.String(length=255), nullable=True),
        sa.Column("client_time", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO playback_events (session_id, track_id, event, position, data, page_host, client_time, "
               "received_at) SELECT session_id, track_id, event, position, data, page_host, client_time, received_at "
               "FROM playback_events_0008 ORDER BY received_at, event_uid")
    op.drop_table("playback_events_0008")  # on PostgreSQL its partitions go with it
    for name, cols in zip(_OLD_INDEXES, (["session_id"], ["received_at"], ["track_id", "event"])):
        op.create_index(name, "playback_events", cols)
