"""shared composition refs: a composition's branches and tags as rows moved by compare-and-swap
(SCRIPTHAMMER_COMPOSITION_STORE=shared; its git objects are in the object store)

Revision ID: 0020_shared_refs
Revises: 0019_premium_live
"""
from alembic import op
import sqlalchemy as sa


revision = "0020_shared_refs"
down_revision = "0019_premium_live"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "composition_refs",
        sa.Column("composition", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("target", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("composition_refs")
