"""retention (R-1.11): an archived consultation and its materials refuse deletion for five years
after the decision date (the archiving date where no decision was recorded), at the database itself

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Rows that hang on a consultation: deleting one of an archived consultation within its retention
# period is refused too. A cascade from a consultation whose period has ended finds no parent row
# (already gone) and passes.
CHILD_TABLES = ("alternatives", "status_history", "comments", "questions", "supports", "draft_versions",
                "decisions", "attachments")

UPGRADE = """
CREATE FUNCTION consultation_retained_until(cid uuid) RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (COALESCE((SELECT d.adopted_on FROM decisions d WHERE d.consultation_id = c.id),
                     (c.archived_at AT TIME ZONE 'Europe/Kyiv')::date) + INTERVAL '5 years')::date
    FROM consultations c WHERE c.id = cid AND c.status = 'archived'
$$;

CREATE FUNCTION refuse_delete_while_retained() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cid uuid := (to_jsonb(OLD) ->> TG_ARGV[0])::uuid;  -- the column naming the consultation
    until date := consultation_retained_until(cid);
BEGIN
    IF until IS NOT NULL AND until > (now() AT TIME ZONE 'Europe/Kyiv')::date THEN
        RAISE EXCEPTION 'archived consultation % is retained until % (R-1.11)', cid, until
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    for table in ("consultations", *CHILD_TABLES):
        column = "id" if table == "consultations" else "consultation_id"
        op.execute(f"CREATE TRIGGER {table}_retained BEFORE DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION refuse_delete_while_retained('{column}')")


def downgrade() -> None:
    for table in ("consultations", *CHILD_TABLES):
        op.execute(f"DROP TRIGGER {table}_retained ON {table}")
    op.execute("DROP FUNCTION refuse_delete_while_retained(); DROP FUNCTION consultation_retained_until(uuid)")
