"""the report: snapshots, considerations, immutable published versions

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

IMMUTABLE = """
CREATE FUNCTION report_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'published' THEN
    RAISE EXCEPTION 'published report versions are immutable (R-3.16)' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER reports_immutable BEFORE UPDATE OR DELETE ON reports
  FOR EACH ROW EXECUTE FUNCTION report_versions_immutable();
CREATE FUNCTION snapshots_retained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.archived_at IS NOT NULL AND (OLD.retain_until IS NULL OR OLD.retain_until > current_date) THEN
    RAISE EXCEPTION 'archived until % (R-1.11)', OLD.retain_until USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER snapshots_retained BEFORE DELETE ON snapshots
  FOR EACH ROW EXECUTE FUNCTION snapshots_retained();
"""


def upgrade() -> None:
    op.add_column("reports", sa.Column("published_at", sa.DateTime(timezone=True)))
    op.add_column("reports", sa.Column("published_by", sa.Uuid))
    op.add_column("reports", sa.Column("reason", sa.String(20)))
    op.add_column("reports", sa.Column("content_sha256", sa.String(64)))
    op.add_column("reports", sa.Column("files", JSONB))
    op.add_column("reports", sa.Column("source_sha256", sa.String(64)))
    op.create_table(
        "snapshots",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("form", sa.String(20), nullable=False),
        sa.Column("unit_id", sa.Uuid),
        sa.Column("unit_name", sa.String(300)),
        sa.Column("source", JSONB, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("report_due", sa.DateTime(timezone=True)),
        sa.Column("comments_published", sa.Integer, nullable=False, server_default="0"),
        sa.Column("comments_submitted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("participants", sa.Integer, nullable=False, server_default="0"),
        sa.Column("conclusion", sa.Text),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.Column("retain_until", sa.Date),
        sa.Column("bundle_sha256", sa.String(64)),
        sa.Column("manifest", sa.Text),
        sa.Column("protocol", JSONB),
    )
    op.create_table(
        "publish_requests",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("requested_by", sa.Uuid),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "snapshot_comments",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("comment_id", sa.Uuid, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("author_name", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alternative_id", sa.Uuid),
        sa.Column("paragraph_id", sa.Uuid),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("grounds", JSONB),
    )
    op.create_index("ix_snapshot_comments_seq", "snapshot_comments", ["consultation_id", "seq"])
    op.create_table(
        "snapshot_participants",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("person_id", sa.Uuid, primary_key=True),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("age_band", sa.String(20), nullable=False),
        sa.Column("first_time", sa.Boolean, nullable=False),
    )
    op.create_table(
        "considerations",
        sa.Column("consultation_id", sa.Uuid, primary_key=True),
        sa.Column("comment_id", sa.Uuid, primary_key=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("justification", sa.Text),
        sa.Column("decided_by", sa.Uuid, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute(IMMUTABLE)


def downgrade() -> None:
    op.execute("DROP TRIGGER snapshots_retained ON snapshots; DROP FUNCTION snapshots_retained();"
               "DROP TRIGGER reports_immutable ON reports; DROP FUNCTION report_versions_immutable();")
    for t in ("publish_requests", "considerations", "snapshot_participants", "snapshot_comments", "snapshots"):
        op.drop_table(t)
    for c in ("source_sha256", "files", "content_sha256", "reason", "published_by", "published_at"):
        op.drop_column("reports", c)
