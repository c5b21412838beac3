"""a case's author as signed: «Назва установи (від імені: ПІБ)» may pass 300 characters (R-2.2)

Revision ID: b18orgs_0001
Revises: b18offline_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "b18orgs_0001"
down_revision = "b18offline_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("cases", "author_name", type_=sa.Text, existing_type=sa.String(300))  # no table rewrite


def downgrade() -> None:
    op.alter_column("cases", "author_name", type_=sa.String(300), existing_type=sa.Text)
