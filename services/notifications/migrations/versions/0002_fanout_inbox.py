"""fan-out of e-mails (R-1.10, R-3.4), retries, the cabinet inbox (R-3.11), one-time unsubscribe

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add = op.add_column
    add("deliveries", sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    add("deliveries", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
    add("deliveries", sa.Column("claimed_at", sa.DateTime(timezone=True)))
    add("deliveries", sa.Column("sent_at", sa.DateTime(timezone=True)))
    add("deliveries", sa.Column("last_error", sa.Text))
    op.create_index("ix_deliveries_due", "deliveries", ["next_attempt_at"], postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "fanouts",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("question", sa.Text, nullable=False, server_default=""),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("form", sa.String(20), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.Uuid, nullable=False, index=True),
        sa.Column("source_event_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.String(1000)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("person_id", "source_event_id"),
    )
    op.create_table(
        "used_unsubscribe_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    for table in ("used_unsubscribe_tokens", "inbox", "fanouts"):
        op.drop_table(table)
    op.drop_index("ix_deliveries_due", "deliveries")
    for col in ("last_error", "sent_at", "claimed_at", "next_attempt_at", "attempts"):
        op.drop_column("deliveries", col)
