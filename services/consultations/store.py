"""All SQL of the consultations service's handlers: consultations and their history, alternatives,
survey questions, draft versions and paragraphs, comments, answers and support, decisions,
attachments, the annual plan, and what the reports service reads. Rows come back as SQLAlchemy rows
(attribute access), lists of them, or plain values."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Uuid, and_, bindparam, case, cast, func, literal, or_, select, text, tuple_, union, update
from sqlalchemy.dialects.postgresql import insert

from chassis.rate import Counters
from chassis.store import SqlStore
from contracts.consultations import (PRIVATE_PERSON, PUBLIC_STATUSES, WEB_CHANNEL, MyInitiative, PlanStatus,
                                    QuestionIn, Status)
from services.consultations import drafts
from services.consultations.models import (alternatives, attachments, comments, consultations, decisions,
                                           draft_versions, options, paragraphs, plan_entries, questions,
                                           rate_counters, responses, status_history, supports)

PUBLIC = [s.value for s in PUBLIC_STATUSES]
_COUNTERS = Counters(rate_counters)


# a page of published comments (an anonymous reader's view) and the tallies; {order}: DESC newest first
_PAGE_AND_TALLIES = """
SELECT
  CASE WHEN :with_comments THEN (SELECT coalesce(json_agg(page ORDER BY page.created_at {order}, page.id), '[]')
      FROM (SELECT id, consultation_id, author_name, organisation_id, organisation_name, organisation_kind,
                   alternative_id, paragraph_id, body, status, created_at, channel, received_on
            FROM comments WHERE consultation_id = :cid AND status = 'published'
            ORDER BY created_at {order}, id OFFSET :offset LIMIT :limit) page) END AS comments,
  CASE WHEN :with_results THEN (SELECT coalesce(json_object_agg(alternative_id, n), '{{}}') FROM (
      SELECT alternative_id, count(*) AS n FROM supports WHERE consultation_id = :cid GROUP BY alternative_id) s)
  END AS supporters,
  CASE WHEN :with_results THEN (SELECT coalesce(json_object_agg(option_id, n), '{{}}') FROM (
      SELECT unnest(option_ids) AS option_id, count(*) AS n FROM responses WHERE consultation_id = :cid
      GROUP BY 1) o) END AS options,
  CASE WHEN :with_results THEN (SELECT coalesce(json_object_agg(question_id, n), '{{}}') FROM (
      SELECT question_id, count(*) AS n FROM responses WHERE consultation_id = :cid GROUP BY 1) r) END AS respondents,
  CASE WHEN :with_results THEN (SELECT count(*) FROM (
      SELECT person_id FROM responses WHERE consultation_id = :cid
      UNION SELECT person_id FROM supports WHERE consultation_id = :cid) people) END AS participants
