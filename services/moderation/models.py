"""Tables of the moderation service's own database (no other service reads them)."""
from sqlalchemy import (BigInteger, Column, Date, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint, String,
                        Table, Text, UniqueConstraint, Uuid, func, text)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(20), nullable=False),  # comment | initiative
    Column("subject_id", Uuid, nullable=False),
    Column("status", String(20), nullable=False),  # open | decided
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("consultation_id", Uuid),
    Column("author_id", Uuid),
    Column("author_name", Text),  # the signature: a name, or «установа (від імені: ПІБ)»
    Column("text", Text),
    Column("matches", JSONB, nullable=False, server_default=text("'[]'")),
    Column("source", String(20), nullable=False, server_default="screening"),  # screening | report
    Column("reports", Integer, nullable=False, server_default="0"),
    Column("channel", String(20), nullable=False, server_default="web"),  # how a comment was received
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("decision", String(20)),  # approved | rejected
    Column("grounds", JSONB),
    Column("note", Text),
    Column("decided_by", Uuid),
    Column("decided_at", DateTime(timezone=True)),
    UniqueConstraint("kind", "subject_id"),
    Index("ix_cases_queue", "priority", "submitted_at", postgresql_where=text("status = 'open'")),
)

screenings = Table(
    "screenings", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("consultation_id", Uuid, index=True),
    Column("author_id", Uuid),
    Column("text", Text, nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("outcome", String(10), nullable=False),  # pass | hold
    Column("matches", JSONB, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("channel", String(20), nullable=False, server_default="web"),  # how the comment was received
    Column("entered_by", Uuid),  # received offline: the official who registered it
    Column("received_on", Date),  # received offline: the day
    Column("entered_at", DateTime(timezone=True)),  # received offline: when it was registered
    Index("ix_screenings_author", "author_id", "text_hash"),
)

decisions = Table(
    "decisions", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("consultation_id", Uuid, index=True),
    Column("moderator_id", Uuid, nullable=False, index=True),
    Column("decision", String(20), nullable=False),
    Column("grounds", JSONB, nullable=False),
    Column("note", Text),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

flags = Table(
    "flags", metadata,
    Column("comment_id", Uuid, nullable=False),
    Column("reporter_id", Uuid, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("comment_id", "reporter_id"),
)

# What this database keeps about a person, for their export (R-2.4; chassis.export)
from chassis.export import Personal  # noqa: E402

PERSONAL = {
    "cases_about_my_texts": Personal(cases, "author_id"),
    "screenings_of_my_texts": Personal(screenings, "author_id"),
    "comment_reports_filed": Personal(flags, "reporter_id"),
    "moderation_decisions_made": Personal(decisions, "moderator_id"),
    "offline_comments_entered": Personal(screenings, "entered_by", ("subject_id", "consultation_id", "channel",
                                                                    "received_on", "entered_at")),
}
