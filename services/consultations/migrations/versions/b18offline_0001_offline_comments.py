"""offline and assisted participation: a comment may have no account behind it (received on paper,
by e-mail, at a hearing or at an administrative service centre and registered by an official)

Revision ID: b18offline_0001
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "b18offline_0001"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("comments", "author_id", nullable=True)
    op.add_column("comments", sa.Column("channel", sa.String(20), nullable=False, server_default="web"))
    op.add_column("comments", sa.Column("author_name_as_written", sa.String(300)))
    op.add_column("comments", sa.Column("received_on", sa.Date))
    op.add_column("comments", sa.Column("entered_by", sa.Uuid))
    op.add_column("comments", sa.Column("scan_id", sa.Uuid, sa.ForeignKey("attachments.id")))
    # a web comment has an account and nothing of an offline one; an offline one the reverse
    op.create_check_constraint("ck_comments_channel_shape", "comments",
                               "(channel = 'web' AND author_id IS NOT NULL AND entered_by IS NULL "
                               "AND received_on IS NULL AND author_name_as_written IS NULL) OR "
                               "(channel <> 'web' AND entered_by IS NOT NULL AND received_on IS NOT NULL "
                               "AND author_name_as_written IS NOT NULL)")
    op.create_index("ix_comments_offline", "comments", ["consultation_id", "channel"],
                    postgresql_where=sa.text("channel <> 'web'"))


def downgrade() -> None:
    op.drop_index("ix_comments_offline", "comments")
    op.drop_constraint("ck_comments_channel_shape", "comments")
    op.execute("DELETE FROM comments WHERE channel <> 'web'")
    for column in ("scan_id", "entered_by", "received_on", "author_name_as_written", "channel"):
        op.drop_column("comments", column)
    op.alter_column("comments", "author_id", nullable=False)
