"""Consultation rules as plain functions over a SQLAlchemy session.

``actor`` is the acting person as the gateway resolved them with the registry
(:class:`services.registry.schemas.Principal`) or None for an anonymous reader. Visibility
follows DESIGN, "Who sees what"; an object the actor may not see is NotFound, never Forbidden.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from chassis.outbox import add_event
from services.consultations.models import alternatives, comments, consultations, status_history
from services.consultations.schemas import (MODERATION_MARK, NOTICE_LABELS, PUBLIC_STATUSES,
                                            AlternativeOut, CommentIn, CommentOut, CommentPage,
                                            CommentSubmitted, ConsultationClosed, ConsultationIn,
                                            ConsultationOut, ConsultationPage, ConsultationPatch,
                                            ConsultationPublished, ConsultationSubmitted,
                                            ConsultationSummary, Form, Notice, Status)
from services.registry.schemas import Principal, Role
from services.workdays import calendar_deadline

REPORT_DAYS = 15


@dataclass(frozen=True)
class Rules:
    """What settings decide (README, "Settings")."""

    min_term_days: int = 15
    min_term_days_initiative: int = 30
    public_url: str = "http://localhost:8000"


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
    if status == Status.submitted:  # the initiator and moderators only
        return is_moderator(actor) or (actor is not None and actor.person_id == row.initiator_id)
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

def create(session: Session, actor: Principal | None, data: ConsultationIn) -> ConsultationOut:
    """An official's draft, or a resident's / institution head's initiative (R-2.2, R-3.10)."""
    if actor is None:
        raise Forbidden("Потрібно увійти", code="login_required")
    _check_dates(data.starts_on, data.ends_on)
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
        values = dict(initiator_id=actor.person_id, initiator_name=actor.full_name)
    session.execute(consultations.insert().values(
        id=cid, form=data.form.value, title=data.title, question=data.question, category=data.category,
        status=status.value, notice=data.notice.model_dump(), starts_on=data.starts_on,
        ends_on=data.ends_on, **values))
    _replace_alternatives(session, cid, [a.text for a in data.alternatives])
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


def _check_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise InvalidInput("Дата завершення раніша за дату початку", code="end_before_start",
                           errors=[{"field": "ends_on", "message": "раніше за starts_on"}])


def update_draft(session: Session, actor: Principal | None, cid: uuid.UUID,
                 patch: ConsultationPatch) -> ConsultationOut:
    row = _load(session, actor, cid, lock=True)
    if not owns(actor, row):
        raise Forbidden("Редагувати може посадова особа підрозділу-власника", code="not_owner")
    if row.status != Status.draft.value:
        raise Conflict("Редагувати можна лише чернетку", code="not_a_draft")
    values = patch.model_dump(exclude_unset=True)
    texts = values.pop("alternatives", None)
    if "notice" in values:
        values["notice"] = {**(row.notice or {}), **patch.notice.model_dump(exclude_unset=True)}
    _check_dates(values.get("starts_on", row.starts_on), values.get("ends_on", row.ends_on))
    if values:
        session.execute(update(consultations).where(consultations.c.id == cid)
                        .values(**values, updated_at=func.now()))
    if texts is not None:
        _replace_alternatives(session, cid, [a["text"] for a in texts])
    return view(session, actor, cid)


def missing_for_publication(row, alt_count: int) -> list[str]:
    """What R-3.13 still lacks (field names; NOTICE_LABELS has the Ukrainian wording)."""
    notice = Notice.model_validate(row.notice or {})
    missing = [name for name, value in notice.model_dump().items() if not (value or "").strip()]
    if not (row.question or "").strip():
        missing.insert(0, "question")
    if row.form == Form.proposal.value and alt_count == 0:
        missing.append("alternatives")
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
    missing = missing_for_publication(row, alt_count)
    if missing:
        raise InvalidInput("Не заповнено: " + "; ".join(NOTICE_LABELS[m] for m in missing),
                           code="notice_incomplete",
                           errors=[{"field": m, "message": f"обов'язково (п. 3.13): {NOTICE_LABELS[m]}"}
                                   for m in missing])
    if row.starts_on < today:
        raise InvalidInput("Дата початку вже минула", code="start_in_past",
                           errors=[{"field": "starts_on", "message": "не раніше сьогодні"}])
    minimum = rules.min_term_days_initiative if row.initiator_id else rules.min_term_days
    term = (row.ends_on - row.starts_on).days + 1
    if term < minimum:
        raise InvalidInput(f"Строк консультації {term} дн., мінімум {minimum} дн.", code="term_too_short",
                           errors=[{"field": "ends_on", "message": f"щонайменше {minimum} календарних днів"}])
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
    """Close active consultations whose last day has ended (Europe/Kyiv)."""
    rows = session.execute(select(consultations.c.id, consultations.c.ends_on).where(
        consultations.c.status == Status.active.value, consultations.c.ends_on < today)
        .limit(batch).with_for_update(skip_locked=True)).all()
    for row in rows:
        session.execute(update(consultations).where(consultations.c.id == row.id).values(
            status=Status.closed.value, closed_at=func.now(), updated_at=func.now()))
        _history(session, row.id, Status.active.value, Status.closed, None, "end date")
        add_event(session, ConsultationClosed(consultation_id=row.id, closed_at=now(),
                                              report_due=calendar_deadline(row.ends_on, REPORT_DAYS)))
    return len(rows)


