"""Tables of the reports service's own database (no other service reads them).

A read model of every consultation's comments and respondents, fed by consultations' events as
they happen (R-3.14, R-3.16: what the protocol and the report will list), a snapshot of each closed consultation (R-3.16: what the report shows), the consideration of every
proposal, the groups of near-identical published comments (MinHash signatures kept per comment),
and the published versions of the report (immutable: a trigger refuses to change or
delete a published row, whatever the code does). No birth dates anywhere: participants carry only
their age band (computed by the registry) and whether it was their first consultation.
"""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Float, Identity, Index, Integer, LargeBinary,
                        MetaData, Sequence, SmallInteger, String, Table, Text, UniqueConstraint, Uuid, func, text)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

reports = Table(
    "reports", metadata,
    Column("id", Uuid, primary_key=True),
    Column("consultation_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # published; immutable once written
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("published_by", Uuid),
    Column("reason", String(20)),            # publish | decision
    Column("content_sha256", String(64)),    # SHA-256 of the version's JSON file (everything it says)
    Column("files", JSONB),                  # format → {sha256, size, content_type}
    Column("source_sha256", String(64)),     # fingerprint of decision + attachments it was built from
    UniqueConstraint("consultation_id", "version"),
)

GROUPS_VERSION = Sequence("report_groups_version", metadata=metadata)

snapshots = Table(
    "snapshots", metadata,
    Column("consultation_id", Uuid, primary_key=True),
    Column("title", String(500), nullable=False),
    Column("category", Integer, nullable=False),
    Column("form", String(20), nullable=False),
    Column("unit_id", Uuid),
    Column("unit_name", String(300)),
    Column("source", JSONB, nullable=False),  # the consultation page and its tallies at closing
    Column("closed_at", DateTime(timezone=True)),
    Column("report_due", DateTime(timezone=True)),
    Column("comments_published", Integer, nullable=False, server_default="0"),
    Column("comments_submitted", Integer, nullable=False, server_default="0"),
    Column("participants", Integer, nullable=False, server_default="0"),
    Column("conclusion", Text),  # the generalised conclusion
    Column("taken_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("archived_at", DateTime(timezone=True)),
    Column("retain_until", Date),  # five years after the decision date
    Column("bundle_sha256", String(64)),  # the public bundle: the public protocol
    Column("manifest", Text),  # manifest.sha256 of the bundle
    Column("full_bundle_sha256", String(64)),  # the insiders' bundle: the full protocol (R-3.14)
    Column("full_manifest", Text),
    Column("protocol", JSONB),  # {"full"|"public": format → {sha256, size, content_type}}, rendered with the snapshot
    # a new number (GROUPS_VERSION) with every write that changes what its groups count: members,
    # their considerations, the snapshot (the desk keeps a group's counts while it stays the same)
    Column("groups_version", BigInteger, nullable=False, server_default=text("nextval('report_groups_version')")),
)

publish_requests = Table(
    "publish_requests", metadata,  # publishing renders every file: a timer does it, off the request
    Column("consultation_id", Uuid, primary_key=True),
    Column("reason", String(20), nullable=False),
    Column("requested_by", Uuid),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

protocol_requests = Table(
    "protocol_requests", metadata,  # the protocol's files are rendered by a timer after the snapshot
    Column("consultation_id", Uuid, primary_key=True),
    Column("taken_at", DateTime(timezone=True), nullable=False),  # of the snapshot to render
)

feed_comments = Table(
    "feed_comments", metadata,  # the read model: every submitted comment, from the events
    Column("consultation_id", Uuid, primary_key=True),
    Column("comment_id", Uuid, primary_key=True),
    Column("author_id", Uuid),
    Column("author_name", Text),  # the signature; NULL until comment_submitted arrives (events may come out of order)
    Column("body", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("alternative_id", Uuid),
    Column("paragraph_id", Uuid),
    Column("status", String(20), nullable=False),  # pending | published | rejected
    Column("rank", SmallInteger, nullable=False),  # the status's place: it only moves forward
    Column("decided_at", DateTime(timezone=True)),
    Column("grounds", JSONB),
    Column("channel", String(20)),  # web | paper | email | hearing | service_centre; NULL until submitted arrives
    Index("ix_feed_comments_author", "author_id"),  # a person's export
)

feed_respondents = Table(
    "feed_respondents", metadata,  # the read model: who answered the survey or supported an alternative
    Column("consultation_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Index("ix_feed_respondents_person", "person_id"),  # a person's export
)

snapshot_comments = Table(
    "snapshot_comments", metadata,
    Column("consultation_id", Uuid, primary_key=True),
    Column("comment_id", Uuid, primary_key=True),
    Column("seq", BigInteger, nullable=False),  # order of submission
    Column("author_name", Text, nullable=False),  # the signature: a name, or «установа (від імені: ПІБ)»
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("alternative_id", Uuid),
    Column("paragraph_id", Uuid),
    Column("status", String(20), nullable=False),  # published | pending | rejected (R-3.14 protocol)
    Column("decided_at", DateTime(timezone=True)),
    Column("grounds", JSONB),
    Column("channel", String(20), nullable=False, server_default="web"),  # how it was received
    Index("ix_snapshot_comments_seq", "consultation_id", "seq"),
    Index("ix_snapshot_comments_unpublished", "consultation_id", postgresql_where=text("status <> 'published'")),
)

snapshot_participants = Table(
    "snapshot_participants", metadata,
    Column("consultation_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("full_name", String(300), nullable=False),
    Column("age_band", String(20), nullable=False),  # 14–17 | 18–35 | 36–60 | 60+ | unknown
    Column("first_time", Boolean, nullable=False),
)

considerations = Table(
    "considerations", metadata,
    Column("consultation_id", Uuid, primary_key=True),
    Column("comment_id", Uuid, primary_key=True),
    Column("outcome", String(20), nullable=False),  # accepted | partly_accepted | not_accepted
    Column("justification", Text),
    Column("decided_by", Uuid, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

grouping_queue = Table(
    "grouping_queue", metadata,  # published comments waiting for the grouper (a timer, off the request)
    Column("consultation_id", Uuid, primary_key=True),
    Column("comment_id", Uuid, primary_key=True),
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

comment_grouping = Table(
    "comment_grouping", metadata,  # each published comment's group of near-identical ones
    Column("consultation_id", Uuid, primary_key=True),
    Column("comment_id", Uuid, primary_key=True),
    Column("group_id", Uuid, nullable=False),  # a split-out comment is its own group: group_id = comment_id
    Column("seq", BigInteger, Identity(), nullable=False),  # order of grouping: an index catches up from it
    Column("signature", LargeBinary, nullable=False),  # the MinHash signature (uint32 × GROUP_PERMUTATIONS)
    Column("text_hash", String(64), nullable=False),  # sha256 of the normalised text (exact copies)
    Column("similarity", Float),  # verified Jaccard with the member it matched; NULL: it founded the group
    Column("split", Boolean, nullable=False, server_default="false"),  # split out by an official
    Column("grouped_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_comment_grouping_group", "consultation_id", "group_id"),
    Index("ix_comment_grouping_seq", "consultation_id", "seq"),
)

group_texts = Table(
    "group_texts", metadata,  # a group's distinct normalised texts and their members (the representative)
    Column("consultation_id", Uuid, primary_key=True),
    Column("group_id", Uuid, primary_key=True),
    Column("text_hash", String(64), primary_key=True),
    Column("first_comment_id", Uuid, nullable=False),  # the earliest member with this text
    Column("first_seq", BigInteger, nullable=False),
    Column("members", Integer, nullable=False),
    Index("ix_group_texts_top", "consultation_id", "group_id", text("members DESC"), "first_seq"),
)

comment_groups = Table(
    "comment_groups", metadata,
    Column("consultation_id", Uuid, primary_key=True),
    Column("group_id", Uuid, primary_key=True),
    Column("representative_id", Uuid, nullable=False),  # rules.choose_representative
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What this database keeps about a person, for their export (R-2.4; chassis.export)
from chassis.export import Personal  # noqa: E402

PERSONAL = {
    "report_participation": Personal(snapshot_participants, "person_id"),
    "comments_for_reports": Personal(feed_comments, "author_id"),
    "survey_participation": Personal(feed_respondents, "person_id"),
    "considerations_made": Personal(considerations, "decided_by"),
}
