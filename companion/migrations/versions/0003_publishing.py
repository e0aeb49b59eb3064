"""publishing to WordPress: one row per published track or album

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wp_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("wp_post_id", sa.Integer(), nullable=True),
        sa.Column("wp_status", sa.String(length=20), nullable=True),
        sa.Column("wp_link", sa.String(length=500), nullable=True),
        sa.Column("cover_media_id", sa.Integer(), nullable=True),
        sa.Column("cover_sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "item_id", name="uq_wp_publication_item"),
    )
    with op.batch_alter_table("wp_publications") as batch:
        batch.create_index("ix_wp_publications_item_id", ["item_id"])


def downgrade() -> None:
    op.drop_table("wp_publications")
