"""Tables of the moderation service's own database (no other service reads them)."""
from sqlalchemy import Column, DateTime, MetaData, String, Table, UniqueConstraint, Uuid, func

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(20), nullable=False),  # comment | initiative
    Column("subject_id", Uuid, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("kind", "subject_id"),
)
