"""moderation outcomes on comments and initiatives, the unit's conclusion (R-3.7, R-3.10)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comments", sa.Column("rejection_grounds", JSONB))
    op.add_column("comments", sa.Column("rejection_note", sa.Text))
    op.add_column("consultations", sa.Column("outcome", JSONB))  # grounds or the unit's conclusion


def downgrade() -> None:
    op.drop_column("consultations", "outcome")
    op.drop_column("comments", "rejection_note")
    op.drop_column("comments", "rejection_grounds")
