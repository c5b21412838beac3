"""Tables of the notifications service's own database (no other service reads them)."""
from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, UniqueConstraint, Uuid, func

metadata = MetaData()

deliveries = Table(
    "deliveries", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("person_id", Uuid, nullable=False),
    Column("consultation_id", Uuid, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("status", String(20), nullable=False),  # pending | sending | sent | failed
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("person_id", "consultation_id", "channel", "kind"),
)
