"""push: fans' Web Push subscriptions (companion/notify)

Revision ID: 0021_push
Revises: 0020_shared_refs
"""
from alembic import op
import sqlalchemy as sa


revision = "0021_push"
down_revision = "0020_shared_refs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("listener_id", sa.Integer(), sa.ForeignKey("listeners.id", ondelete="CASCADE"), nullable=False),
        sa.Column("endpoint_hash", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(1000), nullable=False),
        sa.Column("p256dh", sa.String(120), nullable=False),
        sa.Column("auth", sa.String(40), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=False, server_default=""),
        sa.UniqueConstraint("endpoint_hash", name="uq_push_subscriptions_endpoint_hash"),
    )
    op.create_index("ix_push_subscriptions_listener_id", "push_subscriptions", ["listener_id"])


def downgrade() -> None:
    op.drop_index("ix_push_subscriptions_listener_id", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
