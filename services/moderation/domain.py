"""Moderation rules as plain functions over a SQLAlchemy session (R-1.1, R-2.1, R-3.7, R-3.10).

Every comment and initiative is screened once (the consumer dedupes by event id); a clean comment
is published at once, anything the screening finds goes to a person with what matched, and every
screening and decision is kept for the protocol and for appeals.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from chassis.outbox import add_event
from chassis.workdays import working_deadline
from contracts.identity import Principal, Role
from contracts.moderation import (GROUNDS, Audit, AuditItem, CaseDecision, CaseOut, CommentApproved,
                                  CommentRejected, InitiativeApproved, InitiativeRejected, Queue, QueueQuery,
                                  Stats)
from services.moderation.models import cases, decisions, flags, screenings
from services.moderation.screening import screen

MODERATION_WORKING_DAYS = 2


def now() -> datetime:
    return datetime.now(timezone.utc)


def require_moderator(actor: Principal | None) -> Principal:
    if actor is None or not actor.has(Role.moderator):
        raise Forbidden("Лише для модераторів", code="role_required")
    return actor


def _previous_hashes(session: Session, author_id: uuid.UUID) -> set[str]:
    return set(session.execute(select(screenings.c.text_hash).where(
        screenings.c.author_id == author_id, screenings.c.kind == "comment")).scalars())


def _open_case(session: Session, kind: str, subject_id: uuid.UUID, consultation_id, author_id, author_name,
               text: str, matches: list, submitted_at: datetime, holidays_off: bool, source: str = "screening") -> None:
    session.execute(insert(cases).values(
        id=uuid.uuid4(), kind=kind, subject_id=subject_id, status="open", consultation_id=consultation_id,
        author_id=author_id, author_name=author_name, text=text, matches=matches, source=source,
        submitted_at=submitted_at, due_at=working_deadline(submitted_at, MODERATION_WORKING_DAYS, holidays_off))
        .on_conflict_do_nothing(index_elements=[cases.c.kind, cases.c.subject_id]))


def screen_comment(session: Session, data, holidays_off: bool = True) -> str:
    """Screen a submitted comment: pass → published at once; hold → the queue. Returns the outcome."""
    result = screen(data.body, _previous_hashes(session, data.author_id))
    session.execute(screenings.insert().values(
        kind="comment", subject_id=data.comment_id, consultation_id=data.consultation_id, author_id=data.author_id,
        text=data.body, text_hash=result.text_hash, outcome=result.outcome, matches=result.matches))
    if result.held:
        _open_case(session, "comment", data.comment_id, data.consultation_id, data.author_id, data.author_name,
                   data.body, result.matches, data.submitted_at, holidays_off)
    else:
        add_event(session, CommentApproved(comment_id=data.comment_id, consultation_id=data.consultation_id))
    return result.outcome


def screen_initiative(session: Session, data, holidays_off: bool = True) -> str:
    """Initiatives always go to a moderator (R-3.10); the screening's findings come with them."""
    text = f"{data.title}\n{data.question}"
    result = screen(text)
    session.execute(screenings.insert().values(
        kind="initiative", subject_id=data.consultation_id, consultation_id=data.consultation_id,
        author_id=data.initiator_id, text=text, text_hash=result.text_hash, outcome=result.outcome,
        matches=result.matches))
    _open_case(session, "initiative", data.consultation_id, data.consultation_id, data.initiator_id, None, text,
               result.matches, data.submitted_at, holidays_off)
    return result.outcome


def comment_is_public(case) -> bool:
    """A comment is public when screening passed it (no case), a moderator approved it, or it was
    public and is open again only because residents reported it; held (pending) and rejected
    comments are not, so reporting them answers 404 whatever the caller knows of the id."""
    if case is None:
        return True
    if case.decision == "rejected":
        return False
    return case.decision == "approved" or case.source == "report"


