"""initial: the outbox, handled events and the consultations table

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
        "consultations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("form", sa.String(20), nullable=False),  # proposal | survey | draft_act
        sa.Column("category", sa.Integer, nullable=False),  # 1..22
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("consultations")
    op.drop_table("processed_events")
    op.drop_table("outbox")
