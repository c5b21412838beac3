"""consultation content, R-3.13 notice, lifecycle dates, alternatives, status history, comments

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add = op.add_column
    add("consultations", sa.Column("question", sa.Text, nullable=False, server_default=""))
    add("consultations", sa.Column("unit_id", sa.Uuid))
    add("consultations", sa.Column("unit_name", sa.String(300)))
    add("consultations", sa.Column("owner_id", sa.Uuid))
    add("consultations", sa.Column("initiator_id", sa.Uuid))
    add("consultations", sa.Column("initiator_name", sa.String(300)))
    add("consultations", sa.Column("notice", JSONB, nullable=False, server_default=sa.text("'{}'")))
    add("consultations", sa.Column("starts_on", sa.Date))
    add("consultations", sa.Column("ends_on", sa.Date))
    add("consultations", sa.Column("published_at", sa.DateTime(timezone=True)))
    add("consultations", sa.Column("opened_at", sa.DateTime(timezone=True)))
    add("consultations", sa.Column("closed_at", sa.DateTime(timezone=True)))
    op.create_index("ix_consultations_due_open", "consultations", ["starts_on"],
                    postgresql_where=sa.text("status = 'scheduled'"))
    op.create_index("ix_consultations_due_close", "consultations", ["ends_on"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "alternatives",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "status_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("from_status", sa.String(30)),
        sa.Column("to_status", sa.String(30), nullable=False),
        sa.Column("actor_id", sa.Uuid),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("author_id", sa.Uuid, nullable=False),
        sa.Column("author_name", sa.String(300), nullable=False),
        sa.Column("alternative_id", sa.Uuid, sa.ForeignKey("alternatives.id")),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_comments_public", "comments", ["consultation_id", "created_at"],
                    postgresql_where=sa.text("status = 'published'"))
    op.create_index("ix_comments_author", "comments", ["author_id"])


def downgrade() -> None:
    for table in ("comments", "status_history", "alternatives"):
        op.drop_table(table)
    op.drop_index("ix_consultations_due_close", "consultations")
    op.drop_index("ix_consultations_due_open", "consultations")
    for col in ("closed_at", "opened_at", "published_at", "ends_on", "starts_on", "notice",
                "initiator_name", "initiator_id", "owner_id", "unit_name", "unit_id", "question"):
        op.drop_column("consultations", col)