"""
PAGE_AND_TALLIES = {newest: text(_PAGE_AND_TALLIES.format(order="DESC" if newest else "ASC")) for newest in (True, False)}


# built once (the insert: per set of columns given): building a statement per comment cost more CPU than
# running it
_FINGERPRINTS_OF = select(comments.c.consultation_id, comments.c.fingerprint,
                          case((comments.c.fingerprint.is_(None), comments.c.body))) \
    .where(comments.c.author_id == bindparam("author_id"))


@lru_cache(maxsize=16)
def _insert_comment(columns: frozenset[str], published: bool):
    state = {"status": "published", "decided_at": func.now()} if published else {"status": "pending"}
    return comments.insert().values(**state, **{c: bindparam(c) for c in sorted(columns)}).returning(comments)


class Store(SqlStore):
    # ---- the gateway's write limits (chassis.rate) -------------------------------------------------
    def count_hits(self, pairs: list[tuple[str, datetime]]) -> list[int]:
        return _COUNTERS.count_hits(self.session, pairs)

    def forget_windows_before(self, cutoff: datetime) -> None:
        _COUNTERS.forget_windows_before(self.session, cutoff)

    # ---- consultations and their history ----------------------------------------------------------
    def any_titled_like(self, pattern: str) -> bool:
        """Whether a consultation's title matches the SQL LIKE ``pattern`` (the demo seed's mark)."""
        return self.session.execute(select(consultations.c.id).where(consultations.c.title.like(pattern))
                                    .limit(1)).first() is not None

    def consultation(self, cid: uuid.UUID, lock: bool = False):
        stmt = select(consultations).where(consultations.c.id == cid)
        return self.session.execute(stmt.with_for_update() if lock else stmt).first()

    def add_consultation(self, **values) -> None:
        self.session.execute(consultations.insert().values(**values))

    def update_consultation(self, cid: uuid.UUID, **values) -> None:
        """Set columns; ``updated_at`` is the transaction's time."""
        self.session.execute(update(consultations).where(consultations.c.id == cid)
                             .values(**values, updated_at=func.now()))

    def mark_published(self, cid: uuid.UUID) -> None:
        self.update_consultation(cid, status=Status.scheduled.value, published_at=func.now())

    def mark_open(self, cid: uuid.UUID):
        """Active from now; the updated row."""
        return self.session.execute(update(consultations).where(consultations.c.id == cid)
                                    .values(status=Status.active.value, opened_at=func.now(), updated_at=func.now())
                                    .returning(consultations)).one()

    def mark_closed(self, cid: uuid.UUID, report_due: datetime) -> None:
        self.update_consultation(cid, status=Status.closed.value, closed_at=func.now(), report_due=report_due)

    def mark_archived(self, cid: uuid.UUID) -> None:
        self.update_consultation(cid, status=Status.archived.value, archived_at=func.now())

    def move(self, cid: uuid.UUID, expect: Status, new: Status, **values):
        """Move from ``expect`` to ``new``: the row's initiator and title, or None when it was not in ``expect``."""
        return self.session.execute(update(consultations).where(consultations.c.id == cid,
                                                                consultations.c.status == expect.value)
                                    .values(status=new.value, updated_at=func.now(), **values)
                                    .returning(consultations.c.initiator_id, consultations.c.title)).first()

    def mark_report_published(self, cid: uuid.UUID, at: datetime) -> bool:
        """Only the first report counts; False when one was published before."""
        return self.session.execute(update(consultations).where(consultations.c.id == cid,
                                                                consultations.c.report_published_at.is_(None))
                                    .values(report_published_at=at).returning(consultations.c.id)).first() is not None

    def add_history(self, cid: uuid.UUID, old: str | None, new: Status, actor_id: uuid.UUID | None,
                    note: str | None = None) -> None:
        self.session.execute(status_history.insert().values(consultation_id=cid, from_status=old,
                                                            to_status=new.value, actor_id=actor_id, note=note))

    def public_history(self, cid: uuid.UUID) -> list:
        """``(to_status, at)`` of every move into a public status, oldest first."""
        return self.session.execute(select(status_history.c.to_status, status_history.c.at).where(
            status_history.c.consultation_id == cid, status_history.c.to_status.in_(PUBLIC))
            .order_by(status_history.c.id)).all()

    def due_to_open(self, today: date, batch: int) -> list[uuid.UUID]:
        """Scheduled consultations whose start date has come, locked (others' skipped)."""
        return self.session.execute(select(consultations.c.id).where(
            consultations.c.status == Status.scheduled.value, consultations.c.starts_on <= today)
            .limit(batch).with_for_update(skip_locked=True)).scalars().all()

    def due_to_close(self, today: date, batch: int) -> list:
        """Active consultations whose last day has ended, locked (others' skipped): id and ends_on."""
        return self.session.execute(select(consultations.c.id, consultations.c.ends_on).where(
            consultations.c.status == Status.active.value, consultations.c.ends_on < today)
            .limit(batch).with_for_update(skip_locked=True)).all()

    # ---- alternatives and survey questions -------------------------------------------------------
    def replace_alternatives(self, cid: uuid.UUID, texts: list[str]) -> None:
        self.session.execute(alternatives.delete().where(alternatives.c.consultation_id == cid))
        if texts:
            self.session.execute(alternatives.insert(), [
                {"id": uuid.uuid4(), "consultation_id": cid, "position": i + 1, "text": t}
                for i, t in enumerate(texts)])

    def replace_questions(self, cid: uuid.UUID, items: list[QuestionIn]) -> None:
        self.session.execute(questions.delete().where(questions.c.consultation_id == cid))
        for i, q in enumerate(items):
            qid = uuid.uuid4()
            self.session.execute(questions.insert().values(id=qid, consultation_id=cid, position=i + 1,
                                                           text=q.text, kind=q.kind.value))
            if q.options:
                self.session.execute(options.insert(), [{"id": uuid.uuid4(), "question_id": qid, "position": j + 1,
                                                         "text": o.strip()} for j, o in enumerate(q.options)])

    def alternatives(self, cid: uuid.UUID) -> list:
        return self.session.execute(select(alternatives.c.id, alternatives.c.position, alternatives.c.text)
                                    .where(alternatives.c.consultation_id == cid)
                                    .order_by(alternatives.c.position)).all()

    def count_alternatives(self, cid: uuid.UUID) -> int:
        return self.session.execute(select(func.count()).select_from(alternatives)
                                    .where(alternatives.c.consultation_id == cid)).scalar_one()

    def count_questions(self, cid: uuid.UUID) -> int:
        return self.session.execute(select(func.count()).select_from(questions)
                                    .where(questions.c.consultation_id == cid)).scalar_one()

    def has_alternative(self, cid: uuid.UUID, alternative_id: uuid.UUID) -> bool:
        return self.session.execute(select(alternatives.c.id).where(
            alternatives.c.id == alternative_id, alternatives.c.consultation_id == cid)).first() is not None

    def questions(self, cid: uuid.UUID) -> tuple[list, list]:
        """The questions in order, and the options of all of them in order."""
        qs = self.session.execute(select(questions).where(questions.c.consultation_id == cid)
                                  .order_by(questions.c.position)).all()
        opts = self.session.execute(select(options).where(options.c.question_id.in_([q.id for q in qs]))
                                    .order_by(options.c.position)).all() if qs else []
        return qs, opts

    # ---- draft versions and paragraphs -----------------------------------------------------------
    def current_version(self, cid: uuid.UUID):
        return self.session.execute(select(draft_versions).where(draft_versions.c.consultation_id == cid)
                                    .order_by(draft_versions.c.number.desc()).limit(1)).first()

    def paragraphs(self, version_id: uuid.UUID) -> list[drafts.Paragraph]:
        return [drafts.Paragraph(r.id, r.text) for r in self.session.execute(
            select(paragraphs.c.id, paragraphs.c.text).where(paragraphs.c.version_id == version_id)
            .order_by(paragraphs.c.position))]

    def add_version(self, version_id: uuid.UUID, cid: uuid.UUID, number: int, note: str | None) -> None:
        self.session.execute(draft_versions.insert().values(id=version_id, consultation_id=cid, number=number,
                                                            note=note))

    def set_paragraphs(self, version_id: uuid.UUID, items: list[drafts.Paragraph], replace: bool) -> None:
        """The version's paragraphs in order (``replace``: instead of those it had)."""
        if replace:
            self.session.execute(paragraphs.delete().where(paragraphs.c.version_id == version_id))
        if items:
            self.session.execute(paragraphs.insert(), [{"version_id": version_id, "id": p.id, "position": i + 1,
                                                        "text": p.text} for i, p in enumerate(items)])

    def version_ids(self, cid: uuid.UUID, numbers: list[int]) -> dict[int, uuid.UUID]:
        return {r.number: r.id for r in self.session.execute(
            select(draft_versions.c.number, draft_versions.c.id).where(draft_versions.c.consultation_id == cid,
                                                                      draft_versions.c.number.in_(numbers)))}

    def published_per_paragraph(self, cid: uuid.UUID) -> dict[uuid.UUID, int]:
        return dict(self.session.execute(select(comments.c.paragraph_id, func.count()).where(
            comments.c.consultation_id == cid, comments.c.status == "published",
            comments.c.paragraph_id.is_not(None)).group_by(comments.c.paragraph_id)).all())

    # ---- attachments and decisions ---------------------------------------------------------------
    def attachments(self, cid: uuid.UUID) -> list:
        return self.session.execute(select(attachments).where(attachments.c.consultation_id == cid)
                                    .order_by(attachments.c.uploaded_at)).all()

    def attachment(self, cid: uuid.UUID, attachment_id: uuid.UUID):
        return self.session.execute(select(attachments).where(attachments.c.id == attachment_id,
                                                              attachments.c.consultation_id == cid)).first()

    def add_attachment(self, cid: uuid.UUID, uploaded_by: uuid.UUID, meta: dict):
        return self.session.execute(attachments.insert().values(
            id=uuid.uuid4(), consultation_id=cid, uploaded_by=uploaded_by, **meta).returning(attachments)).one()

    def decision(self, cid: uuid.UUID):
        return self.session.execute(select(decisions).where(decisions.c.consultation_id == cid)).first()

    def has_decision(self, cid: uuid.UUID) -> bool:
        return self.session.execute(select(decisions.c.consultation_id)
                                    .where(decisions.c.consultation_id == cid)).first() is not None

    def add_decision(self, cid: uuid.UUID, recorded_by: uuid.UUID, publication_due: datetime, **values):
        return self.session.execute(decisions.insert().values(
            consultation_id=cid, publication_due=publication_due, recorded_by=recorded_by, **values)
            .returning(decisions)).one()

    def decision_adopted_on(self, cid: uuid.UUID) -> date | None:
        return self.session.execute(select(decisions.c.adopted_on).where(decisions.c.consultation_id == cid)).scalar()

    # ---- lists -----------------------------------------------------------------------------------
    def public_page(self, status: str | None, category: int | None, form: str | None, page: int, per_page: int,
                    q: str | None, unit: str | None, year: int | None) -> tuple[int, list]:
        """Public consultations matching the filters (``q``: full text or close words, best first),
        newest start first: the number of them and one page."""
        cond = [consultations.c.status.in_(PUBLIC)]
        rank = None
        if q:
            words = q.lower().strip()
            tsq = func.plainto_tsquery("simple", words)
            similarity = func.word_similarity(words, consultations.c.search_text)
            cond.append(or_(consultations.c.search_vector.op("@@")(tsq), similarity > 0.45))
            rank = func.ts_rank(consultations.c.search_vector, tsq) + similarity
        if unit:
            cond.append(unit_filter(unit))
        if year:
            cond.append(func.extract("year", consultations.c.starts_on) == year)
        if status is not None:
            cond.append(consultations.c.status == status)
        if category is not None:
            cond.append(consultations.c.category == category)
        if form is not None:
            cond.append(consultations.c.form == form)
        total = self.session.execute(select(func.count()).select_from(consultations).where(and_(*cond))).scalar_one()
        order = [consultations.c.starts_on.desc().nulls_last(), consultations.c.id]
        if rank is not None:
            order.insert(0, rank.desc())
        rows = self.session.execute(select(consultations).where(and_(*cond)).order_by(*order)
                                    .offset((page - 1) * per_page).limit(per_page)).all()
        return total, rows

    def public_catalogue(self) -> list:
        return self.session.execute(select(consultations).where(consultations.c.status.in_(PUBLIC))
                                    .order_by(consultations.c.published_at.desc().nulls_last(),
                                              consultations.c.id)).all()

    def initiatives_of(self, person_id: uuid.UUID, limit: int = 500) -> list:
        c = consultations.c
        return self.session.execute(select(*(c[name] for name in MyInitiative.model_fields))
                                    .where(c.initiator_id == person_id).order_by(c.created_at.desc())
                                    .limit(limit)).all()

    # ---- comments --------------------------------------------------------------------------------
    def serialise_author(self, cid: uuid.UUID, author_id: uuid.UUID | str) -> None:
        """Until the transaction ends, this author's other comments on this consultation wait (an
        author without an account: ``offline:<name>``)."""
        self.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"comment:{cid}:{author_id}", 0))))

    def fingerprints_of(self, author_id: uuid.UUID) -> list[tuple[uuid.UUID, str | None, str | None]]:
        """(consultation, fingerprint, text) of every comment of the author, whatever its status; the
        text only of a row without a fingerprint (written before they were kept)."""
        return [tuple(r) for r in self.session.execute(_FINGERPRINTS_OF, {"author_id": author_id})]

    def offline_bodies(self, cid: uuid.UUID, author_name: str) -> list[str]:
        """Texts of the submissions received offline on ``cid`` under this name (any case), any status."""
        return list(self.session.execute(select(comments.c.body).where(
            comments.c.consultation_id == cid, comments.c.channel != "web",
            func.lower(comments.c.author_name) == author_name.lower())).scalars())

    def add_comment(self, published: bool = False, **values) -> dict:
        """A new comment: pending, or published at once (decided now) when the screening passed it."""
        return self.session.execute(_insert_comment(frozenset(values), published), values).one()._asdict()

    def comment_page(self, cid: uuid.UUID, viewer: uuid.UUID | None, page: int, per_page: int, newest_first: bool,
                     alternative_id: uuid.UUID | None, paragraph_id: uuid.UUID | None) -> tuple[int, list[dict]]:
        """Published comments, plus ``viewer``'s own of any status: the number and one page."""
        visible = comments.c.status == "published"
        if viewer is not None:  # their own, and what they registered from another channel
            visible = or_(visible, comments.c.author_id == viewer, comments.c.entered_by == viewer)
        cond = [comments.c.consultation_id == cid, visible]
        if alternative_id is not None:
            cond.append(comments.c.alternative_id == alternative_id)
        if paragraph_id is not None:
            cond.append(comments.c.paragraph_id == paragraph_id)
        total = self.session.execute(select(func.count()).select_from(comments).where(and_(*cond))).scalar_one()
        order = comments.c.created_at.desc() if newest_first else comments.c.created_at.asc()
        rows = self.session.execute(select(comments).where(and_(*cond)).order_by(order, comments.c.id)
                                    .offset((page - 1) * per_page).limit(per_page)).all()
        return total, [r._asdict() for r in rows]

    def page_and_tallies(self, cid: uuid.UUID, newest_first: bool, offset: int, limit: int, with_comments: bool,
                         with_results: bool):
        """In one statement: a page of the published comments (as JSON, when ``with_comments``) and the
        live tallies (when ``with_results``): supporters by alternative, answers by option, respondents
        by question, participants."""
        return self.session.execute(PAGE_AND_TALLIES[newest_first], {
            "cid": cid, "with_comments": with_comments, "with_results": with_results, "offset": offset,
            "limit": limit}).one()

    def count_published(self, cid: uuid.UUID) -> int:
        return self.session.execute(select(func.count()).select_from(comments).where(
            comments.c.consultation_id == cid, comments.c.status == "published")).scalar_one()

    def comments_by(self, author_id: uuid.UUID, limit: int = 500) -> list[dict]:
        return [r._asdict() for r in self.session.execute(
            select(comments).where(comments.c.author_id == author_id)
            .order_by(comments.c.created_at.desc()).limit(limit)).all()]

    def publish_comment(self, comment_id: uuid.UUID):
        """A pending comment published: its consultation and author, or None (unknown or decided)."""
        return self.session.execute(update(comments).where(comments.c.id == comment_id, comments.c.status == "pending")
                                    .values(status="published", decided_at=func.now())
                                    .returning(comments.c.consultation_id, comments.c.author_id)).first()

    def reject_comment(self, comment_id: uuid.UUID, grounds: list[str], note: str | None):
        """A comment not yet rejected now is: its consultation and author, or None."""
        return self.session.execute(update(comments).where(comments.c.id == comment_id, comments.c.status != "rejected")
                                    .values(status="rejected", decided_at=func.now(), rejection_grounds=grounds,
                                            rejection_note=note)
                                    .returning(comments.c.consultation_id, comments.c.author_id)).first()

    # ---- survey answers and support --------------------------------------------------------------
    def put_answer(self, cid: uuid.UUID, question_id: uuid.UUID, person_id: uuid.UUID, option_ids: list,
                   text: str | None) -> None:
        """The person's answer to the question, replacing an earlier one."""
        self.session.execute(insert(responses).values(
            question_id=question_id, person_id=person_id, consultation_id=cid, option_ids=option_ids,
            text_answer=text)
            .on_conflict_do_update(index_elements=[responses.c.question_id, responses.c.person_id],
                                   set_={"option_ids": option_ids, "text_answer": text, "updated_at": func.now()}))

    def put_support(self, cid: uuid.UUID, person_id: uuid.UUID, alternative_id: uuid.UUID) -> None:
        """The one alternative the person supports, replacing an earlier choice."""
        self.session.execute(insert(supports).values(consultation_id=cid, person_id=person_id,
                                                     alternative_id=alternative_id)
                             .on_conflict_do_update(index_elements=[supports.c.consultation_id, supports.c.person_id],
                                                    set_={"alternative_id": alternative_id, "updated_at": func.now()}))

    def set_answering_for(self, cid: uuid.UUID, person_id: uuid.UUID, organisation: dict) -> None:
        """Every answer and support of the person in ``cid`` given for ``organisation`` (its
        ``organisation_id``, ``_name``, ``_kind``; all None: in their own name)."""
        for table in (responses, supports):
            self.session.execute(update(table).where(table.c.consultation_id == cid, table.c.person_id == person_id)
                                 .values(**organisation))

    def tallies(self, cid: uuid.UUID) -> dict:
        """Supporters per alternative (in order, as ``(id, text, count)``), answers per option and
        per question, and how many persons took part at all."""
        s = self.session
        return {
            "alternatives": [tuple(r) for r in s.execute(
                select(alternatives.c.id, alternatives.c.text, func.count(supports.c.person_id))
                .select_from(alternatives.outerjoin(supports, supports.c.alternative_id == alternatives.c.id))
                .where(alternatives.c.consultation_id == cid).group_by(alternatives.c.id)
                .order_by(alternatives.c.position)).all()],
            "options": dict(s.execute(select(func.unnest(responses.c.option_ids).label("option_id"), func.count())
                                      .where(responses.c.consultation_id == cid).group_by("option_id")).all()),
            "respondents": dict(s.execute(select(responses.c.question_id, func.count())
                                          .where(responses.c.consultation_id == cid)
                                          .group_by(responses.c.question_id)).all()),
            "participants": s.execute(select(func.count()).select_from(
                select(responses.c.person_id).where(responses.c.consultation_id == cid)
                .union(select(supports.c.person_id).where(supports.c.consultation_id == cid)).subquery())).scalar_one(),
        }

    def closing_counts(self, cid: uuid.UUID) -> dict:
        """What the closing event tells the reports service to expect: comments by status, respondents."""
        by_status = dict(self.session.execute(select(comments.c.status, func.count())
                                              .where(comments.c.consultation_id == cid)
                                              .group_by(comments.c.status)).all())
        people = self.session.execute(select(func.count()).select_from(respondents(cid))).scalar_one()
        return {"comments": {s: by_status.get(s, 0) for s in ("pending", "published", "rejected")},
                "respondents": people}

    # ---- deadlines -------------------------------------------------------------------------------
    def deadline_rows(self, units: list[uuid.UUID] | None) -> dict[str, list]:
        """Consultations with a moderation clock (only when ``units`` is None: everything), with a
        report deadline, and decisions with their publication deadline; of ``units`` when given."""
        scope = [] if units is None else [consultations.c.unit_id.in_(units)]
        s = self.session
        return {
            "moderation": [] if units is not None else s.execute(
                select(consultations).where(consultations.c.moderation_due.is_not(None))).all(),
            "report": s.execute(select(consultations).where(consultations.c.report_due.is_not(None), *scope)).all(),
            "decision": s.execute(select(consultations.c.id, consultations.c.title, consultations.c.unit_name,
                                         decisions.c.publication_due, decisions.c.recorded_at)
                                  .join(decisions, decisions.c.consultation_id == consultations.c.id)
                                  .where(*scope)).all(),
        }

    # ---- the annual plan (R-3.3) -----------------------------------------------------------------
    def add_plan_entry(self, **values):
        return self.session.execute(plan_entries.insert().values(**values).returning(plan_entries)).one()

    def plan_entry(self, entry_id: uuid.UUID, lock: bool = False):
        q = select(plan_entries).where(plan_entries.c.id == entry_id)
        return self.session.execute(q.with_for_update() if lock else q).first()

    def update_plan_entry(self, entry_id: uuid.UUID, **values) -> None:
        self.session.execute(update(plan_entries).where(plan_entries.c.id == entry_id).values(**values))

    def plan_of_year(self, year: int, statuses: list[str], everything_proposed: bool,
                     proposer: uuid.UUID | None) -> list:
        """The entries of ``year`` in ``statuses``; also every proposed or declined one, or those of
        ``proposer``; by quarter (unplanned last), then title."""
        visible = plan_entries.c.status.in_(statuses)
        if everything_proposed:
            visible = or_(visible, plan_entries.c.status.in_([PlanStatus.proposed.value, PlanStatus.declined.value]))
        elif proposer is not None:
            visible = or_(visible, plan_entries.c.proposed_by == proposer)
        return self.session.execute(select(plan_entries).where(plan_entries.c.year == year, visible)
                                    .order_by(plan_entries.c.planned_quarter.nulls_last(), plan_entries.c.title)).all()

    def consultations_among(self, ids: set[uuid.UUID]) -> list:
        return self.session.execute(select(consultations).where(consultations.c.id.in_(ids))).all() if ids else []


    # ---- what the reports service reads -------------------------------------------------------------
    def comments_after(self, cid: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int,
                       everything: bool) -> list:
        """Up to ``limit`` comments after the ``(created_at, id)`` cursor, oldest first: published ones,
        or every submitted one (``everything``)."""
        cond = [comments.c.consultation_id == cid]
        if not everything:
            cond.append(comments.c.status == "published")
        if after is not None:
            cond.append(tuple_(comments.c.created_at, comments.c.id) > tuple_(*after))
        return self.session.execute(select(comments).where(and_(*cond))
                                    .order_by(comments.c.created_at, comments.c.id).limit(limit)).all()

    def respondent_ids(self, cid: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        people = respondents(cid)
        q = select(people.c.pid).order_by(people.c.pid).limit(limit)
        if after is not None:
            q = q.where(people.c.pid > after)
        return self.session.execute(q).scalars().all()

    def took_part_before(self, cid: uuid.UUID, person_ids: list[uuid.UUID]) -> set:
        """Of ``person_ids``, those with a comment, a survey answer or a supported alternative in a
        consultation opened before ``cid``."""
        opened = self.session.execute(select(consultations.c.opened_at).where(consultations.c.id == cid)).scalar()
        if not person_ids or opened is None:
            return set()
        other = select(consultations.c.id).where(consultations.c.id != cid, consultations.c.opened_at < opened)
        found: set = set()
        for table, person in ((comments, comments.c.author_id), (responses, responses.c.person_id),
                              (supports, supports.c.person_id)):
            found |= set(self.session.execute(select(person).where(
                person.in_(person_ids), table.c.consultation_id.in_(other)).distinct()).scalars())
        return found

    def respondent_breakdown(self, cid: uuid.UUID) -> dict[str, dict[str, int]]:
        """Respondents by type (``private`` or the institution's kind) and by channel: a respondent is
        an institution (by id) or a person acting in their own name, over published comments, survey
        answers and supports."""
        v = voices(cid)
        who = func.count(func.distinct(func.coalesce(v.c.oid, v.c.pid)))
        kind = func.coalesce(v.c.kind, PRIVATE_PERSON)
        return {"by_type": dict(self.session.execute(select(kind, who).group_by(text("1"))).all()),
                "by_channel": dict(self.session.execute(select(v.c.channel, who).group_by(text("1"))).all())}

    def year_counts(self, year: int) -> list:
        """``(category, status, count)`` of the published consultations starting in ``year``."""
        return self.session.execute(select(consultations.c.category, consultations.c.status, func.count())
                                    .where(func.extract("year", consultations.c.starts_on) == year,
                                           consultations.c.published_at.is_not(None))
                                    .group_by(consultations.c.category, consultations.c.status)).all()

def respondents(cid: uuid.UUID):
    """Who answered the survey or supported an alternative of ``cid`` (a subquery of ``pid``)."""
    return union(select(responses.c.person_id.label("pid")).where(responses.c.consultation_id == cid),
                 select(supports.c.person_id).where(supports.c.consultation_id == cid)).subquery()


# The channel a comment came by: the `channel` column where the table has one (paper, e-mail, hearing
# … registered by an official), else every comment came through the site.
COMMENT_CHANNEL = comments.c.channel if "channel" in comments.c else literal(WEB_CHANNEL)


def voices(cid: uuid.UUID):
    """``(pid, oid, kind, channel)`` of everyone who took part in ``cid`` (a subquery): authors of
    published comments, survey respondents and supporters, with the institution they acted for."""
    def part(table, person, channel, *cond):
        return select(person.label("pid"), table.c.organisation_id.label("oid"),
                      table.c.organisation_kind.label("kind"), channel.label("channel")).where(
            table.c.consultation_id == cid, *cond)
    # a submission received offline has no account: its author counts once by the name as written
    author = func.coalesce(comments.c.author_id, cast(func.md5(func.lower(comments.c.author_name)), Uuid))
    return union(part(comments, author, COMMENT_CHANNEL, comments.c.status == "published"),
                 part(responses, responses.c.person_id, literal(WEB_CHANNEL)),
                 part(supports, supports.c.person_id, literal(WEB_CHANNEL))).subquery()


def unit_filter(unit: str):
    """A unit's id (as the registry's `/api/v1/units` lists it), or, kept for old links, its name.
    An id no consultation carries simply matches nothing (this service does not own the units)."""
    try:
        return consultations.c.unit_id == uuid.UUID(unit)
    except ValueError:
        return consultations.c.unit_name == unit
