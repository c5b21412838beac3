"""each comment keeps its text's fingerprint (contracts.screening.fingerprint), so a new comment's
duplicate and copy checks compare the author's earlier fingerprints instead of normalising every
earlier text again; rows written before have none and are fingerprinted when read

Revision ID: 0011
Revises: b17cpu3_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "b17cpu3_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comments", sa.Column("fingerprint", sa.String(64)))


def downgrade() -> None:
    op.drop_column("comments", "fingerprint")
