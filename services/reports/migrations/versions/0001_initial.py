"""initial: the outbox, handled events and the reports table

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from chassis.migrate import create_chassis_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_chassis_tables_v1(op)
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # draft | published
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("consultation_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_table("processed_events")
    op.drop_table("outbox")
