"""Tables of the consultations service's own database (no other service reads them)."""
from sqlalchemy import (BigInteger, Column, Computed, Date, DateTime, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, Uuid, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from chassis.rate import counters_table

metadata = MetaData()


def on_behalf() -> tuple[Column, ...]:
    """The institution a comment or an answer is given for, by a head of it (R-2.2); null: the
    person's own."""
    return (Column("organisation_id", Uuid), Column("organisation_name", String(300)),
            Column("organisation_kind", String(30)))

consultations = Table(
    "consultations", metadata,
    Column("id", Uuid, primary_key=True),
    Column("title", String(500), nullable=False),
    Column("form", String(20), nullable=False),  # proposal | survey | draft_act
    Column("category", Integer, nullable=False),  # 1..22
    Column("status", String(30), nullable=False),
    Column("question", Text, nullable=False, server_default=""),
    Column("unit_id", Uuid),
    Column("unit_name", String(300)),
    Column("owner_id", Uuid),
    Column("initiator_id", Uuid),
    Column("initiator_name", String(300)),
    Column("notice", JSONB, nullable=False, server_default=text("'{}'")),
    Column("starts_on", Date),
    Column("ends_on", Date),
    Column("published_at", DateTime(timezone=True)),
    Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("outcome", JSONB),  # moderation grounds or the unit's conclusion on an initiative
    Column("moderation_due", DateTime(timezone=True)),   # 2 working days after submission
    Column("report_due", DateTime(timezone=True)),       # 15 calendar days after closing
    Column("report_published_at", DateTime(timezone=True)),
    Column("archived_at", DateTime(timezone=True)),
    Column("search_text", Text, Computed("lower(title || ' ' || question)", persisted=True)),
    Column("search_vector", TSVECTOR, Computed("to_tsvector('simple', title || ' ' || question)", persisted=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_consultations_due_open", "starts_on", postgresql_where=text("status = 'scheduled'")),
    Index("ix_consultations_due_close", "ends_on", postgresql_where=text("status = 'active'")),
)

alternatives = Table(
    "alternatives", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
)

status_history = Table(
    "status_history", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("from_status", String(30)),
    Column("to_status", String(30), nullable=False),
    Column("actor_id", Uuid),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("note", Text),
)

comments = Table(
    "comments", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", Uuid),  # NULL: received offline, no account behind it
    Column("author_name", String(300), nullable=False),  # as published
    *on_behalf(),
    Column("alternative_id", Uuid, ForeignKey("alternatives.id")),
    Column("paragraph_id", Uuid),  # a stable paragraph id of a draft act
    Column("body", Text, nullable=False),
    # contracts.screening.fingerprint(body): the author's duplicate and copy checks compare these
    # (NULL on rows written before it was kept: fingerprinted when read)
    Column("fingerprint", String(64)),
    Column("status", String(20), nullable=False),  # pending | published | rejected
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_at", DateTime(timezone=True)),
    Column("rejection_grounds", JSONB),
    Column("rejection_note", Text),
    # how it was received: web, or an offline channel registered by an official (entered_by, created_at)
    Column("channel", String(20), nullable=False, server_default="web"),
    Column("author_name_as_written", String(300)),  # offline: the name exactly as the submission gives it
    Column("received_on", Date),  # offline: the day it was received
    Column("entered_by", Uuid),  # offline: the official who registered it
    Column("scan_id", Uuid, ForeignKey("attachments.id")),  # offline: the scan, insiders only
    Index("ix_comments_public", "consultation_id", "created_at", postgresql_where=text("status = 'published'")),
    Index("ix_comments_author", "author_id"),
)

rate_counters = counters_table(metadata)  # the gateway's write limits (chassis.rate), shared by every instance

questions = Table(
    "questions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("kind", String(10), nullable=False),  # single | multiple | text
)

options = Table(
    "options", metadata,
    Column("id", Uuid, primary_key=True),
    Column("question_id", Uuid, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
)

responses = Table(
    "responses", metadata,
    Column("question_id", Uuid, ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, nullable=False, index=True),
    Column("option_ids", ARRAY(Uuid), nullable=False, server_default=text("'{}'")),
    Column("text_answer", Text),
    *on_behalf(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

supports = Table(
    "supports", metadata,
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("alternative_id", Uuid, ForeignKey("alternatives.id", ondelete="CASCADE"), nullable=False),
    *on_behalf(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

draft_versions = Table(
    "draft_versions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("number", Integer, nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

paragraphs = Table(
    "paragraphs", metadata,
    Column("version_id", Uuid, ForeignKey("draft_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),  # stable across versions while the paragraph lives
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
)

decisions = Table(
    "decisions", metadata,
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True),
    Column("number", String(100), nullable=False),
    Column("adopted_on", Date, nullable=False),
    Column("title", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("publication_due", DateTime(timezone=True), nullable=False),  # 5 working days
    Column("recorded_by", Uuid, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

attachments = Table(
    "attachments", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("kind", String(20), nullable=False),  # material (R-3.13) | decision
    Column("title", String(300), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", Uuid, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

plan_entries = Table(
    "plan_entries", metadata,
    Column("id", Uuid, primary_key=True),
    Column("year", Integer, nullable=False, index=True),
    Column("title", String(500), nullable=False),
    Column("category", Integer, nullable=False),
    Column("unit_name", String(300)),
    Column("planned_quarter", Integer),
    Column("status", String(20), nullable=False),  # proposed | planned | held | cancelled | declined
    Column("consultation_id", Uuid, ForeignKey("consultations.id", ondelete="SET NULL")),
    Column("proposed_by", Uuid),
    Column("proposer_name", String(300)),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What this database keeps about a person, for their export (R-2.4; chassis.export)
from chassis.export import Personal  # noqa: E402

PERSONAL = {
    "initiatives": Personal(consultations, "initiator_id", (
        "id", "form", "title", "question", "category", "status", "unit_name", "initiator_name", "notice",
        "starts_on", "ends_on", "outcome", "created_at", "updated_at")),
    "comments": Personal(comments, "author_id"),
    "offline_comments_entered": Personal(comments, "entered_by", ("id", "consultation_id", "channel", "received_on",
                                                                  "created_at")),
    "survey_answers": Personal(responses, "person_id"),
    "support_votes": Personal(supports, "person_id"),
    "plan_proposals": Personal(plan_entries, "proposed_by"),
    "status_changes_made": Personal(status_history, "actor_id"),
    "attachments_uploaded": Personal(attachments, "uploaded_by"),
    "decisions_recorded": Personal(decisions, "recorded_by", ("consultation_id", "number", "title", "recorded_at")),
}
