"""abstreams: a premium track's forensically marked A/B variants of its HLS ladder (tracks.ab_hls_key)

Revision ID: 0016_abstreams
Revises: 0015_broadcasts
"""
from alembic import op
import sqlalchemy as sa


revision = "0016_abstreams"
down_revision = "0015_broadcasts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("ab_hls_key", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("ab_hls_key")
