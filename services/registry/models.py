"""Tables of the registry service's own database (no other service reads them)."""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String,
                        Table, UniqueConstraint, Uuid, false, func)

metadata = MetaData()

persons = Table(
    "persons", metadata,
    Column("id", Uuid, primary_key=True),
    Column("subject", String(200), nullable=False, unique=True),  # identity-provider subject
    Column("full_name", String(300), nullable=False),
    Column("birth_date", Date),
    Column("community_member", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
