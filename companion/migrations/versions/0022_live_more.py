"""live more: a broadcast row of its own for a live session started by hand (its premium flag, the
performance post the companion makes for it)

Revision ID: 0022_live_more
Revises: 0021_push
"""
from alembic import op
import sqlalchemy as sa


revision = "0022_live_more"
down_revision = "0021_push"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("live_broadcasts", sa.Column("by_hand", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("live_broadcasts", sa.Column("wants_post", sa.Boolean(), nullable=False,
                                               server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("live_broadcasts", "wants_post")
    op.drop_column("live_broadcasts", "by_hand")
