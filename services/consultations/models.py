"""Tables of the consultations service's own database (no other service reads them)."""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String,
                        Table, UniqueConstraint, Uuid, false, func)

metadata = MetaData()

consultations = Table(
    "consultations", metadata,
    Column("id", Uuid, primary_key=True),
    Column("title", String(500), nullable=False),
    Column("form", String(20), nullable=False),  # proposal | survey | draft_act
    Column("category", Integer, nullable=False),  # 1..22
    Column("status", String(30), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
