"""an institution's ЄДРПОУ code (one institution per code); businesses among the kinds

Revision ID: b18orgs_0001
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "b18orgs_0001"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organisations", sa.Column("edrpou", sa.String(8)))
    op.create_index("ux_organisations_edrpou", "organisations", ["edrpou"], unique=True,
                    postgresql_where=sa.text("edrpou IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ux_organisations_edrpou", table_name="organisations")
    op.drop_column("organisations", "edrpou")
