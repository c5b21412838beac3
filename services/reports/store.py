"""The reports service's SQL: the read model fed by consultations' events, the snapshot, the
consideration of proposals, the versions and the work queues: ``Store``, over one session of a unit of work."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import and_, case, delete, func, null, select, text, union, update
from sqlalchemy.dialects.postgresql import insert

from chassis.store import SqlStore
from services.reports import rules
from services.reports.models import (considerations, feed_comments, feed_respondents, protocol_requests,
                                     publish_requests, reports, snapshot_comments, snapshot_participants,
                                     snapshots)

PAGE = 1000  # rows read at a time from our own tables


_FEED_KEYS = ("consultation_id", "comment_id", "author_id", "author_name", "body", "created_at", "alternative_id",
              "paragraph_id", "status", "decided_at", "grounds", "channel")


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
        stmt = select(snapshots).where(snapshots.c.consultation_id == cid)
        return self.session.execute(stmt.with_for_update() if lock else stmt).first()

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
        values = {**values, "protocol": null()}
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
            select(snapshot_comments, considerations.c.outcome, considerations.c.justification)
            .select_from(_joined()).where(*cond).order_by(snapshot_comments.c.seq)
            .execution_options(yield_per=PAGE))

    def proposal_page(self, cid: uuid.UUID, page: int, per_page: int, missing_only: bool) -> tuple[int, list]:
        cond = [snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published"]
        if missing_only:
            cond.append(considerations.c.outcome.is_(None))
        total = self.session.execute(select(func.count()).select_from(_joined()).where(*cond)).scalar_one()
        rows = self.session.execute(select(snapshot_comments, considerations.c.outcome, considerations.c.justification)
                               .select_from(_joined()).where(*cond).order_by(snapshot_comments.c.seq)
                               .offset((page - 1) * per_page).limit(per_page)).all()
        return total, rows

    def known_proposals(self, cid: uuid.UUID, ids: list[uuid.UUID]) -> set:
        return set(self.session.execute(select(snapshot_comments.c.comment_id).where(
            snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published",
            snapshot_comments.c.comment_id.in_(ids))).scalars())

    def upsert_considerations(self, values: list[dict]) -> None:
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

