"""the register of interested persons, roles, units, organisations, sessions, audit (R-2.1, R-2.2, R-2.3, R-2.4)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add = op.add_column
    add("persons", sa.Column("email", sa.String(254)))
    add("persons", sa.Column("phone", sa.String(32)))
    add("persons", sa.Column("interests", ARRAY(sa.SmallInteger), nullable=False, server_default=sa.text("'{}'")))
    add("persons", sa.Column("email_enabled", sa.Boolean, nullable=False, server_default=sa.true()))
    add("persons", sa.Column("consent_version", sa.String(20)))
    add("persons", sa.Column("consented_at", sa.DateTime(timezone=True)))
    add("persons", sa.Column("consent_withdrawn_at", sa.DateTime(timezone=True)))
    add("persons", sa.Column("erased_at", sa.DateTime(timezone=True)))
    add("persons", sa.Column("last_login_at", sa.DateTime(timezone=True)))
    # The register query: keyset over id among persons who may be e-mailed.
    op.create_index("ix_persons_mailable", "persons", ["id"], postgresql_where=sa.text(
        "email IS NOT NULL AND email_enabled AND consent_version IS NOT NULL "
        "AND consent_withdrawn_at IS NULL"))
    op.create_index("ix_persons_interests", "persons", ["interests"], postgresql_using="gin")
    op.create_table(
        "units",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(300), nullable=False, unique=True),
        sa.Column("head_name", sa.String(300)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("head_person_id", sa.Uuid, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("confirmed_by", sa.Uuid, sa.ForeignKey("persons.id")),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("person_id", sa.Uuid, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("unit_id", sa.Uuid, sa.ForeignKey("units.id")),
        sa.Column("organisation_id", sa.Uuid, sa.ForeignKey("organisations.id")),
        sa.Column("granted_by", sa.Uuid),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_by", sa.Uuid),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_roles_person_active", "roles", ["person_id"],
                    postgresql_where=sa.text("revoked_at IS NULL"))
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("person_id", sa.Uuid, sa.ForeignKey("persons.id"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_id", sa.Uuid),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("person_id", sa.Uuid, index=True),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'")),
    )


def downgrade() -> None:
    for table in ("audit_log", "sessions", "roles", "organisations", "units"):
        op.drop_table(table)
    op.drop_index("ix_persons_interests", "persons")
    op.drop_index("ix_persons_mailable", "persons")
    for col in ("last_login_at", "erased_at", "consent_withdrawn_at", "consented_at", "consent_version",
                "email_enabled", "interests", "phone", "email"):
        op.drop_column("persons", col)
