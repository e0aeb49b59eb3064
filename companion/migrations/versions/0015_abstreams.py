"""abstreams: a premium track's forensically marked A/B variants of its HLS ladder (tracks.ab_hls_key)

Revision ID: 0015_abstreams
Revises: 0014_rollups
"""
from alembic import op
import sqlalchemy as sa


revision = "0015_abstreams"
down_revision = "0014_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("ab_hls_key", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("ab_hls_key")
