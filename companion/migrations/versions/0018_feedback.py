"""feedback: fans' timed reactions and comments on tracks, mapped to composition measures, moderated

Revision ID: 0018_feedback
Revises: 0017_device
"""
from alembic import op
import sqlalchemy as sa


revision = "0018_feedback"
down_revision = "0017_device"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("listener_id", sa.Integer(), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Float(), nullable=False),
        sa.Column("emoji", sa.String(length=20), nullable=True),
        sa.Column("text", sa.String(length=280), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("composition", sa.String(length=100), nullable=True),
        sa.Column("version", sa.String(length=40), nullable=True),
        sa.Column("part", sa.String(length=64), nullable=True),
        sa.Column("measure", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("moderated_by", sa.String(length=120), nullable=True),
        sa.Column("moderated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["listener_id"], ["listeners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_track_feedback_track_state", "track_feedback", ["track_id", "state"])
    op.create_index("ix_track_feedback_listener_id", "track_feedback", ["listener_id"])
    op.create_index("ix_track_feedback_state", "track_feedback", ["state"])
    op.create_index("ix_track_feedback_composition", "track_feedback", ["composition"])


def downgrade() -> None:
    op.drop_index("ix_track_feedback_composition", table_name="track_feedback")
    op.drop_index("ix_track_feedback_state", table_name="track_feedback")
    op.drop_index("ix_track_feedback_listener_id", table_name="track_feedback")
    op.drop_index("ix_track_feedback_track_state", table_name="track_feedback")
    op.drop_table("track_feedback")
