"""Tables of webhooks and the public event feed, in the notifications service's own database
(docs/webhooks.md says why they live here). Secrets are kept in clear because each delivery must be
signed with them; they never leave the service except once, when created or rotated."""
from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, MetaData, SmallInteger, String,
                        Table, Text, UniqueConstraint, Uuid, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()


# The ordered log of public events: ``id`` is the feed's cursor (only ever increases).
public_events = Table(
    "public_events", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("source", String(40), nullable=False),
    Column("type", String(80), nullable=False),
    Column("version", SmallInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("subject", String(200)),
    Column("data", JSONB, nullable=False),  # the public projection, never the raw payload
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_public_events_type_id", "type", "id"),
    Index("ix_public_events_occurred", "occurred_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", ARRAY(String(80)), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("owner_contact", String(320), nullable=False),
    Column("status", String(20), nullable=False),  # active | failing | disabled
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100)),
    Column("previous_secret_until", DateTime(timezone=True)),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status_changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status_reason", String(500)),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("subscription_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),  # also the webhook-id: the receiver's idempotency key
    Column("feed_id", BigInteger, nullable=False),  # public_events.id
    Column("status", String(20), nullable=False),  # pending | sending | delivered | failed | cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claimed_at", DateTime(timezone=True)),
    Column("claim_token", Uuid),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", String(500)),
    UniqueConstraint("subscription_id", "event_id"),
    Index("ix_webhook_deliveries_due", "subscription_id", "next_attempt_at", "id",
          postgresql_where=text("status = 'pending'")),
    Index("ix_webhook_deliveries_sending", "subscription_id", "claimed_at", postgresql_where=text("status = 'sending'")),
    Index("ix_webhook_deliveries_sub", "subscription_id", "id"),
)

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, nullable=False, index=True),
    Column("subscription_id", Uuid, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status_code", Integer),  # null: no answer (refused, timed out, blocked address)
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(500)),
    Column("response_excerpt", Text),
    Index("ix_webhook_attempts_sub", "subscription_id", "id"),
)
