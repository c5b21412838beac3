"""webhooks (subscriptions, deliveries, the attempt log) and the public event feed

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("version", sa.SmallInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(200)),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_public_events_type_id", "public_events", ["type", "id"])
    op.create_index("ix_public_events_occurred", "public_events", ["occurred_at"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", ARRAY(sa.String(80)), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("owner_contact", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.Uuid),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("status_reason", sa.String(500)),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Uuid, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("feed_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("claim_token", sa.Uuid),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.String(500)),
        sa.UniqueConstraint("subscription_id", "event_id"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["subscription_id", "next_attempt_at", "id"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_webhook_deliveries_sending", "webhook_deliveries", ["subscription_id", "claimed_at"],
                    postgresql_where=sa.text("status = 'sending'"))
    op.create_index("ix_webhook_deliveries_sub", "webhook_deliveries", ["subscription_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("subscription_id", sa.Uuid, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.String(500)),
        sa.Column("response_excerpt", sa.Text),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_index("ix_webhook_attempts_sub", "webhook_attempts", ["subscription_id", "id"])


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_subscriptions", "public_events"):
        op.drop_table(table)
