"""stored deadlines: moderation (R-3.10, 2 working days) and report (R-3.17, 15 calendar days)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consultations", sa.Column("moderation_due", sa.DateTime(timezone=True)))
    op.add_column("consultations", sa.Column("report_due", sa.DateTime(timezone=True)))
    op.add_column("consultations", sa.Column("report_published_at", sa.DateTime(timezone=True)))
    op.add_column("consultations", sa.Column("archived_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for col in ("archived_at", "report_published_at", "report_due", "moderation_due"):
        op.drop_column("consultations", col)
