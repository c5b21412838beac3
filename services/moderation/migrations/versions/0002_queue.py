"""screening results, the moderators' queue with due times, decisions (audit), residents' reports

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
    add("cases", sa.Column("consultation_id", sa.Uuid))
    add("cases", sa.Column("author_id", sa.Uuid))
    add("cases", sa.Column("author_name", sa.String(300)))
    add("cases", sa.Column("text", sa.Text))
    add("cases", sa.Column("matches", JSONB, nullable=False, server_default=sa.text("'[]'")))
    add("cases", sa.Column("source", sa.String(20), nullable=False, server_default="screening"))
    add("cases", sa.Column("reports", sa.Integer, nullable=False, server_default="0"))
    add("cases", sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
    add("cases", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
    add("cases", sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
    add("cases", sa.Column("decision", sa.String(20)))
    add("cases", sa.Column("grounds", JSONB))
    add("cases", sa.Column("note", sa.Text))
    add("cases", sa.Column("decided_by", sa.Uuid))
    add("cases", sa.Column("decided_at", sa.DateTime(timezone=True)))
    op.create_index("ix_cases_queue", "cases", ["priority", "submitted_at"], postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "screenings",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Uuid, nullable=False),
        sa.Column("consultation_id", sa.Uuid, index=True),
        sa.Column("author_id", sa.Uuid),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("matches", JSONB, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_screenings_author", "screenings", ["author_id", "text_hash"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Uuid, nullable=False, index=True),
        sa.Column("consultation_id", sa.Uuid, index=True),
        sa.Column("moderator_id", sa.Uuid, nullable=False, index=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("grounds", JSONB, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "flags",
        sa.Column("comment_id", sa.Uuid, nullable=False),
        sa.Column("reporter_id", sa.Uuid, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("comment_id", "reporter_id"),
    )


def downgrade() -> None:
    for table in ("flags", "decisions", "screenings"):
        op.drop_table(table)
    op.drop_index("ix_cases_queue", "cases")
    for col in ("decided_at", "decided_by", "note", "grounds", "decision", "due_at", "submitted_at", "priority",
                "reports", "source", "matches", "text", "author_name", "author_id", "consultation_id"):
        op.drop_column("cases", col)
