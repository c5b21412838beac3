"""decisions (R-3.18, R-2.5) and full-text search over title, question and text (R-1.4)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("consultation_id", sa.Uuid, sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("adopted_on", sa.Date, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("publication_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # No Ukrainian stemmer ships with PostgreSQL: the `simple` configuration over lower-cased words,
    # plus trigram similarity (pg_trgm) so that word forms and typos still find their consultation.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("""
        ALTER TABLE consultations ADD COLUMN search_text text GENERATED ALWAYS AS
            (lower(title || ' ' || question)) STORED""")
    op.execute("""
        ALTER TABLE consultations ADD COLUMN search_vector tsvector GENERATED ALWAYS AS
            (to_tsvector('simple', title || ' ' || question)) STORED""")
    op.execute("CREATE INDEX ix_consultations_fts ON consultations USING gin (search_vector)")
    op.execute("CREATE INDEX ix_consultations_trgm ON consultations USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_consultations_trgm")
    op.execute("DROP INDEX ix_consultations_fts")
    op.drop_column("consultations", "search_vector")
    op.drop_column("consultations", "search_text")
    op.drop_table("decisions")
