"""each group's distinct texts (after normalising) with their member counts, kept as comments are
grouped, so a group's representative is an index lookup, not a scan of its members (R-3.16)

Revision ID: grouptexts_0001
Revises: b18orgs_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "grouptexts_0001"
down_revision = "b18orgs_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_texts",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, primary_key=True),
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("first_comment_id", sa.Uuid, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
    )
    op.create_index("ix_group_texts_top", "group_texts",
                    ["consultation_id", "group_id", sa.text("members DESC"), "first_seq"])
    op.execute("""
        INSERT INTO group_texts (consultation_id, group_id, text_hash, first_comment_id, first_seq, members)
        SELECT DISTINCT ON (consultation_id, group_id, text_hash) consultation_id, group_id, text_hash,
               comment_id, seq, count(*) OVER (PARTITION BY consultation_id, group_id, text_hash)
        FROM comment_grouping WHERE NOT split
        ORDER BY consultation_id, group_id, text_hash, seq""")


def downgrade() -> None:
    op.drop_table("group_texts")
