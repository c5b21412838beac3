"""a claim token per delivery, so a sender sends only what it still owns

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("claim_token", sa.Uuid))


def downgrade() -> None:
    op.drop_column("deliveries", "claim_token")
