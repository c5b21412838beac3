"""initial: the outbox, handled events and the deliveries table

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
        "deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.Uuid, nullable=False),
        sa.Column("consultation_id", sa.Uuid, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # pending | sending | sent | failed
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("person_id", "consultation_id", "channel", "kind"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("processed_events")
    op.drop_table("outbox")
