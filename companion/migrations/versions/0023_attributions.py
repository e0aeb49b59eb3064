"""attributions: tips and purchases attributed to a play (one row per paid WooCommerce order line whose
``sh_play`` attribution held; companion/analytics/attribution.py)

Revision ID: 0023_attributions
Revises: 0022_live_more
"""
from alembic import op
import sqlalchemy as sa


revision = "0023_attributions"
down_revision = "0022_live_more"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_attributions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("wc_order_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("album_id", sa.Integer(), sa.ForeignKey("albums.id", ondelete="SET NULL"), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(40), nullable=True),
        sa.UniqueConstraint("wc_order_id", "line_id", name="uq_analytics_attributions_line"),
    )
    op.create_index("ix_analytics_attributions_wc_order_id", "analytics_attributions", ["wc_order_id"])
    op.create_index("ix_analytics_attributions_session_id", "analytics_attributions", ["session_id"])
    op.create_index("ix_analytics_attributions_track_day", "analytics_attributions", ["track_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_analytics_attributions_track_day", table_name="analytics_attributions")
    op.drop_index("ix_analytics_attributions_session_id", table_name="analytics_attributions")
    op.drop_index("ix_analytics_attributions_wc_order_id", table_name="analytics_attributions")
    op.drop_table("analytics_attributions")
