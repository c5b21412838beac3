"""offline and assisted participation: every comment of the read model and the snapshot carries how
it was received (web, paper, email, hearing, service_centre), for the report and its statistics

Revision ID: b18offline_0001
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "b18offline_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feed_comments", sa.Column("channel", sa.String(20)))  # NULL until comment_submitted arrives
    op.add_column("snapshot_comments", sa.Column("channel", sa.String(20), nullable=False, server_default="web"))


def downgrade() -> None:
    op.drop_column("snapshot_comments", "channel")
    op.drop_column("feed_comments", "channel")
