"""Create each service's database if missing and apply its Alembic migrations.

``python -m chassis.migrate [service ...]`` (all five by default). A PostgreSQL advisory lock makes
concurrent runs (several replicas starting at once) apply each migration once. It is taken inside
the one transaction the upgrade runs in and ends with it (``pg_advisory_xact_lock``): a session lock
would outlive the transaction behind PgBouncer in transaction mode, stay with a pooled server
connection, and its unlock could land on another one.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from chassis.db import ensure_database
from chassis.settings import SERVICES, Settings, get_settings

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
MIGRATION_LOCK = 715_002  # any constant shared by all migrators


def alembic_config(service: str, settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", settings.service_db_url(service).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    ensure_database(service, settings)
    cfg = alembic_config(service, settings)
    engine = create_engine(settings.service_db_url(service), poolclass=None)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
    finally:
        engine.dispose()
    log.info("database of %s is at the newest migration", service)


def create_chassis_tables_v1(op) -> None:
    """For every service's first migration: the outbox and handled-events tables as they were at
    version 1 (spelled out, so later changes to chassis/outbox.py need migrations of their own)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import JSONB

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["id"],
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "processed_events",
        sa.Column("handler", sa.String(200), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("handler", "event_id"),
    )


def run_env() -> None:
    """The body of every service's ``migrations/env.py``."""
    from alembic import context

    conn = context.config.attributes.get("connection")
    if conn is None:  # plain `alembic` command line use
        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.connect() as conn:
            context.configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn)
    with context.begin_transaction():
        context.run_migrations()


def main(argv: list[str]) -> None:
    from chassis.log import configure_logging

    configure_logging("migrate")
    services = argv or list(SERVICES)
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        sys.exit(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    for service in services:
        upgrade(service)
        print(f"migrated: {service}")


if __name__ == "__main__":
    main(sys.argv[1:])
