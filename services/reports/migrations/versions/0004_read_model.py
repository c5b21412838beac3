"""the read model (comments and respondents from consultations' events) and the protocol queue

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_comments",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("comment_id", sa.Uuid, primary_key=True),
        sa.Column("author_id", sa.Uuid),
        sa.Column("author_name", sa.String(300)),
        sa.Column("body", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("alternative_id", sa.Uuid),
        sa.Column("paragraph_id", sa.Uuid),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rank", sa.SmallInteger, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("grounds", JSONB),
    )
    op.create_index("ix_feed_comments_author", "feed_comments", ["author_id"])
    op.create_table(
        "feed_respondents",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("person_id", sa.Uuid, primary_key=True),
    )
    op.create_index("ix_feed_respondents_person", "feed_respondents", ["person_id"])
    op.create_table(
        "protocol_requests",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("protocol_requests")
    op.drop_table("feed_respondents")
    op.drop_table("feed_comments")
