"""rights: watermarked deliveries, the ownership log (entries, signed heads), edition series, editions, transfers

Revision ID: 0008_rights
Revises: 0007_wp
"""
from alembic import op
import sqlalchemy as sa


revision = "0008_rights"
down_revision = "0007_wp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("listener_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("order_ref", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["listener_id"], ["listeners.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mark"),
        sa.UniqueConstraint("listener_id", "track_id", "format", name="uq_rights_delivery_buyer_format"),
    )
    with op.batch_alter_table("rights_deliveries") as batch:
        batch.create_index("ix_rights_deliveries_listener_id", ["listener_id"])
        batch.create_index("ix_rights_deliveries_track_id", ["track_id"])
    op.create_table(
        "rights_log_entries",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
    )
    op.create_table(
        "rights_log_heads",
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "rights_edition_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("work"),
    )
    op.create_table(
        "rights_editions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("order_ref", sa.String(length=120), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["rights_edition_series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_ref"),
        sa.UniqueConstraint("series_id", "number", name="uq_rights_edition_number"),
    )
    with op.batch_alter_table("rights_editions") as batch:
        batch.create_index("ix_rights_editions_series_id", ["series_id"])
        batch.create_index("ix_rights_editions_owner", ["owner"])
    op.create_table(
        "rights_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("from_owner", sa.String(length=120), nullable=False),
        sa.Column("to_owner", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("offered_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["edition_id"], ["rights_editions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rights_transfers") as batch:
        batch.create_index("ix_rights_transfers_edition_id", ["edition_id"])


def downgrade() -> None:
    op.drop_table("rights_transfers")
    op.drop_table("rights_editions")
    op.drop_table("rights_edition_series")
    op.drop_table("rights_log_heads")
    op.drop_table("rights_log_entries")
    op.drop_table("rights_deliveries")
