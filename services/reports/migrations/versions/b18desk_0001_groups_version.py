"""a snapshot's groups version: a new number from a sequence whenever a write changes what its groups
count (members, their considerations, the snapshot itself), so the desk's counts of a group can be
kept between requests and known to be current from the snapshot row alone (R-3.16)

Revision ID: b18desk_0001
Revises: grouptexts_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "b18desk_0001"
down_revision = "grouptexts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE report_groups_version")
    op.add_column("snapshots", sa.Column("groups_version", sa.BigInteger, nullable=False,
                                         server_default=sa.text("nextval('report_groups_version')")))


def downgrade() -> None:
    op.drop_column("snapshots", "groups_version")
    op.execute("DROP SEQUENCE report_groups_version")