def report_comment(session: Session, actor: Principal, comment_id: uuid.UUID, reason: str,
                   holidays_off: bool = True) -> CaseOut:
    """A resident reports a published comment; several reports raise the case's priority."""
    seen = session.execute(select(screenings).where(screenings.c.kind == "comment",
                                                    screenings.c.subject_id == comment_id)
                           .order_by(screenings.c.id.desc()).limit(1)).first()
    if seen is None:
        raise NotFound("Коментар не знайдено", code="comment_not_found")
    case = session.execute(select(cases.c.status, cases.c.decision, cases.c.source).where(
        cases.c.kind == "comment", cases.c.subject_id == comment_id)).first()
    if not comment_is_public(case):  # DESIGN "Who sees what": pending and rejected ones are not public
        raise NotFound("Коментар не знайдено", code="comment_not_found")
    added = session.execute(insert(flags).values(comment_id=comment_id, reporter_id=actor.person_id, reason=reason)
                            .on_conflict_do_nothing().returning(flags.c.comment_id)).first()
    if added is None:
        raise Conflict("Ви вже поскаржилися на цей коментар", code="already_reported")
    count = session.execute(select(func.count()).select_from(flags).where(flags.c.comment_id == comment_id)).scalar_one()
    existing = session.execute(select(cases).where(cases.c.kind == "comment", cases.c.subject_id == comment_id)
                               .with_for_update()).first()
    matches = [{"rule": "report", "text": reason[:200]}]
    if existing is None:
        _open_case(session, "comment", comment_id, seen.consultation_id, seen.author_id, None, seen.text,
                   matches, now(), holidays_off, source="report")
    elif existing.status == "open":
        session.execute(update(cases).where(cases.c.id == existing.id).values(matches=existing.matches + matches))
    elif existing.decision == "approved":  # published before: reports reopen it for a fresh look
        session.execute(update(cases).where(cases.c.id == existing.id).values(
            status="open", source="report", matches=matches, decision=None, decided_at=None, decided_by=None,
            submitted_at=now(), due_at=working_deadline(now(), MODERATION_WORKING_DAYS, holidays_off)))
    session.execute(update(cases).where(cases.c.kind == "comment", cases.c.subject_id == comment_id)
                    .values(reports=count, priority=count))
    return _case_out(session.execute(select(cases).where(cases.c.kind == "comment",
                                                         cases.c.subject_id == comment_id)).one())


def _case_out(row) -> CaseOut:
    return CaseOut(**{k: getattr(row, k) for k in CaseOut.model_fields if k not in ("overdue",)},
                   overdue=row.status == "open" and now() > row.due_at)


