"""premium live: a scheduled broadcast may be premium (its listeners need a ticket, a subscription or a grant);
the released recording a broadcast's WordPress post was pointed at

Revision ID: 0019_premium_live
Revises: 0018_feedback
"""
from alembic import op
import sqlalchemy as sa


revision = "0019_premium_live"
down_revision = "0018_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("live_broadcasts", sa.Column("premium", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("live_broadcasts", sa.Column("recording_track_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("live_broadcasts", "recording_track_id")
    op.drop_column("live_broadcasts", "premium")
