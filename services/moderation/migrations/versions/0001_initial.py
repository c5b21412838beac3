"""initial: the outbox, handled events and the cases table

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
        "cases",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),  # comment | initiative
        sa.Column("subject_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("kind", "subject_id"),
    )


def downgrade() -> None:
    op.drop_table("cases")
    op.drop_table("processed_events")
    op.drop_table("outbox")