# ---- reading -------------------------------------------------------------------------------------

def view(session: Session, actor: Principal | None, cid: uuid.UUID) -> ConsultationOut:
    row = _load(session, actor, cid)
    alts = session.execute(select(alternatives.c.id, alternatives.c.position, alternatives.c.text)
                           .where(alternatives.c.consultation_id == cid)
                           .order_by(alternatives.c.position)).all()
    published = session.execute(select(func.count()).select_from(comments).where(
        comments.c.consultation_id == cid, comments.c.status == "published")).scalar_one()
    return ConsultationOut(
        id=row.id, form=row.form, title=row.title, question=row.question, category=row.category,
        status=row.status, unit_name=row.unit_name, initiator_name=row.initiator_name,
        alternatives=[AlternativeOut.model_validate(a._asdict()) for a in alts],
        notice=Notice.model_validate(row.notice or {}), starts_on=row.starts_on, ends_on=row.ends_on,
        published_at=row.published_at,
        moderation_mark=MODERATION_MARK if row.status == Status.submitted.value else None,
        missing_for_publication=missing_for_publication(row, len(alts)) if owns(actor, row) else None,
        comments_published=published)


def listing(session: Session, status: Status | None, category: int | None, form: Form | None,
            page: int, per_page: int) -> ConsultationPage:
    cond = [consultations.c.status.in_([s.value for s in PUBLIC_STATUSES])]
    if status is not None:
        cond.append(consultations.c.status == status.value)
    if category is not None:
        cond.append(consultations.c.category == category)
    if form is not None:
        cond.append(consultations.c.form == form.value)
    total = session.execute(select(func.count()).select_from(consultations).where(and_(*cond))).scalar_one()
    rows = session.execute(select(consultations).where(and_(*cond))
                           .order_by(consultations.c.starts_on.desc().nulls_last(), consultations.c.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return ConsultationPage(items=[ConsultationSummary.model_validate(r._asdict()) for r in rows],
                            total=total, page=page, per_page=per_page)


# ---- comments ------------------------------------------------------------------------------------

def add_comment(session: Session, actor: Principal | None, cid: uuid.UUID, data: CommentIn) -> CommentOut:
    require_participant(actor)
    row = _load(session, actor, cid)
    if row.status != Status.active.value:
        raise Conflict("Коментувати можна лише під час консультації", code="consultation_not_active")
    if data.alternative_id is not None and not session.execute(select(alternatives.c.id).where(
            alternatives.c.id == data.alternative_id, alternatives.c.consultation_id == cid)).first():
        raise InvalidInput("Такої альтернативи в цій консультації немає", code="alternative_not_found",
                           errors=[{"field": "alternative_id", "message": "не належить консультації"}])
    comment_id = uuid.uuid4()
    created = session.execute(comments.insert().values(
        id=comment_id, consultation_id=cid, author_id=actor.person_id, author_name=actor.full_name,
        alternative_id=data.alternative_id, body=data.body, status="pending")
        .returning(comments)).one()
    add_event(session, CommentSubmitted(comment_id=comment_id, consultation_id=cid, author_id=actor.person_id,
                                        author_name=actor.full_name, alternative_id=data.alternative_id,
                                        body=data.body, submitted_at=created.created_at))
    return CommentOut.model_validate(created._asdict())


def list_comments(session: Session, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
                  newest_first: bool, alternative_id: uuid.UUID | None) -> CommentPage:
    """Published comments, plus the actor's own pending or rejected ones (only they see those)."""
    _load(session, actor, cid)
    visible = comments.c.status == "published"
    if actor is not None:
        visible = or_(visible, comments.c.author_id == actor.person_id)
    cond = [comments.c.consultation_id == cid, visible]
    if alternative_id is not None:
        cond.append(comments.c.alternative_id == alternative_id)
    total = session.execute(select(func.count()).select_from(comments).where(and_(*cond))).scalar_one()
    order = comments.c.created_at.desc() if newest_first else comments.c.created_at.asc()
    rows = session.execute(select(comments).where(and_(*cond)).order_by(order, comments.c.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return CommentPage(items=[CommentOut.model_validate(r._asdict()) for r in rows], total=total,
                       page=page, per_page=per_page)


def history(session: Session, cid: uuid.UUID) -> list[dict]:
    return [dict(r._asdict()) for r in session.execute(
        select(status_history).where(status_history.c.consultation_id == cid).order_by(status_history.c.id))]


