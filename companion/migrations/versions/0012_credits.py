"""credits: a track's composition version, ISRC and ISWC; a composition's ISWC

Revision ID: 0012_credits
Revises: 0011_live
"""
from alembic import op
import sqlalchemy as sa


revision = "0012_credits"
down_revision = "0011_live"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("composition_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("composition_commit", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("isrc", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("iswc", sa.String(length=15), nullable=True))
        batch.create_index("ix_tracks_composition_id", ["composition_id"])
        batch.create_unique_constraint("uq_tracks_isrc", ["isrc"])
    op.create_table(
        "composition_codes",
        sa.Column("composition_id", sa.String(length=64), nullable=False),
        sa.Column("iswc", sa.String(length=15), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("composition_id"),
        sa.UniqueConstraint("iswc", name="uq_composition_codes_iswc"),
    )


def downgrade() -> None:
    op.drop_table("composition_codes")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_constraint("uq_tracks_isrc", type_="unique")
        batch.drop_index("ix_tracks_composition_id")
        batch.drop_column("iswc")
        batch.drop_column("isrc")
        batch.drop_column("composition_commit")
        batch.drop_column("composition_id")
