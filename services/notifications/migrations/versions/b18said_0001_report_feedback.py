""""you said, we did": what each contributor was told about their comments, the messages, and an
e-mail delivery per message (R-3.16, R-3.18)

Revision ID: b18said_0001
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "b18said_0001"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_messages",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.Uuid, nullable=False),
        sa.Column("consultation_id", sa.Uuid, nullable=False),
        sa.Column("report_version", sa.Integer, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("report_url", sa.String(1000), nullable=False),
        sa.Column("decision_title", sa.String(1000)),
        sa.Column("decision_url", sa.String(1000)),
        sa.Column("first", sa.Boolean, nullable=False),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("person_id", "consultation_id", "report_version"),
    )
    op.create_table(
        "feedback_told",
        sa.Column("person_id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("comment_id", sa.Uuid, primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("excerpt", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("justification", sa.Text),
        sa.Column("report_version", sa.Integer, nullable=False),
    )
    op.add_column("deliveries", sa.Column("feedback_id", sa.BigInteger))
    op.create_index("uq_deliveries_feedback", "deliveries", ["feedback_id"], unique=True,
                    postgresql_where=sa.text("kind = 'report_feedback'"))


def downgrade() -> None:
    op.drop_index("uq_deliveries_feedback", "deliveries")
    op.execute("DELETE FROM deliveries WHERE kind = 'report_feedback'")
    op.drop_column("deliveries", "feedback_id")
    op.drop_table("feedback_told")
    op.drop_table("feedback_messages")
