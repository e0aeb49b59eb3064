"""live: live sessions (the robots playing, the broadcast, the recording), the audience's votes, chat and marks

Revision ID: 0011_live
Revises: 0010_studio
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_live"
down_revision = "0010_studio"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("robots", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("bar", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("bars", sa.JSON(), nullable=False),
        sa.Column("applied", sa.JSON(), nullable=False),
        sa.Column("t0", sa.Float(), nullable=True),
        sa.Column("webrtc", sa.JSON(), nullable=False),
        sa.Column("recording", sa.JSON(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("live_sessions") as batch:
        batch.create_index("ix_live_sessions_status", ["status"])
    op.create_table(
        "live_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.Column("parameter", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["live_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "round", "voter", name="uq_live_vote_round"),
    )
    with op.batch_alter_table("live_votes") as batch:
        batch.create_index("ix_live_votes_session_id", ["session_id"])
    op.create_table(
        "live_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("media_time", sa.Float(), nullable=False),
        sa.Column("bar", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["live_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("live_notes") as batch:
        batch.create_index("ix_live_notes_session_id", ["session_id"])


def downgrade() -> None:
    op.drop_table("live_notes")
    op.drop_table("live_votes")
    op.drop_table("live_sessions")
