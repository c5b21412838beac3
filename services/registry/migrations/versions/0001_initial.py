"""initial: the outbox, handled events and the persons table

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
        "persons",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False, unique=True),  # identity-provider subject
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("birth_date", sa.Date),
        sa.Column("community_member", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("persons")
    op.drop_table("processed_events")
    op.drop_table("outbox")
