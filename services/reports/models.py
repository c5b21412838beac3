"""Tables of the reports service's own database (no other service reads them)."""
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, UniqueConstraint, Uuid, func

metadata = MetaData()

reports = Table(
    "reports", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # draft | published
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("consultation_id", "version"),
)
