"""Consultation rules as plain functions over a SQLAlchemy session.

``actor`` is the acting person as the gateway resolved them with the registry
(:class:`contracts.registry.Principal`) or None for an anonymous reader. Visibility
follows DESIGN, "Who sees what"; an object the actor may not see is NotFound, never Forbidden.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from chassis.outbox import add_event
from chassis.text import canonical
from chassis.workdays import calendar_deadline, local_today, working_deadline
from contracts.consultations import (MODERATION_MARK, NOTICE_LABELS, PUBLIC_STATUSES, AlternativeOut,
                                     CommentIn, CommentOut, CommentPage, MyInitiative, CommentSubmitted,
                                     ConsultationClosed, ConsultationIn, ConsultationOut, ConsultationPage,
                                     ConsultationPatch, ConsultationPublished, ConsultationSubmitted,
                                     ConsultationSummary, Form, Notice, OptionOut, OptionTally, QuestionIn,
                                     QuestionKind, QuestionOut, QuestionTally, ResponseIn, Results,
                                     AlternativeTally, CommentPublished, CommentWasRejected,
                                     InitiativeDecision, InitiativeStatusChanged, NewVersionIn,
                                     ParagraphChange, ParagraphOut, Status, VersionDiff, DecisionIn,
                                     DecisionOut, DecisionPublished, TimelineEntry, AttachmentMeta,
                                     AttachmentOut, ConsultationArchived, Deadline, DeadlineList, SurveyAnswered)
from contracts.identity import Principal, Role
from services.consultations import drafts
from services.consultations.models import (alternatives, attachments, comments, consultations, decisions,
                                           draft_versions,
                                           options, paragraphs, questions, responses, status_history,
                                           supports)

DECISION_WORKING_DAYS = 5

REPORT_DAYS = 15
MODERATION_WORKING_DAYS = 2


@dataclass(frozen=True)
class Rules:
    """What settings decide (docs/settings.md)."""

    min_term_days: int = 15
    min_term_days_initiative: int = 30   # read as days
    public_url: str = "http://localhost:8000"
    holidays_are_days_off: bool = True
    initiative_term: str = "calendar_month"  # «not less than one month»: calendar_month | days
    max_years_ahead: int = 2             # no date later than this many years from today
    max_term_days: int = 366             # the longest consultation, calendar days


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, clamped to that month's last day (31 January + 1 = 28/29 February)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def date_errors(starts_on: date | None, ends_on: date | None, today: date, rules: Rules) -> list[dict]:
    """What is wrong with a consultation's dates: order, how far ahead, how long (field errors)."""
    latest = add_months(today, 12 * rules.max_years_ahead)
    errors = []
    for name, value in (("starts_on", starts_on), ("ends_on", ends_on)):
        if value is not None and value > latest:
            errors.append({"field": name, "message": f"не пізніше {latest:%d.%m.%Y}", "type": "date_too_far"})
    if starts_on and ends_on and ends_on < starts_on:
        errors.append({"field": "ends_on", "message": "раніше за starts_on", "type": "end_before_start"})
    elif starts_on and ends_on and (ends_on - starts_on).days + 1 > rules.max_term_days:
        errors.append({"field": "ends_on", "message": f"строк не довше {rules.max_term_days} календарних днів",
                       "type": "term_too_long"})
    return errors


def term_shortfall(starts_on: date, ends_on: date, initiative: bool, rules: Rules) -> str | None:
    """Why the term is too short (R-1.12: calendar days; R-3.11: «not less than one month», by
    default in calendar months: it lasts until the same date next month), or None."""
    if initiative and rules.initiative_term == "calendar_month":
        earliest_end = add_months(starts_on, 1)
        return None if ends_on >= earliest_end else f"не менше місяця: до {earliest_end:%d.%m.%Y} включно"
    minimum = rules.min_term_days_initiative if initiative else rules.min_term_days
    term = (ends_on - starts_on).days + 1
    return None if term >= minimum else f"щонайменше {minimum} календарних днів"


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- who sees and does what ----------------------------------------------------------------------

def is_moderator(actor: Principal | None) -> bool:
    return actor is not None and actor.has(Role.moderator)


def owns(actor: Principal | None, row) -> bool:
    """An official of the owning structural unit."""
    return actor is not None and row.unit_id is not None and row.unit_id in actor.units()


def can_see(actor: Principal | None, row) -> bool:
    status = Status(row.status)
    if status in PUBLIC_STATUSES:
        return True
    if status == Status.draft:
        return owns(actor, row) or is_moderator(actor)
    initiator = actor is not None and actor.person_id == row.initiator_id
    if status in (Status.submitted, Status.rejected):  # the initiator and moderators only
        return is_moderator(actor) or initiator
    if status in (Status.forwarded, Status.declined):  # and the unit it was passed to
        return is_moderator(actor) or initiator or owns(actor, row)
    return False


