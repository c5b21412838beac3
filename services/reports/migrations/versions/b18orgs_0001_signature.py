"""a comment's author as signed: «Назва установи (від імені: ПІБ)» may pass 300 characters (R-2.2)

Revision ID: b18orgs_0001
Revises: b18_groups_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "b18orgs_0001"
down_revision = "b18_groups_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("feed_comments", "snapshot_comments"):  # varchar → text: no table rewrite
        op.alter_column(table, "author_name", type_=sa.Text, existing_type=sa.String(300))


def downgrade() -> None:
    for table in ("feed_comments", "snapshot_comments"):
        op.alter_column(table, "author_name", type_=sa.String(300), existing_type=sa.Text)
