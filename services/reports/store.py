"""The reports service's SQL: the read model fed by consultations' events, the snapshot, the
consideration of proposals, the versions and the work queues: ``Store``, over one session of a unit of work."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Iterable, Iterator, NamedTuple

from sqlalchemy import and_, case, delete, exists, func, null, select, text, union, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from chassis.store import SqlStore
from services.reports import rules
from services.reports.models import (GROUPS_VERSION, comment_grouping, comment_groups, considerations, feed_comments,
                                     feed_respondents, group_texts, grouping_queue, protocol_requests, publish_requests,
                                     reports, snapshot_comments, snapshot_participants, snapshots)

PAGE = 1000  # rows read at a time from our own tables


_FEED_KEYS = ("consultation_id", "comment_id", "author_id", "author_name", "body", "created_at", "alternative_id",
              "paragraph_id", "status", "decided_at", "grounds", "channel")


class GroupSummary(NamedTuple):
    size: int
    considered: int
    outcomes: list  # (outcome, justification, count)


def _if(cond, a, b):
    return case((cond, a), else_=b)


def _joined():
    return snapshot_comments.outerjoin(considerations, and_(
        considerations.c.consultation_id == snapshot_comments.c.consultation_id,
        considerations.c.comment_id == snapshot_comments.c.comment_id))


def _merge_comments():
    """The read model's upsert (built once: building it per event cost more CPU than running it)."""
    stmt = insert(feed_comments)
    x, t = stmt.excluded, feed_comments.c
    ahead = x.rank > t.rank
    return stmt.on_conflict_do_update(
        index_elements=[t.consultation_id, t.comment_id],
        set_={"author_id": func.coalesce(t.author_id, x.author_id),
              "author_name": func.coalesce(t.author_name, x.author_name), "body": func.coalesce(t.body, x.body),
              "created_at": func.coalesce(t.created_at, x.created_at),
              "alternative_id": func.coalesce(t.alternative_id, x.alternative_id),
              "paragraph_id": func.coalesce(t.paragraph_id, x.paragraph_id),
              "channel": func.coalesce(t.channel, x.channel),
              "status": _if(ahead, x.status, t.status), "rank": _if(ahead, x.rank, t.rank),
              "decided_at": _if(ahead, x.decided_at, t.decided_at), "grounds": _if(ahead, x.grounds, t.grounds)})


_MERGE_COMMENTS = _merge_comments()


_SNAP = 0x736E6170  # "snap": taking a consultation's snapshot


def _lock_key(cid: uuid.UUID, what: int) -> int:
    """A transaction-scoped advisory lock's key: one consultation's one kind of work."""
    return int.from_bytes(cid.bytes[:8], "big", signed=True) ^ what

# a group's text counts (``group_texts``): newly grouped members added; a merged group's texts moved
# into the group it joined; a split-out member leaving (its text's first member found again)
_ADD_TEXTS = insert(group_texts)
_ADD_TEXTS = _ADD_TEXTS.on_conflict_do_update(
    index_elements=["consultation_id", "group_id", "text_hash"],
    set_={"members": group_texts.c.members + _ADD_TEXTS.excluded.members})
_MOVE_TEXTS = text("""
    WITH moved AS (DELETE FROM group_texts WHERE consultation_id = :cid AND group_id = :old RETURNING *)
    INSERT INTO group_texts (consultation_id, group_id, text_hash, first_comment_id, first_seq, members)
    SELECT consultation_id, :into, text_hash, first_comment_id, first_seq, members FROM moved
    ON CONFLICT (consultation_id, group_id, text_hash) DO UPDATE SET
        members = group_texts.members + EXCLUDED.members,
        first_comment_id = CASE WHEN EXCLUDED.first_seq < group_texts.first_seq
                                THEN EXCLUDED.first_comment_id ELSE group_texts.first_comment_id END,
        first_seq = least(group_texts.first_seq, EXCLUDED.first_seq)""")
_LEAVE_TEXT = text("""
    UPDATE group_texts t SET members = t.members - 1, first_comment_id = coalesce(n.comment_id, t.first_comment_id),
                             first_seq = coalesce(n.seq, t.first_seq)
    FROM (SELECT 1) AS one LEFT JOIN LATERAL (
        SELECT comment_id, seq FROM comment_grouping
        WHERE consultation_id = :cid AND group_id = :group AND text_hash = :hash AND NOT split
        ORDER BY seq LIMIT 1) AS n ON true
    WHERE t.consultation_id = :cid AND t.group_id = :group AND t.text_hash = :hash""")