def queue_cursor(row) -> str:
    """Where a page of the queue ends: (priority, submitted_at, id) of its last case."""
    raw = json.dumps([row.priority, row.submitted_at.isoformat(), str(row.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_queue_cursor(cursor: str) -> tuple[int, datetime, uuid.UUID]:
    try:
        priority, at, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(priority), datetime.fromisoformat(at), uuid.UUID(case_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput("Некоректний курсор сторінки", code="bad_cursor",
                           errors=[{"field": "after", "message": "значення next_after попередньої сторінки"}]) from None


def queue(session: Session, actor: Principal | None, query: QueueQuery = QueueQuery()) -> Queue:
    """Open cases, a page at a time (keyset: most reported first, then oldest first), filtered by
    consultation, kind and matched rule, with due times and overdue marks."""
    require_moderator(actor)
    where = [cases.c.status == "open"]
    if query.consultation_id:
        where.append(cases.c.consultation_id == query.consultation_id)
    if query.kind:
        where.append(cases.c.kind == query.kind)
    if query.rule:
        where.append(cases.c.matches.contains([{"rule": query.rule}]))
    total = session.execute(select(func.count()).select_from(cases).where(*where)).scalar_one()
    if query.after:
        priority, at, case_id = parse_queue_cursor(query.after)
        where.append(or_(cases.c.priority < priority, and_(
            cases.c.priority == priority, tuple_(cases.c.submitted_at, cases.c.id) > tuple_(at, case_id))))
    rows = session.execute(select(cases).where(*where).order_by(cases.c.priority.desc(), cases.c.submitted_at,
                                                                cases.c.id).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return Queue(items=[_case_out(r) for r in rows], total=total,
                 next_after=queue_cursor(rows[-1]) if more else None)


def decide(session: Session, actor: Principal | None, case_id: uuid.UUID, body: CaseDecision,
           unit_name: str | None = None) -> CaseOut:
    """Record a decision once: of two moderators deciding at once, exactly one wins (409 for the other)."""
    moderator = require_moderator(actor)
    unknown = [g for g in body.grounds if g not in GROUNDS]
    if unknown:
        raise InvalidInput("Невідома підстава", code="unknown_ground",
                           errors=[{"field": "grounds", "message": f"немає підстав {unknown}"}])
    if body.decision == "reject" and not body.grounds:
        raise InvalidInput("Відхилення без підстави неможливе (п. 1.1, 3.7)", code="ground_required",
                           errors=[{"field": "grounds", "message": "вкажіть хоча б одну підставу"}])
    row = session.execute(select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise NotFound("Справу не знайдено", code="case_not_found")
    if row.kind == "initiative" and body.decision == "approve" and (body.unit_id is None or not unit_name):
        raise InvalidInput("Вкажіть структурний підрозділ, якому передається ініціатива", code="unit_required",
                           errors=[{"field": "unit_id", "message": "обов'язково для ініціативи"}])
    decision = "approved" if body.decision == "approve" else "rejected"
    won = session.execute(update(cases).where(cases.c.id == case_id, cases.c.status == "open").values(
        status="decided", decision=decision, grounds=body.grounds, note=body.note, decided_by=moderator.person_id,
        decided_at=func.now()).returning(cases)).first()
    if won is None:
        raise Conflict("Рішення у цій справі вже ухвалено", code="already_decided")
    session.execute(decisions.insert().values(case_id=case_id, consultation_id=row.consultation_id,
                                              moderator_id=moderator.person_id, decision=decision,
                                              grounds=body.grounds, note=body.note))
    if row.kind == "comment":
        add_event(session, CommentApproved(comment_id=row.subject_id, consultation_id=row.consultation_id,
                                           moderator_id=moderator.person_id) if decision == "approved" else
                  CommentRejected(comment_id=row.subject_id, consultation_id=row.consultation_id,
                                  grounds=body.grounds, note=body.note, moderator_id=moderator.person_id))
    else:
        add_event(session, InitiativeApproved(consultation_id=row.subject_id, unit_id=body.unit_id, unit_name=unit_name,
                                              moderator_id=moderator.person_id) if decision == "approved" else
                  InitiativeRejected(consultation_id=row.subject_id, grounds=body.grounds, note=body.note,
                                     moderator_id=moderator.person_id))
    return _case_out(won)


def audit(session: Session, actor: Principal | None, consultation_id: uuid.UUID | None,
          moderator_id: uuid.UUID | None, limit: int = 1000) -> Audit:
    require_moderator(actor)
    items: list[AuditItem] = []
    if moderator_id is None:
        stmt = select(screenings).order_by(screenings.c.id.desc()).limit(limit)
        if consultation_id:
            stmt = stmt.where(screenings.c.consultation_id == consultation_id)
        items += [AuditItem(at=r.at, kind="screening", subject_id=r.subject_id, consultation_id=r.consultation_id,
                            outcome=r.outcome, matches=r.matches) for r in session.execute(stmt)]
    stmt = select(decisions, cases.c.subject_id).join(cases, cases.c.id == decisions.c.case_id) \
        .order_by(decisions.c.id.desc()).limit(limit)
    if consultation_id:
        stmt = stmt.where(decisions.c.consultation_id == consultation_id)
    if moderator_id:
        stmt = stmt.where(decisions.c.moderator_id == moderator_id)
    items += [AuditItem(at=r.at, kind="decision", subject_id=r.subject_id, consultation_id=r.consultation_id,
                        outcome=r.decision, grounds=r.grounds, moderator_id=r.moderator_id, note=r.note)
              for r in session.execute(stmt)]
    return Audit(items=sorted(items, key=lambda i: i.at, reverse=True))


def stats(session: Session, actor: Principal | None) -> Stats:
    require_moderator(actor)
    open_ = session.execute(select(func.count()).select_from(cases).where(cases.c.status == "open")).scalar_one()
    overdue = session.execute(select(func.count()).select_from(cases).where(
        cases.c.status == "open", cases.c.due_at < func.now())).scalar_one()
    by_mod = dict(session.execute(select(decisions.c.moderator_id, func.count()).group_by(decisions.c.moderator_id)).all())
    by_ground: dict[str, int] = {}
    for (grounds,) in session.execute(select(decisions.c.grounds)):
        for g in grounds or []:
            by_ground[g] = by_ground.get(g, 0) + 1
    screened = session.execute(select(func.count()).select_from(screenings)).scalar_one()
    held = session.execute(select(func.count()).select_from(screenings).where(screenings.c.outcome == "hold")).scalar_one()
    return Stats(open=open_, overdue=overdue, decided=sum(by_mod.values()),
                 by_moderator={str(k): v for k, v in by_mod.items()}, by_ground=by_ground, screened=screened,
                 held_by_screening=held)
