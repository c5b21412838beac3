"""each person's e-mail mode: every start-day e-mail at once, or one daily digest (R-1.10, R-3.4)

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
    op.add_column("persons", sa.Column("email_mode", sa.String(20), nullable=False, server_default="immediate"))


def downgrade() -> None:
    op.drop_column("persons", "email_mode")
