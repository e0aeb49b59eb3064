"""device: device authorization grants (RFC 8628) for apps signing fans in through WordPress

Revision ID: 0017_device
Revises: 0016_abstreams
"""
from alembic import op
import sqlalchemy as sa


revision = "0017_device"
down_revision = "0016_abstreams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("wp_user_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.Column("refresh_expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_code_hash"),
        sa.UniqueConstraint("refresh_hash"),
    )
    op.create_index("ix_device_authorizations_user_code", "device_authorizations", ["user_code"])


def downgrade() -> None:
    op.drop_index("ix_device_authorizations_user_code", table_name="device_authorizations")
    op.drop_table("device_authorizations")
