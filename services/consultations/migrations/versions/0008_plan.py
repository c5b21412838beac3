"""the annual indicative plan of consultations and proposals to it (R-3.3)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_entries",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("year", sa.Integer, nullable=False, index=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("unit_name", sa.String(300)),
        sa.Column("planned_quarter", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="SET NULL")),
        sa.Column("proposed_by", sa.Uuid),
        sa.Column("proposer_name", sa.String(300)),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("plan_entries")
