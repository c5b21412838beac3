"""survey questions and options, responses, support of alternatives (R-1.9, R-3.12)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
    )
    op.create_table(
        "options",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("question_id", sa.Uuid, sa.ForeignKey("questions.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "responses",
        sa.Column("question_id", sa.Uuid, sa.ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, nullable=False, index=True),
        sa.Column("option_ids", ARRAY(sa.Uuid), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("text_answer", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "supports",
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("person_id", sa.Uuid, primary_key=True),
        sa.Column("alternative_id", sa.Uuid, sa.ForeignKey("alternatives.id", ondelete="CASCADE"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    for table in ("supports", "responses", "options", "questions"):
        op.drop_table(table)
