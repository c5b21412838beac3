"""two archive bundles: the public one (public protocol) and the full one for the insiders

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
    op.add_column("snapshots", sa.Column("full_bundle_sha256", sa.String(64)))
    op.add_column("snapshots", sa.Column("full_manifest", sa.Text))


def downgrade() -> None:
    op.drop_column("snapshots", "full_manifest")
    op.drop_column("snapshots", "full_bundle_sha256")
