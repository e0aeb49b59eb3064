"""rollups: per track and day the listening figures, the day's listeners and the per-second heat map
(what the dashboard reads instead of scanning playback events)

Revision ID: 0014_rollups
Revises: 0011_live
"""
from alembic import op
import sqlalchemy as sa


revision = "0014_rollups"
down_revision = "0013_licences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "analytics_track_days",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("plays_30s", sa.Integer(), nullable=False),
        sa.Column("listeners", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.Column("skips", sa.Integer(), nullable=False),
        sa.Column("played_sessions", sa.Integer(), nullable=False),
        sa.Column("listened_s", sa.Double(), nullable=False),
        sa.Column("tips", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.JSON(), nullable=False),
        sa.Column("controls", sa.JSON(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("track_id", "day"),
    )
    op.create_index("ix_analytics_track_days_day", "analytics_track_days", ["day"])
    op.create_table(
        "analytics_track_day_listeners",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("listener", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("track_id", "day", "listener"),
    )
    op.create_index("ix_analytics_track_day_listeners_day", "analytics_track_day_listeners", ["day"])
    op.create_table(
        "analytics_track_seconds",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("second", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts", sa.Integer(), nullable=False),
        sa.Column("seeks", sa.Integer(), nullable=False),
        sa.Column("replays", sa.Integer(), nullable=False),
        sa.Column("dropoffs", sa.Integer(), nullable=False),
        sa.Column("reactions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("track_id", "day", "second"),
    )
    op.create_index("ix_analytics_track_seconds_day", "analytics_track_seconds", ["day"])


def downgrade() -> None:
    op.drop_index("ix_analytics_track_seconds_day", table_name="analytics_track_seconds")
    op.drop_table("analytics_track_seconds")
    op.drop_index("ix_analytics_track_day_listeners_day", table_name="analytics_track_day_listeners")
    op.drop_table("analytics_track_day_listeners")
    op.drop_index("ix_analytics_track_days_day", table_name="analytics_track_days")
    op.drop_table("analytics_track_days")
    op.drop_table("analytics_rollup_days")
