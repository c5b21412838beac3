"""Tables of the notifications service's own database (no other service reads them). No contacts
are kept here: e-mail addresses are fetched from the registry when sending (data minimisation)."""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, Uuid, func, text, Index)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

deliveries = Table(
    "deliveries", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("person_id", Uuid, nullable=False),
    Column("consultation_id", Uuid),  # null for a daily digest, which covers a day (``day``)
    Column("channel", String(20), nullable=False),
    Column("kind", String(40), nullable=False),  # consultation_started | daily_digest | report_feedback
    Column("day", Date),  # the Kyiv day a daily digest covers
    Column("status", String(20), nullable=False),  # pending | sending | sent | failed | skipped
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claimed_at", DateTime(timezone=True)),
    Column("claim_token", Uuid),  # which sender owns a `sending` row
    Column("sent_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("feedback_id", BigInteger),  # a report_feedback e-mail: its message (feedback_messages)
    UniqueConstraint("person_id", "consultation_id", "channel", "kind"),
    Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_deliveries_sending", "claimed_at", postgresql_where=text("status = 'sending'")),
    # one digest per person × day: a redelivered event or a restart never sends a second one
    Index("uq_deliveries_digest", "person_id", "day", unique=True, postgresql_where=text("kind = 'daily_digest'")),
    # one e-mail per "you said, we did" message (its consultation_id is null: the message says which)
    Index("uq_deliveries_feedback", "feedback_id", unique=True, postgresql_where=text("kind = 'report_feedback'")),
)

# "You said, we did": one message per person × consultation × report version that
# changed something for them, with what it lists (``items``: the comments, as told), and what each
# person was last told about each of their comments (what a later version is compared with).
feedback_messages = Table(
    "feedback_messages", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("person_id", Uuid, nullable=False),
    Column("consultation_id", Uuid, nullable=False),
    Column("report_version", Integer, nullable=False),
    Column("title", String(500), nullable=False),
    Column("report_url", String(1000), nullable=False),
    Column("decision_title", String(1000)),
    Column("decision_url", String(1000)),
    Column("first", Boolean, nullable=False),  # the person's first message about this consultation
    Column("items", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("person_id", "consultation_id", "report_version"),
)

feedback_told = Table(
    "feedback_told", metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, primary_key=True),
    Column("comment_id", Uuid, primary_key=True),
    Column("number", Integer, nullable=False),
    Column("target", Text, nullable=False),
    Column("excerpt", Text, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("justification", Text),
    Column("report_version", Integer, nullable=False),  # the version that told it
)

# What a person's daily digest lists (person × day × consultation); ids only, no contacts.
digest_items = Table(
    "digest_items", metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("consultation_id", Uuid, primary_key=True),
    Index("ix_digest_items_consultation", "consultation_id"),
)

fanouts = Table(
    "fanouts", metadata,
    Column("consultation_id", Uuid, primary_key=True),
    Column("title", String(500), nullable=False),
    Column("question", Text, nullable=False, server_default=""),
    Column("category", Integer, nullable=False),
    Column("form", String(20), nullable=False),
    Column("url", String(1000), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("status", String(20), nullable=False),  # selecting | sending | done
    Column("recipients", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
)

inbox = Table(
    "inbox", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("person_id", Uuid, nullable=False, index=True),
    Column("source_event_id", Uuid, nullable=False),
    Column("title", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("link", String(1000)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    UniqueConstraint("person_id", "source_event_id"),
)

used_unsubscribe_tokens = Table(
    "used_unsubscribe_tokens", metadata,
    Column("token_id", String(64), primary_key=True),
    Column("used_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What this database keeps about a person, for their export (R-2.4; chassis.export)
from chassis.export import Personal  # noqa: E402

PERSONAL = {
    "email_deliveries": Personal(deliveries, "person_id", (
        "id", "consultation_id", "channel", "kind", "day", "status", "created_at", "attempts", "sent_at",
        "last_error")),
    "digest_items": Personal(digest_items, "person_id"),
    "cabinet_messages": Personal(inbox, "person_id"),
    "report_feedback_messages": Personal(feedback_messages, "person_id"),
    "report_feedback": Personal(feedback_told, "person_id"),
}