def _load(session: Session, actor: Principal | None, consultation_id: uuid.UUID, lock: bool = False):
    stmt = select(consultations).where(consultations.c.id == consultation_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None or not can_see(actor, row):
        raise NotFound("Консультацію не знайдено", code="consultation_not_found")
    return row


def require_participant(actor: Principal | None) -> Principal:
    """R-1.3, R-3.10: comment, vote or initiate only when eligible and consented."""
    if actor is None:
        raise Forbidden("Потрібно увійти", code="login_required")
    if not actor.consent_given:
        raise Forbidden("Спершу надайте згоду на обробку персональних даних", code="consent_required")
    if not actor.eligibility.eligible:
        reason = actor.eligibility.reasons[0]
        raise Forbidden("Ви можете читати, але не брати участь у консультаціях", code=reason,
                        errors=[{"field": "person", "message": r, "type": r} for r in actor.eligibility.reasons])
    return actor


def _history(session: Session, consultation_id: uuid.UUID, old: str | None, new: Status,
             actor_id: uuid.UUID | None, note: str | None = None) -> None:
    session.execute(status_history.insert().values(consultation_id=consultation_id, from_status=old,
                                                   to_status=new.value, actor_id=actor_id, note=note))


# ---- drafting and initiatives ------------------------------------------------------------------

def create(session: Session, actor: Principal | None, data: ConsultationIn, today: date | None = None,
           rules: Rules = Rules()) -> ConsultationOut:
    """An official's draft, or a resident's / institution head's initiative (R-2.2, R-3.10)."""
    if actor is None:
        raise Forbidden("Потрібно увійти", code="login_required")
    _check_dates(data.starts_on, data.ends_on, today, rules)
    cid = uuid.uuid4()
    official_units = [r for r in actor.roles if r.role == Role.official and r.unit_id]
    if official_units:
        unit = official_units[0]
        status = Status.draft
        values = dict(unit_id=unit.unit_id, unit_name=unit.unit_name, owner_id=actor.person_id)
    else:
        require_participant(actor)
        if data.form == Form.draft_act:
            raise InvalidInput("Ініціювати можна пропозицію або опитування", code="form_not_allowed",
                               errors=[{"field": "form", "message": "proposal або survey (п. 2.2)"}])
        status = Status.submitted
        values = dict(initiator_id=actor.person_id, initiator_name=actor.full_name,
                      moderation_due=working_deadline(now(), MODERATION_WORKING_DAYS))
    session.execute(consultations.insert().values(
        id=cid, form=data.form.value, title=data.title, question=data.question, category=data.category,
        status=status.value, notice=data.notice.model_dump(), starts_on=data.starts_on,
        ends_on=data.ends_on, **values))
    _replace_alternatives(session, cid, [a.text for a in data.alternatives])
    _replace_questions(session, cid, data.questions)
    if data.draft_text:
        _write_version(session, cid, data.draft_text, None, new=True)
    _history(session, cid, None, status, actor.person_id)
    if status == Status.submitted:
        add_event(session, ConsultationSubmitted(consultation_id=cid, title=data.title, question=data.question,
                                                 category=data.category, initiator_id=actor.person_id,
                                                 submitted_at=now()))
    return view(session, actor, cid)


def _replace_alternatives(session: Session, cid: uuid.UUID, texts: list[str]) -> None:
    session.execute(alternatives.delete().where(alternatives.c.consultation_id == cid))
    if texts:
        session.execute(alternatives.insert(), [
            {"id": uuid.uuid4(), "consultation_id": cid, "position": i + 1, "text": t}
            for i, t in enumerate(texts)])


def _replace_questions(session: Session, cid: uuid.UUID, items: list[QuestionIn]) -> None:
    session.execute(questions.delete().where(questions.c.consultation_id == cid))
    for i, q in enumerate(items):
        qid = uuid.uuid4()
        session.execute(questions.insert().values(id=qid, consultation_id=cid, position=i + 1, text=q.text,
                                                  kind=q.kind.value))
        if q.options:
            session.execute(options.insert(), [{"id": uuid.uuid4(), "question_id": qid, "position": j + 1,
                                                "text": o.strip()} for j, o in enumerate(q.options)])


def _current_version(session: Session, cid: uuid.UUID):
    return session.execute(select(draft_versions).where(draft_versions.c.consultation_id == cid)
                           .order_by(draft_versions.c.number.desc()).limit(1)).first()


def _paragraphs(session: Session, version_id: uuid.UUID) -> list[drafts.Paragraph]:
    return [drafts.Paragraph(r.id, r.text) for r in session.execute(
        select(paragraphs.c.id, paragraphs.c.text).where(paragraphs.c.version_id == version_id)
        .order_by(paragraphs.c.position))]


def _write_version(session: Session, cid: uuid.UUID, text: str, note: str | None, new: bool) -> int:
    """Store the text as a new version (or rewrite the current one while drafting), carrying
    paragraph ids over from the previous text."""
    current = _current_version(session, cid)
    previous = _paragraphs(session, current.id) if current else []
    items = drafts.carry_ids(previous, drafts.split_paragraphs(text))
    if current is not None and not new:
        version_id, number = current.id, current.number
        session.execute(paragraphs.delete().where(paragraphs.c.version_id == version_id))
    else:
        version_id, number = uuid.uuid4(), (current.number + 1 if current else 1)
        session.execute(draft_versions.insert().values(id=version_id, consultation_id=cid, number=number, note=note))
    if items:
        session.execute(paragraphs.insert(), [{"version_id": version_id, "id": p.id, "position": i + 1,
                                               "text": p.text} for i, p in enumerate(items)])
    return number


def new_version(session: Session, actor: Principal | None, cid: uuid.UUID, data: NewVersionIn) -> ConsultationOut:
    """A revised draft act, e.g. after the comments (kept beside the earlier versions)."""
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Нову редакцію додає посадова особа підрозділу-власника", code="not_owner")
    if row.form != Form.draft_act.value:
        raise InvalidInput("Редакції мають лише проєкти актів", code="not_a_draft_act",
                           errors=[{"field": "form", "message": "draft_act"}])
    if row.status == Status.archived.value:
        raise Conflict("Архівна консультація незмінна", code="archived")
    _write_version(session, cid, data.draft_text, data.note, new=row.status != Status.draft.value)
    return view(session, actor, cid)


def version_diff(session: Session, actor: Principal | None, cid: uuid.UUID, a: int, b: int) -> VersionDiff:
    _load(session, actor, cid)
    found = {r.number: r.id for r in session.execute(
        select(draft_versions.c.number, draft_versions.c.id).where(draft_versions.c.consultation_id == cid,
                                                                  draft_versions.c.number.in_([a, b])))}
    missing = [n for n in (a, b) if n not in found]
    if missing:
        raise NotFound(f"Немає редакції {missing[0]}", code="version_not_found")
    counts = dict(session.execute(select(comments.c.paragraph_id, func.count()).where(
        comments.c.consultation_id == cid, comments.c.status == "published",
        comments.c.paragraph_id.is_not(None)).group_by(comments.c.paragraph_id)).all())
    changes = drafts.diff(_paragraphs(session, found[a]), _paragraphs(session, found[b]))
    return VersionDiff(from_version=a, to_version=b, paragraphs=[
        ParagraphChange(**c, comments=counts.get(c["paragraph_id"], 0)) for c in changes])


def _check_dates(starts_on: date | None, ends_on: date | None, today: date | None = None,
                 rules: Rules = Rules()) -> None:
    errors = date_errors(starts_on, ends_on, today or local_today(), rules)
    if errors:
        code = errors[0]["type"]
        detail = ("Дата завершення раніша за дату початку" if code == "end_before_start"
                  else "Дати консультації поза допустимими межами")
        raise InvalidInput(detail, code=code, errors=errors)


def update_draft(session: Session, actor: Principal | None, cid: uuid.UUID,
                 patch: ConsultationPatch, today: date | None = None, rules: Rules = Rules()) -> ConsultationOut:
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Редагувати може посадова особа підрозділу-власника", code="not_owner")
    if row.status != Status.draft.value:
        raise Conflict("Редагувати можна лише чернетку", code="not_a_draft")
    values = patch.model_dump(exclude_unset=True)
    texts = values.pop("alternatives", None)
    survey = values.pop("questions", None)
    text = values.pop("draft_text", None)
    if "notice" in values:
        values["notice"] = {**(row.notice or {}), **patch.notice.model_dump(exclude_unset=True)}
    _check_dates(values.get("starts_on", row.starts_on), values.get("ends_on", row.ends_on), today, rules)
    if values:
        session.execute(update(consultations).where(consultations.c.id == cid)
                        .values(**values, updated_at=func.now()))
    if texts is not None:
        _replace_alternatives(session, cid, [a["text"] for a in texts])
    if survey is not None:
        _replace_questions(session, cid, patch.questions)
    if text is not None:
        _write_version(session, cid, text, None, new=False)
    return view(session, actor, cid)


def missing_for_publication(row, alt_count: int, question_count: int = 0, paragraph_count: int = 0) -> list[str]:
    """What R-3.13 still lacks (field names; NOTICE_LABELS has the Ukrainian wording)."""
    notice = Notice.model_validate(row.notice or {})
    missing = [name for name, value in notice.model_dump().items() if not (value or "").strip()]
    if not (row.question or "").strip():
        missing.insert(0, "question")
    if row.form == Form.proposal.value and alt_count == 0:
        missing.append("alternatives")
    if row.form == Form.survey.value and question_count == 0:
        missing.append("questions")
    if row.form == Form.draft_act.value and paragraph_count == 0:
        missing.append("draft_text")
    for name in ("starts_on", "ends_on"):
        if getattr(row, name) is None:
            missing.append(name)
    return missing


def publish(session: Session, actor: Principal | None, cid: uuid.UUID, today: date, rules: Rules) -> ConsultationOut:
    """Owner publishes: refused while R-3.13 lacks anything or the term is too short (R-1.12, R-3.11)."""
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Оприлюднити може посадова особа підрозділу-власника", code="not_owner")
    if row.status != Status.draft.value:
        raise Conflict("Оприлюднити можна лише чернетку", code="not_a_draft")
    alt_count = session.execute(select(func.count()).select_from(alternatives)
                                .where(alternatives.c.consultation_id == cid)).scalar_one()
    q_count = session.execute(select(func.count()).select_from(questions)
                              .where(questions.c.consultation_id == cid)).scalar_one()
    version = _current_version(session, cid)
    p_count = len(_paragraphs(session, version.id)) if version else 0
    missing = missing_for_publication(row, alt_count, q_count, p_count)
    if missing:
        raise InvalidInput("Не заповнено: " + "; ".join(NOTICE_LABELS[m] for m in missing),
                           code="notice_incomplete",
                           errors=[{"field": m, "message": f"обов'язково (п. 3.13): {NOTICE_LABELS[m]}"}
                                   for m in missing])
    if row.starts_on < today:
        raise InvalidInput("Дата початку вже минула", code="start_in_past",
                           errors=[{"field": "starts_on", "message": "не раніше сьогодні"}])
    _check_dates(row.starts_on, row.ends_on, today, rules)
    short = term_shortfall(row.starts_on, row.ends_on, row.initiator_id is not None, rules)
    if short:
        term = (row.ends_on - row.starts_on).days + 1
        raise InvalidInput(f"Строк консультації {term} дн. закороткий: {short}", code="term_too_short",
                           errors=[{"field": "ends_on", "message": short}])
    session.execute(update(consultations).where(consultations.c.id == cid).values(
        status=Status.scheduled.value, published_at=func.now(), updated_at=func.now()))
    _history(session, cid, row.status, Status.scheduled, actor.person_id)
    if row.starts_on == today:
        _open(session, cid, rules)
    return view(session, actor, cid)


# ---- timers (safe with any number of instances: SKIP LOCKED) ------------------------------------

def _open(session: Session, cid: uuid.UUID, rules: Rules) -> None:
    row = session.execute(update(consultations).where(consultations.c.id == cid)
                          .values(status=Status.active.value, opened_at=func.now(), updated_at=func.now())
                          .returning(consultations)).one()
    _history(session, cid, Status.scheduled.value, Status.active, None, "start date")
    add_event(session, ConsultationPublished(
        consultation_id=cid, title=row.title, category=row.category, form=Form(row.form),
        question=row.question if len(row.question) <= 500 else row.question[:497].rstrip() + "…",
        starts_on=row.starts_on, ends_on=row.ends_on, initiator_id=row.initiator_id,
        url=f"{rules.public_url.rstrip('/')}/consultations/{cid}"))


def open_due(session: Session, today: date, rules: Rules, batch: int = 100) -> int:
    """Open scheduled consultations whose start date has come."""
    ids = session.execute(select(consultations.c.id).where(
        consultations.c.status == Status.scheduled.value, consultations.c.starts_on <= today)
        .limit(batch).with_for_update(skip_locked=True)).scalars().all()
    for cid in ids:
        _open(session, cid, rules)
    return len(ids)


def close_due(session: Session, today: date, batch: int = 100) -> int:
    """Close active consultations whose last day has ended (in the city's time zone); the event
    carries the counts the reports service checks its read model against."""
    from services.consultations.report_feed import closing_counts  # report_feed reads through this module

    rows = session.execute(select(consultations.c.id, consultations.c.ends_on).where(
        consultations.c.status == Status.active.value, consultations.c.ends_on < today)
        .limit(batch).with_for_update(skip_locked=True)).all()
    for row in rows:
        due = calendar_deadline(row.ends_on, REPORT_DAYS)
        session.execute(update(consultations).where(consultations.c.id == row.id).values(
            status=Status.closed.value, closed_at=func.now(), updated_at=func.now(), report_due=due))
        _history(session, row.id, Status.active.value, Status.closed, None, "end date")
        add_event(session, ConsultationClosed(consultation_id=row.id, closed_at=now(), report_due=due,
                                              **closing_counts(session, row.id)))
    return len(rows)


# ---- reading -------------------------------------------------------------------------------------

def view(session: Session, actor: Principal | None, cid: uuid.UUID) -> ConsultationOut:
    row = _load(session, actor, cid)
    alts = session.execute(select(alternatives.c.id, alternatives.c.position, alternatives.c.text)
                           .where(alternatives.c.consultation_id == cid)
                           .order_by(alternatives.c.position)).all()
    published = session.execute(select(func.count()).select_from(comments).where(
        comments.c.consultation_id == cid, comments.c.status == "published")).scalar_one()
    survey = _questions(session, cid)
    decision = session.execute(select(decisions).where(decisions.c.consultation_id == cid)).first()
    timeline = [] if Status(row.status) not in PUBLIC_STATUSES else [
        TimelineEntry(status=h.to_status, at=h.at) for h in session.execute(
            select(status_history.c.to_status, status_history.c.at).where(
                status_history.c.consultation_id == cid,
                status_history.c.to_status.in_([s.value for s in PUBLIC_STATUSES]))
            .order_by(status_history.c.id))]
    if decision is not None:
        timeline.append(TimelineEntry(status="decision", at=decision.recorded_at))
    version = _current_version(session, cid)
    text = _paragraphs(session, version.id) if version else []
    return ConsultationOut(
        id=row.id, form=row.form, title=row.title, question=row.question, category=row.category,
        status=row.status, unit_id=row.unit_id, unit_name=row.unit_name, initiator_name=row.initiator_name,
        alternatives=[AlternativeOut.model_validate(a._asdict()) for a in alts], questions=survey,
        draft_version=version.number if version else None,
        paragraphs=[ParagraphOut(id=p.id, number=i + 1, text=p.text) for i, p in enumerate(text)],
        notice=Notice.model_validate(row.notice or {}), starts_on=row.starts_on, ends_on=row.ends_on,
        published_at=row.published_at,
        moderation_mark=MODERATION_MARK if row.status == Status.submitted.value else None,
        outcome=row.outcome if (actor is not None and (actor.person_id == row.initiator_id or owns(actor, row)
                                                       or is_moderator(actor))) else None,
        missing_for_publication=(missing_for_publication(row, len(alts), len(survey), len(text))
                                 if owns(actor, row) else None),
        comments_published=published, timeline=timeline, attachments=_attachments(session, cid),
        decision=_decision_out(decision) if decision is not None else None)


def _questions(session: Session, cid: uuid.UUID) -> list[QuestionOut]:
    qs = session.execute(select(questions).where(questions.c.consultation_id == cid)
                         .order_by(questions.c.position)).all()
    opts = session.execute(select(options).where(options.c.question_id.in_([q.id for q in qs]))
                           .order_by(options.c.position)).all() if qs else []
    return [QuestionOut(id=q.id, position=q.position, text=q.text, kind=q.kind,
                        options=[OptionOut(id=o.id, text=o.text) for o in opts if o.question_id == q.id])
            for q in qs]


def _attachment_out(row) -> AttachmentOut:
    return AttachmentOut(id=row.id, kind=row.kind, title=row.title, filename=row.filename,
                         content_type=row.content_type, size=row.size, sha256=row.sha256,
                         url=f"/api/v1/consultations/{row.consultation_id}/attachments/{row.id}")


def _attachments(session: Session, cid: uuid.UUID) -> list[AttachmentOut]:
    return [_attachment_out(r) for r in session.execute(
        select(attachments).where(attachments.c.consultation_id == cid).order_by(attachments.c.uploaded_at))]


def add_attachment(session: Session, actor: Principal | None, cid: uuid.UUID, meta: AttachmentMeta) -> AttachmentOut:
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Файли додає посадова особа підрозділу-власника", code="not_owner")
    if row.status == Status.archived.value:
        raise Conflict("Архівна консультація незмінна", code="archived")
    if meta.kind == "decision" and not session.execute(
            select(decisions.c.consultation_id).where(decisions.c.consultation_id == cid)).first():
        raise Conflict("Спершу внесіть рішення", code="no_decision")
    created = session.execute(attachments.insert().values(
        id=uuid.uuid4(), consultation_id=cid, uploaded_by=actor.person_id, **meta.model_dump())
        .returning(attachments)).one()
    return _attachment_out(created)


def get_attachment(session: Session, actor: Principal | None, cid: uuid.UUID, attachment_id: uuid.UUID) -> AttachmentOut:
    _load(session, actor, cid)
    row = session.execute(select(attachments).where(attachments.c.id == attachment_id,
                                                    attachments.c.consultation_id == cid)).first()
    if row is None:
        raise NotFound("Файл не знайдено", code="attachment_not_found")
    return _attachment_out(row)


def _decision_out(row) -> DecisionOut:
    return DecisionOut(number=row.number, adopted_on=row.adopted_on, title=row.title, text=row.text,
                       publication_due=row.publication_due, recorded_at=row.recorded_at,
                       on_time=row.recorded_at <= row.publication_due)


def record_decision(session: Session, actor: Principal | None, cid: uuid.UUID, data: DecisionIn,
                    today: date, rules: Rules) -> ConsultationOut:
    """The owner records the adopted decision after the consultation (R-3.18); it is public at
    once, and whether it came within 5 working days of adoption is kept."""
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Рішення вносить посадова особа підрозділу-власника", code="not_owner")
    if row.status != Status.closed.value:
        raise Conflict("Рішення вносять після завершення консультації", code="consultation_not_closed")
    if data.adopted_on > today:
        raise InvalidInput("Дата ухвалення ще не настала", code="adopted_in_future",
                           errors=[{"field": "adopted_on", "message": "не пізніше сьогодні"}])
    if row.closed_at and data.adopted_on < row.closed_at.date() - timedelta(days=1):
        raise InvalidInput("Рішення ухвалено раніше, ніж завершилася консультація", code="adopted_before_close",
                           errors=[{"field": "adopted_on", "message": "після завершення консультації"}])
    if session.execute(select(decisions.c.consultation_id).where(decisions.c.consultation_id == cid)).first():
        raise Conflict("Рішення вже внесено", code="decision_exists")
    due = working_deadline(datetime.combine(data.adopted_on, datetime.min.time(), tzinfo=timezone.utc),
                           DECISION_WORKING_DAYS, rules.holidays_are_days_off)
    recorded = session.execute(decisions.insert().values(
        consultation_id=cid, number=data.number, adopted_on=data.adopted_on, title=data.title, text=data.text,
        publication_due=due, recorded_by=actor.person_id).returning(decisions)).one()
    out = _decision_out(recorded)
    add_event(session, DecisionPublished(consultation_id=cid, number=data.number, adopted_on=data.adopted_on,
                                         title=data.title, on_time=out.on_time,
                                         url=f"{rules.public_url.rstrip('/')}/consultations/{cid}"))
    return view(session, actor, cid)


def listing(session: Session, status: Status | None, category: int | None, form: Form | None,
            page: int, per_page: int, q: str | None = None, unit: str | None = None,
            year: int | None = None) -> ConsultationPage:
    cond = [consultations.c.status.in_([s.value for s in PUBLIC_STATUSES])]
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
        cond.append(consultations.c.status == status.value)
    if category is not None:
        cond.append(consultations.c.category == category)
    if form is not None:
        cond.append(consultations.c.form == form.value)
    total = session.execute(select(func.count()).select_from(consultations).where(and_(*cond))).scalar_one()
    order = [consultations.c.starts_on.desc().nulls_last(), consultations.c.id]
    if rank is not None:
        order.insert(0, rank.desc())
    rows = session.execute(select(consultations).where(and_(*cond)).order_by(*order)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return ConsultationPage(items=[ConsultationSummary.model_validate(r._asdict()) for r in rows],
                            total=total, page=page, per_page=per_page)


def unit_filter(unit: str):
    """A unit's id (as the registry's `/api/v1/units` lists it), or, kept for old links, its name.
    An id no consultation carries simply matches nothing (this service does not own the units)."""
    try:
        return consultations.c.unit_id == uuid.UUID(unit)
    except ValueError:
        return consultations.c.unit_name == unit


# ---- comments ------------------------------------------------------------------------------------

def same_text(a: str, b: str) -> bool:
    """Two comments say the same when they differ only in case, spacing, punctuation, invisible
    characters or Latin look-alikes (the screening's normalisation, chassis.text.canonical)."""
    return canonical(a) == canonical(b)


def add_comment(session: Session, actor: Principal | None, cid: uuid.UUID, data: CommentIn) -> CommentOut:
    require_participant(actor)
    row = _load(session, actor, cid)
    if row.status != Status.active.value:
        raise Conflict("Коментувати можна лише під час консультації", code="consultation_not_active")
    if data.alternative_id is not None and not session.execute(select(alternatives.c.id).where(
            alternatives.c.id == data.alternative_id, alternatives.c.consultation_id == cid)).first():
        raise InvalidInput("Такої альтернативи в цій консультації немає", code="alternative_not_found",
                           errors=[{"field": "alternative_id", "message": "не належить консультації"}])
    if data.paragraph_id is not None:
        version = _current_version(session, cid)
        if version is None or data.paragraph_id not in {p.id for p in _paragraphs(session, version.id)}:
            raise InvalidInput("Такого пункту в чинній редакції немає", code="paragraph_not_found",
                               errors=[{"field": "paragraph_id", "message": "не належить чинній редакції"}])
    # one author, one text, one consultation (issue 8): serialised per author and consultation, so
    # two identical posts sent at once cannot both pass
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"comment:{cid}:{actor.person_id}", 0))))
    earlier = session.execute(select(comments.c.body).where(comments.c.consultation_id == cid,
                                                            comments.c.author_id == actor.person_id)).scalars()
    if any(same_text(body, data.body) for body in earlier):
        raise Conflict("Ви вже надіслали такий самий коментар до цієї консультації", code="duplicate_comment",
                       errors=[{"field": "body", "message": "такий самий текст уже надіслано"}])
    comment_id = uuid.uuid4()
    created = session.execute(comments.insert().values(
        id=comment_id, consultation_id=cid, author_id=actor.person_id, author_name=actor.full_name,
        alternative_id=data.alternative_id, paragraph_id=data.paragraph_id, body=data.body, status="pending")
        .returning(comments)).one()
    add_event(session, CommentSubmitted(comment_id=comment_id, consultation_id=cid, author_id=actor.person_id,
                                        author_name=actor.full_name, alternative_id=data.alternative_id,
                                        paragraph_id=data.paragraph_id, body=data.body,
                                        submitted_at=created.created_at))
    return _comment_out(created, actor)


