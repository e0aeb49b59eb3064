"""licences: algorithm licences issued to fans (and revoked), and the band's saved price models

Revision ID: 0013_licences
Revises: 0011_live
"""
from alembic import op
import sqlalchemy as sa


revision = "0013_licences"
down_revision = "0012_credits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_licences",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("member", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=120), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=120), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=120), nullable=False),
        sa.Column("revoke_reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_ref"),
    )
    with op.batch_alter_table("rights_licences") as batch:
        batch.create_index("ix_rights_licences_owner", ["owner"])
    op.create_table(
        "commerce_pricing",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("commerce_pricing")
    op.drop_table("rights_licences")
