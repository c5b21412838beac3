"""groups of near-identical published comments: the grouper's queue, each comment's group and MinHash
signature, and each group's representative (R-3.16)

Revision ID: b18_groups_0001
Revises: b18offline_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "b18_groups_0001"
down_revision = "b18offline_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grouping_queue",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("comment_id", sa.Uuid, primary_key=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "comment_grouping",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("comment_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("similarity", sa.Float),
        sa.Column("split", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("grouped_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_comment_grouping_group", "comment_grouping", ["consultation_id", "group_id"])
    op.create_index("ix_comment_grouping_seq", "comment_grouping", ["consultation_id", "seq"])
    op.create_table(
        "comment_groups",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, primary_key=True),
        sa.Column("representative_id", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_snapshot_comments_unpublished", "snapshot_comments", ["consultation_id"],
                    postgresql_where=sa.text("status <> 'published'"))
    # comments published before the grouper existed are grouped too
    op.execute("INSERT INTO grouping_queue (consultation_id, comment_id) "
               "SELECT consultation_id, comment_id FROM feed_comments WHERE status = 'published'")


def downgrade() -> None:
    op.drop_index("ix_snapshot_comments_unpublished", "snapshot_comments")
    op.drop_table("comment_groups")
    op.drop_table("comment_grouping")
    op.drop_table("grouping_queue")