_EMPTY_TEXTS = text("DELETE FROM group_texts WHERE consultation_id = :cid AND group_id = :group AND members <= 0")


# built once, one statement whatever the number of comments (a statement built per event cost more
# CPU than running it)
_QUEUE_GROUPING = text(
    "INSERT INTO grouping_queue (consultation_id, comment_id) SELECT :cid, i FROM unnest(CAST(:ids AS uuid[])) AS i "
    "WHERE NOT EXISTS (SELECT 1 FROM comment_grouping g WHERE g.consultation_id = :cid AND g.comment_id = i) "
    "ON CONFLICT DO NOTHING")


class Store(SqlStore):
    """The reports service's SQL over the unit of work's session."""

    # ---- the read model (consultations' events, or a backfill page) ----------------------------------

    def merge_comments(self, rows: list[dict]) -> None:
        """Upsert comments into the read model in any order of arrival: text and target fill in when
        known, the moderation status only moves forward (``rules.STATUS_RANK``), so a replay or a late
        event changes nothing."""
        if not rows:
            return
        full = [{k: r.get(k) for k in _FEED_KEYS} | {"rank": rules.STATUS_RANK[r["status"]]} for r in rows]
        self.session.execute(_MERGE_COMMENTS, full)

    def add_respondents(self, cid: uuid.UUID, person_ids: list[uuid.UUID]) -> None:
        if person_ids:
            self.session.execute(insert(feed_respondents).on_conflict_do_nothing(),
                            [{"consultation_id": cid, "person_id": p} for p in person_ids])

    def feed_counts(self, cid: uuid.UUID) -> dict:
        """What the read model holds: comments (with their text) by status, and respondents."""
        by_status = dict(self.session.execute(
            select(feed_comments.c.status, func.count()).where(feed_comments.c.consultation_id == cid,
                                                               feed_comments.c.body.is_not(None))
            .group_by(feed_comments.c.status)).all())
        people = self.session.execute(select(func.count()).select_from(feed_respondents)
                                 .where(feed_respondents.c.consultation_id == cid)).scalar_one()
        return {"comments": {s: by_status.get(s, 0) for s in rules.STATUS_RANK}, "respondents": people}

    def participant_ids(self, cid: uuid.UUID) -> list[uuid.UUID]:
        """Authors of published comments and respondents, each once."""
        people = union(
            select(feed_comments.c.author_id.label("pid")).where(feed_comments.c.consultation_id == cid,
                                                                 feed_comments.c.status == "published",
                                                                 feed_comments.c.author_id.is_not(None)),
            select(feed_respondents.c.person_id).where(feed_respondents.c.consultation_id == cid)).subquery()
        return list(self.session.execute(select(people.c.pid).order_by(people.c.pid)).scalars())

    # ---- the snapshot -------------------------------------------------------------------------------

    def snapshot(self, cid: uuid.UUID, lock: bool = False):
        """The consultation's snapshot; with ``lock``, taking (or retaking) it is serialised first:
        one transaction at a time per consultation, whether a snapshot exists yet or not."""
        if lock:
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(cid, _SNAP)})
        stmt = select(snapshots).where(snapshots.c.consultation_id == cid)
        return self.session.execute(stmt.with_for_update() if lock else stmt).first()

    def try_lock_snapshot(self, cid: uuid.UUID) -> bool:
        """The lock :meth:`snapshot` takes with ``lock``, if no one holds it now (until the transaction
        ends); False at once when a snapshot is being taken."""
        return self.session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                    {"k": _lock_key(cid, _SNAP)}).scalar_one()

    def versions(self, cid: uuid.UUID) -> list:
        return self.session.execute(select(reports).where(reports.c.consultation_id == cid)
                               .order_by(reports.c.version)).all()

    def clear_snapshot_rows(self, cid: uuid.UUID) -> None:
        self.session.execute(delete(snapshot_comments).where(snapshot_comments.c.consultation_id == cid))
        self.session.execute(delete(snapshot_participants).where(snapshot_participants.c.consultation_id == cid))

    def copy_feed_comments(self, cid: uuid.UUID) -> tuple[int, int]:
        """The read model's comments become the snapshot's, numbered in order of submission (one
        statement inside the database); returns (submitted, published)."""
        self.session.execute(text("""
            INSERT INTO snapshot_comments (consultation_id, comment_id, seq, author_name, body, created_at,
                                           alternative_id, paragraph_id, status, decided_at, grounds, channel)
            SELECT consultation_id, comment_id, row_number() OVER (ORDER BY created_at, comment_id), author_name, body,
                   created_at, alternative_id, paragraph_id, status, decided_at, grounds, coalesce(channel, 'web')
            FROM feed_comments WHERE consultation_id = :cid AND body IS NOT NULL"""), {"cid": cid})
        counts = dict(self.session.execute(select(snapshot_comments.c.status, func.count())
                                      .where(snapshot_comments.c.consultation_id == cid)
                                      .group_by(snapshot_comments.c.status)).all())
        return sum(counts.values()), counts.get("published", 0)

    def insert_participants(self, rows: Iterable[tuple]) -> None:
        """``(consultation_id, person_id, full_name, age_band, first_time)`` rows, by COPY."""
        cursor = self.session.connection().connection.cursor()
        with cursor.copy("COPY snapshot_participants (consultation_id, person_id, full_name, age_band, first_time) "
                         "FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def upsert_snapshot(self, cid: uuid.UUID, values: dict) -> None:
        """A new snapshot: its protocol is not rendered yet (SQL NULL, not JSON null)."""
        values = {**values, "protocol": null(), "groups_version": GROUPS_VERSION.next_value()}
        self.session.execute(insert(snapshots).values(consultation_id=cid, **values)
                             .on_conflict_do_update(index_elements=[snapshots.c.consultation_id], set_=values))

    def set_snapshot(self, cid: uuid.UUID, **values) -> None:
        self.session.execute(update(snapshots).where(snapshots.c.consultation_id == cid).values(**values))

    def delete_snapshot(self, cid: uuid.UUID) -> None:
        self.session.execute(delete(considerations).where(considerations.c.consultation_id == cid))
        self.clear_snapshot_rows(cid)
        self.session.execute(delete(protocol_requests).where(protocol_requests.c.consultation_id == cid))
        self.session.execute(delete(snapshots).where(snapshots.c.consultation_id == cid))

    # ---- proposals and their consideration -----------------------------------------------------------

    def proposal_rows(self, cid: uuid.UUID, published_only: bool = True) -> Iterator:
        """Comments of the snapshot with their consideration, in submission order: one query read through
        a server-side cursor, PAGE rows at a time."""
        cond = [snapshot_comments.c.consultation_id == cid]
        if published_only:
            cond.append(snapshot_comments.c.status == "published")
        yield from self.session.execute(
            select(snapshot_comments, considerations.c.outcome, considerations.c.justification,
                   self._effective().label("group_id"))
            .select_from(self._grouped_join()).where(*cond).order_by(snapshot_comments.c.seq)
            .execution_options(yield_per=PAGE))

    def proposal_page(self, cid: uuid.UUID, page: int, per_page: int, missing_only: bool) -> tuple[int, list]:
        cond = [snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published"]
        if missing_only:
            cond.append(considerations.c.outcome.is_(None))
        total = self.session.execute(select(func.count()).select_from(_joined()).where(*cond)).scalar_one()
        rows = self.session.execute(select(snapshot_comments, considerations.c.outcome, considerations.c.justification,
                                           self._effective().label("group_id"))
                               .select_from(self._grouped_join()).where(*cond).order_by(snapshot_comments.c.seq)
                               .offset((page - 1) * per_page).limit(per_page)).all()
        return total, rows

    def known_proposals(self, cid: uuid.UUID, ids: list[uuid.UUID]) -> set:
        return set(self.session.execute(select(snapshot_comments.c.comment_id).where(
            snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published",
            snapshot_comments.c.comment_id.in_(ids))).scalars())

    def upsert_considerations(self, values: list[dict]) -> None:
        for cid in {v["consultation_id"] for v in values}:
            self.groups_changed(cid)
        stmt = insert(considerations)
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=[considerations.c.consultation_id, considerations.c.comment_id],
            set_={"outcome": stmt.excluded.outcome, "justification": stmt.excluded.justification,
                  "decided_by": stmt.excluded.decided_by, "decided_at": func.now()}), values)

    def considered(self, cid: uuid.UUID) -> int:
        return self.session.execute(select(func.count()).select_from(considerations).where(
            considerations.c.consultation_id == cid)).scalar_one()

    def missing(self, cid: uuid.UUID) -> list[uuid.UUID]:
        return list(self.session.execute(
            select(snapshot_comments.c.comment_id).select_from(_joined())
            .where(snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published",
                   considerations.c.outcome.is_(None)).order_by(snapshot_comments.c.seq)).scalars())

    def representativeness(self, cid: uuid.UUID) -> dict:
        rep = rules.representativeness(self.session.execute(
            select(snapshot_participants.c.age_band, snapshot_participants.c.first_time, func.count())
            .where(snapshot_participants.c.consultation_id == cid)
            .group_by(snapshot_participants.c.age_band, snapshot_participants.c.first_time)).all())
        s = snapshot_comments.c
        rep["by_channel"] = rules.by_channel(self.session.execute(
            select(s.channel, func.count(), func.count(func.distinct(func.lower(s.author_name))))
            .where(s.consultation_id == cid, s.status == "published").group_by(s.channel)).all())
        return rep

    def participant_names(self, cid: uuid.UUID, limit: int = PAGE) -> list[str]:
        return [r.full_name for r in self.session.execute(
            select(snapshot_participants.c.full_name).where(snapshot_participants.c.consultation_id == cid)
            .order_by(snapshot_participants.c.full_name).limit(limit))]

    # ---- contributors of a published report ("you said, we did") ---------------------------------------

    def _authored(self, cid: uuid.UUID):
        """Published comments of the snapshot with their author (the read model keeps the author)."""
        return (_joined().join(feed_comments, and_(feed_comments.c.consultation_id == snapshot_comments.c.consultation_id,
                                                   feed_comments.c.comment_id == snapshot_comments.c.comment_id)),
                [snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published",
                 feed_comments.c.author_id.is_not(None)])

    def contributors(self, cid: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Authors of published comments, in id order, ``limit`` after ``after``."""
        joined, cond = self._authored(cid)
        if after is not None:
            cond.append(feed_comments.c.author_id > after)
        return list(self.session.execute(select(feed_comments.c.author_id).select_from(joined).where(*cond)
                                         .group_by(feed_comments.c.author_id).order_by(feed_comments.c.author_id)
                                         .limit(limit)).scalars())

    def contributions_of(self, cid: uuid.UUID, author_ids: list[uuid.UUID]) -> list:
        """Their published comments with the consideration, by author, then number."""
        if not author_ids:
            return []
        joined, cond = self._authored(cid)
        return self.session.execute(
            select(feed_comments.c.author_id, snapshot_comments.c.comment_id, snapshot_comments.c.seq,
                   snapshot_comments.c.body, snapshot_comments.c.alternative_id, snapshot_comments.c.paragraph_id,
                   considerations.c.outcome, considerations.c.justification)
            .select_from(joined).where(*cond, feed_comments.c.author_id.in_(author_ids))
            .order_by(feed_comments.c.author_id, snapshot_comments.c.seq)).all()

    # ---- versions and the work queues -----------------------------------------------------------------

    def insert_version(self, **values):
        return self.session.execute(reports.insert().values(id=uuid.uuid4(), status="published", **values)
                               .returning(reports)).one()

    def version_row(self, cid: uuid.UUID, version: int | None):
        stmt = select(reports).where(reports.c.consultation_id == cid)
        stmt = stmt.where(reports.c.version == version) if version else stmt.order_by(reports.c.version.desc())
        return self.session.execute(stmt.limit(1)).first()

    def request_publish(self, cid: uuid.UUID, reason: str, by: uuid.UUID | None = None) -> None:
        self.session.execute(insert(publish_requests).values(consultation_id=cid, reason=reason, requested_by=by)
                        .on_conflict_do_nothing())

    def publish_candidates(self, limit: int = 5) -> list[uuid.UUID]:
        return list(self.session.execute(select(publish_requests.c.consultation_id)
                                    .order_by(publish_requests.c.requested_at).limit(limit)).scalars())

    def claim_publish(self, cid: uuid.UUID):
        """The request, locked for this instance (None if another one has it or it is gone)."""
        return self.session.execute(select(publish_requests).where(publish_requests.c.consultation_id == cid)
                               .with_for_update(skip_locked=True)).first()

    def drop_publish(self, cid: uuid.UUID) -> None:
        self.session.execute(delete(publish_requests).where(publish_requests.c.consultation_id == cid))

    def request_protocol(self, cid: uuid.UUID, taken_at: datetime) -> None:
        stmt = insert(protocol_requests).values(consultation_id=cid, taken_at=taken_at)
        self.session.execute(stmt.on_conflict_do_update(index_elements=[protocol_requests.c.consultation_id],
                                                   set_={"taken_at": stmt.excluded.taken_at}))

    def claim_protocol(self):
        return self.session.execute(select(protocol_requests).order_by(protocol_requests.c.taken_at).limit(1)
                               .with_for_update(skip_locked=True)).first()

    def drop_protocol(self, cid: uuid.UUID, taken_at: datetime) -> None:
        self.session.execute(delete(protocol_requests).where(protocol_requests.c.consultation_id == cid,
                                                        protocol_requests.c.taken_at == taken_at))

    # ---- groups of near-identical proposals (R-3.16) ------------------------------------------------

    def groups_changed(self, cid: uuid.UUID) -> None:
        """What the snapshot's groups count changes in this transaction (members, their
        considerations): its ``groups_version`` becomes a new number. Taken first by every writer
        of those rows, so the snapshot row's lock comes before theirs (the desk's writers lock it
        as they start too)."""
        self.session.execute(update(snapshots).where(snapshots.c.consultation_id == cid)
                             .values(groups_version=GROUPS_VERSION.next_value()))

    def queue_grouping(self, cid: uuid.UUID, ids: list[uuid.UUID]) -> None:
        """Published comments for the grouper (a comment already grouped is not queued again)."""
        if ids:
            self.session.execute(_QUEUE_GROUPING, {"cid": cid, "ids": list(ids)})

    def grouping_due(self, limit: int = 20) -> list[uuid.UUID]:
        """Consultations with comments waiting for the grouper, the longest waiting first."""
        return list(self.session.execute(
            select(grouping_queue.c.consultation_id).group_by(grouping_queue.c.consultation_id)
            .order_by(func.min(grouping_queue.c.queued_at)).limit(limit)).scalars())

    def lock_grouping(self, cid: uuid.UUID) -> bool:
        """One grouper a consultation at a time, across instances (until the transaction ends)."""
        return self.session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                    {"k": _lock_key(cid, 0x67726F7570)}).scalar_one()  # "group"

    def grouped_after(self, cid: uuid.UUID, seq: int) -> Iterator:
        """Grouped comments of ``cid`` written after ``seq``, in order (an index catches up)."""
        g = comment_grouping.c
        yield from self.session.execute(
            select(g.comment_id, g.group_id, g.seq, g.signature, g.text_hash, g.similarity, g.split)
            .where(g.consultation_id == cid, g.seq > seq).order_by(g.seq).execution_options(yield_per=PAGE))

    def queued(self, cid: uuid.UUID, limit: int) -> list:
        """Waiting comments with their text, status and whether they are grouped already (queued
        again by a backfill racing the grouper); a comment whose text has not arrived yet stays
        queued. The longest waiting first; of those queued together (one batch of events), the
        earliest written, so the first member of a text is its earliest comment."""
        q, f, g = grouping_queue.c, feed_comments.c, comment_grouping.c
        return self.session.execute(
            select(q.comment_id, f.body, f.status, g.group_id.is_not(None).label("grouped"))
            .select_from(grouping_queue.join(feed_comments, and_(
                f.consultation_id == q.consultation_id, f.comment_id == q.comment_id)).outerjoin(
                comment_grouping, and_(g.consultation_id == q.consultation_id, g.comment_id == q.comment_id)))
            .where(q.consultation_id == cid, f.body.is_not(None)).order_by(q.queued_at, f.created_at, q.comment_id)
            .limit(limit)).all()

    def unqueue(self, cid: uuid.UUID, ids: list[uuid.UUID]) -> None:
        if ids:
            self.session.execute(delete(grouping_queue).where(grouping_queue.c.consultation_id == cid,
                                                              grouping_queue.c.comment_id.in_(ids)))

    def bodies(self, cid: uuid.UUID, ids: list[uuid.UUID]) -> dict:
        return dict(self.session.execute(select(feed_comments.c.comment_id, feed_comments.c.body).where(
            feed_comments.c.consultation_id == cid, feed_comments.c.comment_id.in_(ids))).all())

    def add_grouped(self, cid: uuid.UUID, rows: list[dict], new_groups: list[tuple]) -> int:
        """The batch's rows and its new groups (founder as representative); returns the highest seq."""
        top = 0
        if rows:
            seq_of = dict(self.session.execute(
                insert(comment_grouping).returning(comment_grouping.c.comment_id, comment_grouping.c.seq),
                [{"consultation_id": cid, **r} for r in rows]).all())
            top = max(seq_of.values())
            self._count_texts(cid, [(r["group_id"], r["text_hash"], r["comment_id"], seq_of[r["comment_id"]])
                                    for r in rows])
        if new_groups:
            self.session.execute(insert(comment_groups).on_conflict_do_nothing(),
                                 [{"consultation_id": cid, "group_id": g, "representative_id": c} for g, c in new_groups])
        return top

    def merge_groups(self, cid: uuid.UUID, moved: dict) -> int:
        """Groups merged into others (``from → into``): their rows move with a new ``seq``, so
        every instance's index catches the merge up; returns the highest seq given."""
        top = 0
        for old, into in moved.items():
            seqs = self.session.execute(
                update(comment_grouping).where(comment_grouping.c.consultation_id == cid,
                                               comment_grouping.c.group_id == old, comment_grouping.c.split.is_(False))
                .values(group_id=into, seq=func.nextval(func.pg_get_serial_sequence("comment_grouping", "seq")))
                .returning(comment_grouping.c.seq)).scalars().all()
            top = max([top, *seqs])
            self.session.execute(delete(comment_groups).where(comment_groups.c.consultation_id == cid,
                                                              comment_groups.c.group_id == old))
            self.session.execute(_MOVE_TEXTS, {"cid": cid, "old": old, "into": into})
        return top

    def _count_texts(self, cid: uuid.UUID, members: list[tuple]) -> None:
        """``(group, text_hash, comment, seq)`` of newly grouped comments into their groups' text counts."""
        texts: dict = {}
        for group_id, text_hash, comment_id, seq in sorted(members, key=lambda m: m[3]):
            row = texts.setdefault((group_id, text_hash), {
                "consultation_id": cid, "group_id": group_id, "text_hash": text_hash,
                "first_comment_id": comment_id, "first_seq": seq, "members": 0})
            row["members"] += 1
        self.session.execute(_ADD_TEXTS, list(texts.values()))

    def text_variants(self, cid: uuid.UUID, group_ids: list[uuid.UUID]) -> dict:
        """group → [(first comment of its most shared text, members with it, that comment's seq)]
        (``rules.choose_representative``): one lookup a group in ``group_texts``' index, whatever
        the group's size."""
        rows = self.session.execute(text("""
            SELECT g.group_id, t.first_comment_id, t.members, t.first_seq
            FROM unnest(CAST(:gids AS uuid[])) AS g(group_id)
            CROSS JOIN LATERAL (
                SELECT first_comment_id, members, first_seq FROM group_texts
                WHERE consultation_id = :cid AND group_id = g.group_id
                ORDER BY members DESC, first_seq LIMIT 1) t"""), {"cid": cid, "gids": list(group_ids)}).all()
        return {r.group_id: [(r.first_comment_id, r.members, r.first_seq)] for r in rows}

    def set_representatives(self, cid: uuid.UUID, chosen: dict) -> None:
        for group_id, comment_id in chosen.items():
            self.session.execute(update(comment_groups).where(comment_groups.c.consultation_id == cid,
                                                              comment_groups.c.group_id == group_id)
                                 .values(representative_id=comment_id))

    # the desk and the files: a snapshot's published proposals by their group (an ungrouped or split-out
    # one is its own group)

    def _effective(self):
        s, g = snapshot_comments.c, comment_grouping.c
        return func.coalesce(g.group_id, s.comment_id)

    def has_rows(self, cid: uuid.UUID, group_id: uuid.UUID) -> bool:
        """Whether the group has grouping rows (else it can only be one proposal not grouped yet)."""
        g = comment_grouping.c
        return self.session.execute(select(g.comment_id).where(g.consultation_id == cid, g.group_id == group_id)
                                    .limit(1)).first() is not None

    def _in_group(self, cid: uuid.UUID, group_id: uuid.UUID, grouped: bool | None = None):
        """The condition for a group's members that the indexes serve: rows of ``comment_grouping``
        by ``(consultation_id, group_id)`` when the group has any (``grouped``: already known); else
        the one proposal not grouped (yet) whose own id it is."""
        g = comment_grouping.c
        if self.has_rows(cid, group_id) if grouped is None else grouped:
            return g.group_id == group_id
        return and_(snapshot_comments.c.comment_id == group_id, g.group_id.is_(None))

    def _grouped_join(self):
        s, g, c = snapshot_comments.c, comment_grouping.c, considerations.c
        return snapshot_comments.outerjoin(comment_grouping, and_(g.consultation_id == s.consultation_id,
                                                                  g.comment_id == s.comment_id)) \
            .outerjoin(considerations, and_(c.consultation_id == s.consultation_id, c.comment_id == s.comment_id))

    def group_page(self, cid: uuid.UUID, page: int, per_page: int, min_size: int) -> tuple[int, list]:
        """Groups of at least ``min_size`` published proposals, the largest first:
        ``(group_id, size, considered, first_seq)``."""
        s = snapshot_comments.c
        gid = self._effective().label("group_id")
        grouped = (select(gid, func.count().label("size"), func.count(considerations.c.outcome).label("considered"),
                          func.min(s.seq).label("first_seq"))
                   .select_from(self._grouped_join()).where(s.consultation_id == cid, s.status == "published")
                   .group_by(gid).having(func.count() >= min_size)).subquery()
        total = self.session.execute(select(func.count()).select_from(grouped)).scalar_one()
        rows = self.session.execute(select(grouped).order_by(grouped.c.size.desc(), grouped.c.first_seq)
                                    .offset((page - 1) * per_page).limit(per_page)).all()
        return total, rows

    def group_head(self, cid: uuid.UUID, group_id: uuid.UUID):
        """The snapshot row (None: none) with what a group's page asks before its members, in one
        round trip: ``published`` (a version exists), ``grouped`` (the group has grouping rows)
        and ``representative_id`` (the group's chosen representative, if it has one)."""
        g, r = comment_grouping.c, comment_groups.c
        return self.session.execute(select(
            snapshots, exists().where(reports.c.consultation_id == cid).label("published"),
            exists().where(g.consultation_id == cid, g.group_id == group_id).label("grouped"),
            select(r.representative_id).where(r.consultation_id == cid, r.group_id == group_id)
            .scalar_subquery().label("representative_id"))
            .where(snapshots.c.consultation_id == cid)).first()

    def group_summary(self, cid: uuid.UUID, group_id: uuid.UUID, grouped: bool | None = None) -> GroupSummary:
        """A group's published proposals: how many, how many considered, and the considerations
        ``(outcome, justification, count)`` (size 0: no such group). Counted on the narrow tables
        (``comment_grouping`` and ``considerations``, which only ever hold published proposals of the
        snapshot), less the members the snapshot holds as not published (a partial index finds those),
        so a 40,000-member group is never read row by row from the snapshot."""
        s, g, c = snapshot_comments.c, comment_grouping.c, considerations.c
        if not (self.has_rows(cid, group_id) if grouped is None else grouped):
            rows = self.session.execute(
                select(c.outcome, c.justification, func.count()).select_from(self._grouped_join())
                .where(s.consultation_id == cid, s.status == "published", s.comment_id == group_id)
                .group_by(c.outcome, c.justification)).all()
        else:
            rows = self.session.execute(
                select(c.outcome, c.justification, func.count())
                .select_from(comment_grouping.outerjoin(considerations, and_(
                    c.consultation_id == g.consultation_id, c.comment_id == g.comment_id)))
                .where(g.consultation_id == cid, g.group_id == group_id).group_by(c.outcome, c.justification)).all()
            hidden = self.session.execute(
                select(func.count()).select_from(snapshot_comments.join(comment_grouping, and_(
                    g.consultation_id == s.consultation_id, g.comment_id == s.comment_id)))
                .where(s.consultation_id == cid, s.status != "published", g.group_id == group_id)).scalar_one()
            rows = [(o, j, n - (hidden if o is None else 0)) for o, j, n in rows]
        rows = [r for r in rows if r[2] > 0]
        return GroupSummary(size=sum(r[2] for r in rows), considered=sum(r[2] for r in rows if r[0]),
                            outcomes=[tuple(r) for r in rows])

    def group_members(self, cid: uuid.UUID, group_id: uuid.UUID, offset: int = 0, limit: int | None = None,
                      grouped: bool | None = None) -> list:
        """A group's published proposals with their consideration and grouping, in submission order
        (a page: the snapshot's ``seq`` index walked until ``limit`` members are found)."""
        s = snapshot_comments.c
        stmt = (select(snapshot_comments, considerations.c.outcome, considerations.c.justification,
                       comment_grouping.c.text_hash, comment_grouping.c.similarity, self._effective().label("group_id"))
                .select_from(self._grouped_join())
                .where(s.consultation_id == cid, s.status == "published", self._in_group(cid, group_id, grouped))
                .order_by(s.seq).offset(offset))
        return self.session.execute(stmt.limit(limit) if limit else stmt).all()

    def group_member_ids(self, cid: uuid.UUID, group_id: uuid.UUID) -> list[uuid.UUID]:
        s = snapshot_comments.c
        return list(self.session.execute(
            select(s.comment_id).select_from(self._grouped_join())
            .where(s.consultation_id == cid, s.status == "published", self._in_group(cid, group_id))).scalars())

    def group_authors(self, cid: uuid.UUID, group_id: uuid.UUID, limit: int | None = None) -> list[str]:
        s = snapshot_comments.c
        stmt = (select(s.author_name).select_from(self._grouped_join())
                .where(s.consultation_id == cid, s.status == "published", self._in_group(cid, group_id))
                .order_by(s.seq))
        return list(self.session.execute(stmt.limit(limit) if limit else stmt).scalars())

    def representative_of(self, cid: uuid.UUID, group_id: uuid.UUID, grouped: bool | None = None):
        """The group's chosen representative as a published proposal of the snapshot, if it is one."""
        s, r = snapshot_comments.c, comment_groups.c
        return self.session.execute(
            select(snapshot_comments, considerations.c.outcome, considerations.c.justification,
                   comment_grouping.c.text_hash, comment_grouping.c.similarity, self._effective().label("group_id"))
            .select_from(self._grouped_join().join(comment_groups, and_(
                r.consultation_id == s.consultation_id, r.representative_id == s.comment_id)))
            .where(r.consultation_id == cid, r.group_id == group_id, s.status == "published",
                   self._in_group(cid, group_id, grouped))).first()

    def group_of(self, cid: uuid.UUID, comment_id: uuid.UUID):
        """A published proposal's group (None: not a published proposal of the snapshot)."""
        s = snapshot_comments.c
        return self.session.execute(
            select(self._effective()).select_from(self._grouped_join())
            .where(s.consultation_id == cid, s.comment_id == comment_id, s.status == "published")).scalar()

    def split_out(self, cid: uuid.UUID, comment_id: uuid.UUID) -> uuid.UUID | None:
        """The proposal becomes a group of its own, for good (never joined again); it leaves its
        group's text counts. Returns the group it left (None: it was not grouped)."""
        self.groups_changed(cid)
        g = comment_grouping.c
        left = self.session.execute(select(g.group_id, g.text_hash).where(
            g.consultation_id == cid, g.comment_id == comment_id, g.split.is_(False))).first()
        self.session.execute(update(comment_grouping).where(g.consultation_id == cid, g.comment_id == comment_id)
                             .values(group_id=comment_id, split=True))
        if left is None:
            return None
        self.session.execute(_LEAVE_TEXT, {"cid": cid, "group": left.group_id, "hash": left.text_hash})
        self.session.execute(_EMPTY_TEXTS, {"cid": cid, "group": left.group_id})
        return left.group_id

    def report_groups(self, cid: uuid.UUID) -> list:
        """Every group of two or more published proposals: ``(group_id, size, first_seq, authors)``
        (authors in submission order), for the report's and the protocol's files."""
        s = snapshot_comments.c
        gid = self._effective().label("group_id")
        return self.session.execute(
            select(gid, func.count().label("size"), func.min(s.seq).label("first_seq"),
                   func.array_agg(aggregate_order_by(s.author_name, s.seq)).label("authors"))
            .select_from(self._grouped_join()).where(s.consultation_id == cid, s.status == "published")
            .group_by(gid).having(func.count() > 1)).all()

    # ---- statistics ---------------------------------------------------------------------------------

    def closed_in(self, year: int) -> list:
        first = (select(reports.c.consultation_id, func.min(reports.c.published_at).label("first"))
                 .group_by(reports.c.consultation_id).subquery())
        done = (select(considerations.c.consultation_id, func.count().label("n"))
                .group_by(considerations.c.consultation_id).subquery())
        return self.session.execute(
            select(snapshots.c.consultation_id, snapshots.c.title, snapshots.c.category, snapshots.c.participants,
                   snapshots.c.comments_published, snapshots.c.report_due, first.c.first, done.c.n)
            .select_from(snapshots.outerjoin(first, first.c.consultation_id == snapshots.c.consultation_id)
                         .outerjoin(done, done.c.consultation_id == snapshots.c.consultation_id))
            .where(func.extract("year", snapshots.c.closed_at) == year).order_by(snapshots.c.closed_at)).all()

