"""offline and assisted participation: a screening and a case record how the comment was received and, for a
submission received offline, the official who registered it (the audit shows who entered what, when)

Revision ID: b18offline_0001
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "b18offline_0001"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("channel", sa.String(20), nullable=False, server_default="web"))
    op.add_column("screenings", sa.Column("channel", sa.String(20), nullable=False, server_default="web"))
    op.add_column("screenings", sa.Column("entered_by", sa.Uuid))
    op.add_column("screenings", sa.Column("received_on", sa.Date))
    op.add_column("screenings", sa.Column("entered_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("entered_at", "received_on", "entered_by", "channel"):
        op.drop_column("screenings", column)
    op.drop_column("cases", "channel")
