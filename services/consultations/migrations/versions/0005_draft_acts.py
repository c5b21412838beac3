"""draft acts: versions of the text, paragraphs with stable ids, comments on a paragraph (R-1.9)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_versions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("consultation_id", "number"),
    )
    op.create_table(
        "paragraphs",
        sa.Column("version_id", sa.Uuid, sa.ForeignKey("draft_versions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.add_column("comments", sa.Column("paragraph_id", sa.Uuid))
    op.create_index("ix_comments_paragraph", "comments", ["consultation_id", "paragraph_id"],
                    postgresql_where=sa.text("paragraph_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_comments_paragraph", "comments")
    op.drop_column("comments", "paragraph_id")
    op.drop_table("paragraphs")
    op.drop_table("draft_versions")
