"""API keys of partner systems, in the registry's own database: only a SHA-256 of each key is kept
(a key is 32 random bytes, so a plain hash cannot be reversed by guessing; no slow hash needed)."""
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY

metadata = MetaData()

api_keys = Table(
    "api_keys", metadata,
    Column("id", Uuid, primary_key=True),
    Column("partner", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),  # shown in lists and logs, e.g. ek_3f9a12bc
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", ARRAY(String(40)), nullable=False),
    Column("rate_per_minute", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
)
