"""daily digests: one delivery per person × day and the consultations it lists (R-1.10, R-3.4);
an index for giving back rows a dead sender left in `sending`

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("deliveries", "consultation_id", nullable=True)
    op.add_column("deliveries", sa.Column("day", sa.Date))
    op.create_index("uq_deliveries_digest", "deliveries", ["person_id", "day"], unique=True,
                    postgresql_where=sa.text("kind = 'daily_digest'"))
    op.create_table(
        "digest_items",
        sa.Column("person_id", sa.Uuid, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
    )
    op.create_index("ix_digest_items_consultation", "digest_items", ["consultation_id"])
    op.create_index("ix_deliveries_sending", "deliveries", ["claimed_at"], postgresql_where=sa.text("status = 'sending'"))


def downgrade() -> None:
    op.drop_index("ix_deliveries_sending", "deliveries")
    op.drop_table("digest_items")
    op.drop_index("uq_deliveries_digest", "deliveries")
    op.drop_column("deliveries", "day")
    op.execute("DELETE FROM deliveries WHERE consultation_id IS NULL")
    op.alter_column("deliveries", "consultation_id", nullable=False)
