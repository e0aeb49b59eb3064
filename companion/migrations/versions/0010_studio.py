"""studio: comments on compositions anchored to a version, part and measure range (threaded, resolvable)

Revision ID: 0010_studio
Revises: 0009_analytics
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_studio"
down_revision = "0009_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "composition_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("composition", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("part", sa.String(length=64), nullable=True),
        sa.Column("measure_from", sa.Integer(), nullable=False),
        sa.Column("measure_to", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("fan", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["composition_comments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("composition_comments") as batch:
        batch.create_index("ix_composition_comments_composition", ["composition", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("composition_comments") as batch:
        batch.drop_index("ix_composition_comments_composition")
    op.drop_table("composition_comments")
