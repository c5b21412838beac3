"""rate counters: the gateway's write limits, counted where the writes are made (a comment in the
transaction that writes it), shared by every gateway and instance (OWASP API4)

Revision ID: b17cpu3_0001
Revises: b18orgs_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "b17cpu3_0001"
down_revision = "b18orgs_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_counters")
