"""Tables of the registry service's own database (no other service reads them)."""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData,
                        SmallInteger, String, Table, Uuid, false, func, text,
                        true)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from chassis.rate import counters_table

metadata = MetaData()

persons = Table(
    "persons", metadata,
    Column("id", Uuid, primary_key=True),
    Column("subject", String(200), nullable=False, unique=True),  # identity-provider subject
    Column("full_name", String(300), nullable=False),
    Column("birth_date", Date),
    Column("community_member", Boolean, nullable=False, server_default=false()),
    Column("email", String(254)),
    Column("phone", String(32)),
    Column("interests", ARRAY(SmallInteger), nullable=False, server_default=text("'{}'")),
    Column("email_enabled", Boolean, nullable=False, server_default=true()),
    Column("email_mode", String(20), nullable=False, server_default="immediate"),  # immediate | daily_digest
    Column("consent_version", String(20)),
    Column("consented_at", DateTime(timezone=True)),
    Column("consent_withdrawn_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

units = Table(
    "units", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False, unique=True),
    Column("head_name", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

organisations = Table(
    "organisations", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("kind", String(30), nullable=False),  # contracts.registry.OrganisationKind
    Column("edrpou", String(8)),  # код ЄДРПОУ; null only for institutions filed before it was asked
    Column("head_person_id", Uuid, ForeignKey("persons.id"), nullable=False),
    Column("confirmed_by", Uuid, ForeignKey("persons.id")),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_organisations_edrpou", "edrpou", unique=True, postgresql_where=text("edrpou IS NOT NULL")),
)

roles = Table(
    "roles", metadata,
    Column("id", Uuid, primary_key=True),
    Column("person_id", Uuid, ForeignKey("persons.id"), nullable=False),
    Column("role", String(30), nullable=False),
    Column("unit_id", Uuid, ForeignKey("units.id")),
    Column("organisation_id", Uuid, ForeignKey("organisations.id")),
    Column("granted_by", Uuid),
    Column("granted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_by", Uuid),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_roles_person_active", "person_id", postgresql_where=text("revoked_at IS NULL")),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("person_id", Uuid, ForeignKey("persons.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_id", Uuid),
    Column("action", String(50), nullable=False),
    Column("person_id", Uuid, index=True),
    Column("details", JSONB, nullable=False, server_default=text("'{}'")),
)


rate_counters = counters_table(metadata)  # OWASP API4: logins and API keys (chassis.rate), shared by every gateway
