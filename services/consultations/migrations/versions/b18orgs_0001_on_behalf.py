"""comments and answers given for an institution by a confirmed head of it (R-2.2)

Revision ID: b18orgs_0001
Revises: b18offline_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "b18orgs_0001"
down_revision = "b18offline_0001"
branch_labels = None
depends_on = None

TABLES = ("comments", "responses", "supports")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("organisation_id", sa.Uuid))
        op.add_column(table, sa.Column("organisation_name", sa.String(300)))
        op.add_column(table, sa.Column("organisation_kind", sa.String(30)))


def downgrade() -> None:
    for table in TABLES:
        for column in ("organisation_kind", "organisation_name", "organisation_id"):
            op.drop_column(table, column)
