"""broadcasts: scheduled live broadcasts of WordPress performance posts

Revision ID: 0015_broadcasts
Revises: 0014_rollups
"""
from alembic import op
import sqlalchemy as sa


revision = "0015_broadcasts"
down_revision = "0014_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wp_post_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("wp_linked", sa.Boolean(), nullable=False),
        sa.Column("wp_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_live_broadcasts_wp_post_id", "live_broadcasts", ["wp_post_id"])
    op.create_index("ix_live_broadcasts_starts_at", "live_broadcasts", ["starts_at"])
    op.create_index("ix_live_broadcasts_state", "live_broadcasts", ["state"])


def downgrade() -> None:
    op.drop_index("ix_live_broadcasts_state", table_name="live_broadcasts")
    op.drop_index("ix_live_broadcasts_starts_at", table_name="live_broadcasts")
    op.drop_index("ix_live_broadcasts_wp_post_id", table_name="live_broadcasts")
    op.drop_table("live_broadcasts")