def list_comments(session: Session, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
                  newest_first: bool, alternative_id: uuid.UUID | None,
                  paragraph_id: uuid.UUID | None = None) -> CommentPage:
    """Published comments, plus the actor's own pending or rejected ones (only they see those)."""
    _load(session, actor, cid)
    visible = comments.c.status == "published"
    if actor is not None:
        visible = or_(visible, comments.c.author_id == actor.person_id)
    cond = [comments.c.consultation_id == cid, visible]
    if alternative_id is not None:
        cond.append(comments.c.alternative_id == alternative_id)
    if paragraph_id is not None:
        cond.append(comments.c.paragraph_id == paragraph_id)
    total = session.execute(select(func.count()).select_from(comments).where(and_(*cond))).scalar_one()
    order = comments.c.created_at.desc() if newest_first else comments.c.created_at.asc()
    rows = session.execute(select(comments).where(and_(*cond)).order_by(order, comments.c.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return CommentPage(items=[_comment_out(r, actor) for r in rows], total=total, page=page, per_page=per_page)


def _comment_out(row, actor: Principal | None) -> CommentOut:
    out = CommentOut.model_validate(row._asdict())
    if actor is None or actor.person_id != row.author_id:
        out.rejection_grounds = None
    return out


def my_comments(session: Session, actor: Principal) -> list[CommentOut]:
    """The author's comments with their status and, when rejected, the grounds (R-3.9)."""
    rows = session.execute(select(comments).where(comments.c.author_id == actor.person_id)
                           .order_by(comments.c.created_at.desc()).limit(500)).all()
    return [_comment_out(r, actor) for r in rows]


def my_initiatives(session: Session, actor: Principal) -> list[MyInitiative]:
    """The initiator's initiatives, newest first, with status and the grounds or conclusion (R-3.10,
    R-3.11): whatever became of them, the initiator keeps seeing them here."""
    c = consultations.c
    rows = session.execute(select(*(c[name] for name in MyInitiative.model_fields))
                           .where(c.initiator_id == actor.person_id).order_by(c.created_at.desc()).limit(500)).all()
    return [MyInitiative.model_validate(r._asdict()) for r in rows]


# ---- moderation outcomes (events from the moderation service) ------------------------------------

def comment_approved(session: Session, comment_id: uuid.UUID) -> bool:
    row = session.execute(update(comments).where(comments.c.id == comment_id, comments.c.status == "pending")
                          .values(status="published", decided_at=func.now())
                          .returning(comments.c.consultation_id, comments.c.author_id)).first()
    if row is None:
        return False  # unknown, or already decided: a late approval never republishes a rejection
    add_event(session, CommentPublished(comment_id=comment_id, consultation_id=row.consultation_id,
                                        author_id=row.author_id))
    return True


def comment_rejected(session: Session, comment_id: uuid.UUID, grounds: list[str], note: str | None) -> bool:
    """Rejected before or after publication: from now on only its author sees it, with the grounds."""
    row = session.execute(update(comments).where(comments.c.id == comment_id, comments.c.status != "rejected")
                          .values(status="rejected", decided_at=func.now(), rejection_grounds=grounds,
                                  rejection_note=note)
                          .returning(comments.c.consultation_id, comments.c.author_id)).first()
    if row is None:
        return False
    add_event(session, CommentWasRejected(comment_id=comment_id, consultation_id=row.consultation_id,
                                          author_id=row.author_id, grounds=grounds))
    return True


def _initiative_moved(session: Session, cid: uuid.UUID, expect: Status, new: Status, actor_id: uuid.UUID | None,
                      **values) -> bool:
    row = session.execute(update(consultations).where(consultations.c.id == cid,
                                                      consultations.c.status == expect.value)
                          .values(status=new.value, updated_at=func.now(), **values)
                          .returning(consultations.c.initiator_id, consultations.c.title)).first()
    if row is None:
        return False
    _history(session, cid, expect.value, new, actor_id)
    add_event(session, InitiativeStatusChanged(consultation_id=cid, initiator_id=row.initiator_id,
                                               status=new.value, title=row.title))
    return True


def initiative_approved(session: Session, cid: uuid.UUID, unit_id: uuid.UUID, unit_name: str,
                        moderator_id: uuid.UUID) -> bool:
    """R-3.10: passed to the competent structural unit, which gives its conclusion."""
    return _initiative_moved(session, cid, Status.submitted, Status.forwarded, moderator_id,
                             unit_id=unit_id, unit_name=unit_name)


def initiative_rejected(session: Session, cid: uuid.UUID, grounds: list[str], note: str | None,
                        moderator_id: uuid.UUID) -> bool:
    return _initiative_moved(session, cid, Status.submitted, Status.rejected, moderator_id,
                             outcome={"grounds": grounds, "note": note})


def decide_initiative(session: Session, actor: Principal | None, cid: uuid.UUID,
                      decision: InitiativeDecision) -> ConsultationOut:
    """The unit accepts (the initiative becomes its draft, the author still shown) or declines with a
    conclusion (R-3.10)."""
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Висновок дає посадова особа підрозділу, якому передано ініціативу", code="not_owner")
    if row.status != Status.forwarded.value:
        raise Conflict("Ініціатива не очікує висновку", code="not_forwarded")
    new = Status.draft if decision.accept else Status.declined
    _initiative_moved(session, cid, Status.forwarded, new, actor.person_id, owner_id=actor.person_id,
                      outcome={"accepted": decision.accept, "conclusion": decision.conclusion})
    return view(session, actor, cid)




# ---- survey answers and support of alternatives (R-1.9, R-3.12) -----------------------------------

def respond(session: Session, actor: Principal | None, cid: uuid.UUID, data: ResponseIn) -> Results:
    """One answer per person per question, and one supported alternative per person; sending again
    replaces them until the consultation closes. Invalid input changes nothing."""
    require_participant(actor)
    row = _load(session, actor, cid)
    if row.status != Status.active.value:
        raise Conflict("Відповідати можна лише під час консультації", code="consultation_not_active")
    if not data.answers and data.alternative_id is None:
        raise InvalidInput("Немає відповідей", code="empty_response",
                           errors=[{"field": "answers", "message": "додайте відповідь або alternative_id"}])
    survey = {q.id: q for q in _questions(session, cid)}
    errors = []
    for i, answer in enumerate(data.answers):
        q = survey.get(answer.question_id)
        field = f"answers.{i}"
        if q is None:
            errors.append({"field": f"{field}.question_id", "message": "питання не з цієї консультації"})
            continue
        allowed = {o.id for o in q.options}
        if any(o not in allowed for o in answer.option_ids):
            errors.append({"field": f"{field}.option_ids", "message": "варіант не з цього питання"})
        elif q.kind == QuestionKind.single and len(answer.option_ids) != 1:
            errors.append({"field": f"{field}.option_ids", "message": "оберіть рівно один варіант"})
        elif q.kind == QuestionKind.multiple and not answer.option_ids:
            errors.append({"field": f"{field}.option_ids", "message": "оберіть хоча б один варіант"})
        elif q.kind == QuestionKind.text and not (answer.text or "").strip():
            errors.append({"field": f"{field}.text", "message": "напишіть відповідь"})
        elif q.kind != QuestionKind.text and answer.text:
            errors.append({"field": f"{field}.text", "message": "це питання з варіантами"})
    if len({a.question_id for a in data.answers}) != len(data.answers):
        errors.append({"field": "answers", "message": "кожне питання — один раз"})
    if data.alternative_id is not None and not session.execute(select(alternatives.c.id).where(
            alternatives.c.id == data.alternative_id, alternatives.c.consultation_id == cid)).first():
        errors.append({"field": "alternative_id", "message": "не належить консультації"})
    if errors:
        raise InvalidInput("Відповідь не прийнято: " + "; ".join(e["message"] for e in errors),
                           code="invalid_response", errors=errors)
    for answer in data.answers:
        session.execute(insert(responses).values(
            question_id=answer.question_id, person_id=actor.person_id, consultation_id=cid,
            option_ids=sorted(set(answer.option_ids), key=str), text_answer=(answer.text or "").strip() or None)
            .on_conflict_do_update(index_elements=[responses.c.question_id, responses.c.person_id],
                                   set_={"option_ids": sorted(set(answer.option_ids), key=str),
                                         "text_answer": (answer.text or "").strip() or None,
                                         "updated_at": func.now()}))
    if data.alternative_id is not None:
        session.execute(insert(supports).values(consultation_id=cid, person_id=actor.person_id,
                                                alternative_id=data.alternative_id)
                        .on_conflict_do_update(index_elements=[supports.c.consultation_id, supports.c.person_id],
                                               set_={"alternative_id": data.alternative_id,
                                                     "updated_at": func.now()}))
    add_event(session, SurveyAnswered(consultation_id=cid, person_id=actor.person_id, answered_at=now()))
    return results(session, actor, cid)


def results(session: Session, actor: Principal | None, cid: uuid.UUID) -> Results:
    """Live tallies (R-3.12)."""
    row = _load(session, actor, cid)
    alts = session.execute(
        select(alternatives.c.id, alternatives.c.text, func.count(supports.c.person_id))
        .select_from(alternatives.outerjoin(supports, supports.c.alternative_id == alternatives.c.id))
        .where(alternatives.c.consultation_id == cid).group_by(alternatives.c.id)
        .order_by(alternatives.c.position)).all()
    option_counts = dict(session.execute(
        select(func.unnest(responses.c.option_ids).label("option_id"), func.count())
        .where(responses.c.consultation_id == cid).group_by("option_id")).all())
    respondents = dict(session.execute(
        select(responses.c.question_id, func.count()).where(responses.c.consultation_id == cid)
        .group_by(responses.c.question_id)).all())
    participants = session.execute(select(func.count()).select_from(
        select(responses.c.person_id).where(responses.c.consultation_id == cid)
        .union(select(supports.c.person_id).where(supports.c.consultation_id == cid)).subquery())).scalar_one()
    return Results(
        consultation_id=cid, status=row.status, participants=participants,
        alternatives=[AlternativeTally(alternative_id=a.id, text=a.text, supporters=a[2]) for a in alts],
        questions=[QuestionTally(question_id=q.id, text=q.text, kind=q.kind, respondents=respondents.get(q.id, 0),
                                 options=[OptionTally(option_id=o.id, text=o.text, count=option_counts.get(o.id, 0))
                                          for o in q.options])
                   for q in _questions(session, cid)])


def catalogue(session: Session) -> list[ConsultationSummary]:
    rows = session.execute(select(consultations).where(
        consultations.c.status.in_([s.value for s in PUBLIC_STATUSES]))
        .order_by(consultations.c.published_at.desc().nulls_last(), consultations.c.id)).all()
    return [ConsultationSummary.model_validate(r._asdict()) for r in rows]


# ---- deadlines and the archive ---------------------------------------------------------------------

def deadlines(session: Session, actor: Principal | None, at: datetime, only_overdue: bool = False) -> DeadlineList:
    """Deadlines someone answers for: moderators see the moderation clock of initiatives (R-3.10);
    officials the report (R-3.17) and decision (R-3.18) deadlines of their units; both missed
    ones marked overdue (not done in time, or done late)."""
    if actor is None or not (actor.has(Role.official) or is_moderator(actor) or actor.has(Role.admin)):
        raise Forbidden("Строки бачать посадові особи та модератори", code="role_required")
    everything = is_moderator(actor) or actor.has(Role.admin)
    scope = [] if everything else [consultations.c.unit_id.in_(list(actor.units()))]
    items: list[Deadline] = []

    def add(row, kind: str, due: datetime, done: datetime | None) -> None:
        items.append(Deadline(consultation_id=row.id, title=row.title, unit_name=row.unit_name, kind=kind,
                              due=due, done_at=done, overdue=(done or at) > due))

    if everything:
        for r in session.execute(select(consultations).where(consultations.c.moderation_due.is_not(None))):
            add(r, "moderation", r.moderation_due, None if r.status == Status.submitted.value else r.updated_at)
    for r in session.execute(select(consultations).where(consultations.c.report_due.is_not(None), *scope)):
        add(r, "report", r.report_due, r.report_published_at)
    for r in session.execute(select(consultations.c.id, consultations.c.title, consultations.c.unit_name,
                                    decisions.c.publication_due, decisions.c.recorded_at)
                             .join(decisions, decisions.c.consultation_id == consultations.c.id).where(*scope)):
        add(r, "decision", r.publication_due, r.recorded_at)
    if only_overdue:
        items = [d for d in items if d.overdue]
    return DeadlineList(items=sorted(items, key=lambda d: d.due))


def report_published(session: Session, cid: uuid.UUID, at: datetime) -> bool:
    """The first published report meets the R-3.17 deadline; later versions do not move it."""
    done = session.execute(update(consultations).where(consultations.c.id == cid,
                                                       consultations.c.report_published_at.is_(None))
                           .values(report_published_at=at).returning(consultations.c.id)).first()
    return done is not None


def archive(session: Session, actor: Principal | None, cid: uuid.UUID) -> ConsultationOut:
    """Closed (normally decided) consultations go to the archive: read-only from then on (R-1.11)."""
    row = _load(session, actor, cid, lock=True)
    if not (owns(actor, row) or (actor is not None and actor.has(Role.admin))):
        raise Forbidden("Архівує підрозділ-власник або адміністратор", code="not_owner")
    if row.status != Status.closed.value:
        raise Conflict("Архівувати можна завершену консультацію", code="consultation_not_closed")
    adopted = session.execute(select(decisions.c.adopted_on).where(decisions.c.consultation_id == cid)).scalar()
    session.execute(update(consultations).where(consultations.c.id == cid).values(
        status=Status.archived.value, archived_at=func.now(), updated_at=func.now()))
    _history(session, cid, row.status, Status.archived, actor.person_id)
    add_event(session, ConsultationArchived(consultation_id=cid, archived_at=now(), decision_adopted_on=adopted))
    return view(session, actor, cid)
