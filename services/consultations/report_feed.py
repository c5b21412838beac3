"""What the reports service reads from consultations for the R-3.16 report and the R-3.14 protocol.

Service-to-service reads (the gateway exposes none of them). The reports service keeps comments and
respondents from the events as they happen; what it reads here: the consultation with everything on
its page (one call at closing), which participants took part before (consultations owns the
participation history; ages come from the registry, which owns birth dates), yearly counts, and —
only when its read model is incomplete, e.g. for comments older than the read model — comments and
respondents in keyset pages (``(created_at, id)`` cursor, bounded memory). The closing event carries
the counts it checks completeness against (``Store.closing_counts``).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from chassis.errors import NotFound
from services.consultations.handlers.reading import view
from services.consultations.handlers.surveys import tallies
from services.consultations.models import comments, consultations, responses, supports
from services.consultations.store import Store, respondents



def source(session: Session, cid: uuid.UUID) -> dict:
    """The consultation as the public sees it, its tallies, and what the report service decides by
    (owning unit, closing time, the R-3.17 due date), and the counts as they are now."""
    row = session.execute(select(consultations).where(consultations.c.id == cid)).first()
    if row is None:
        raise NotFound("Консультацію не знайдено", code="consultation_not_found")
    page = view(Store(session), None, cid)  # closed/archived consultations are public
    return {"consultation": page.model_dump(mode="json"),
            "results": tallies(Store(session), None, cid).model_dump(mode="json"),
            "unit_id": str(row.unit_id) if row.unit_id else None, "status": row.status,
            "opened_at": row.opened_at.isoformat() if row.opened_at else None,
            "closed_at": row.closed_at.isoformat() if row.closed_at else None,
            "report_due": row.report_due.isoformat() if row.report_due else None,
            "archived_at": row.archived_at.isoformat() if row.archived_at else None,
            "counts": Store(session).closing_counts(cid)}


def comment_page(session: Session, cid: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int,
                 everything: bool) -> dict:
    """Comments oldest first: published ones for the report, or every submitted one with its
    moderation outcome for the protocol (``everything``)."""
    cond = [comments.c.consultation_id == cid]
    if not everything:
        cond.append(comments.c.status == "published")
    if after is not None:
        cond.append(tuple_(comments.c.created_at, comments.c.id) > tuple_(*after))
    rows = session.execute(select(comments).where(and_(*cond))
                           .order_by(comments.c.created_at, comments.c.id).limit(limit)).all()
    items = [{"id": str(r.id), "author_id": str(r.author_id), "author_name": r.author_name, "body": r.body,
              "created_at": r.created_at.isoformat(), "alternative_id": str(r.alternative_id) if r.alternative_id else None,
              "paragraph_id": str(r.paragraph_id) if r.paragraph_id else None, "status": r.status,
              "decided_at": r.decided_at.isoformat() if r.decided_at else None,
              "rejection_grounds": r.rejection_grounds or [], "rejection_note": r.rejection_note}
             for r in rows]
    last = rows[-1] if len(rows) == limit else None
    return {"items": items, "next_after": [last.created_at.isoformat(), str(last.id)] if last else None}


def respondent_page(session: Session, cid: uuid.UUID, after: uuid.UUID | None, limit: int) -> dict:
    """Persons who answered the survey or supported an alternative, by id (the reports service's
    backfill when its read model missed some)."""
    people = respondents(cid)
    q = select(people.c.pid).order_by(people.c.pid).limit(limit)
    if after is not None:
        q = q.where(people.c.pid > after)
    ids = session.execute(q).scalars().all()
    return {"items": [str(p) for p in ids], "next_after": str(ids[-1]) if len(ids) == limit else None}


def returning(session: Session, cid: uuid.UUID, person_ids: list[uuid.UUID]) -> list[str]:
    """Of ``person_ids``, those who took part (a comment, a survey answer, a supported alternative)
    in a consultation opened before this one: the others take part for the first time."""
    opened = session.execute(select(consultations.c.opened_at).where(consultations.c.id == cid)).scalar()
    if not person_ids or opened is None:
        return []
    other = select(consultations.c.id).where(consultations.c.id != cid, consultations.c.opened_at < opened)
    found: set = set()
    for table, person in ((comments, comments.c.author_id), (responses, responses.c.person_id),
                          (supports, supports.c.person_id)):
        found |= set(session.execute(select(person).where(
            person.in_(person_ids), table.c.consultation_id.in_(other)).distinct()).scalars())
    return [str(p) for p in found]


def year_counts(session: Session, year: int) -> list[dict]:
    """Consultations that started in ``year``, by category and status (statistics)."""
    rows = session.execute(select(consultations.c.category, consultations.c.status, func.count())
                           .where(func.extract("year", consultations.c.starts_on) == year,
                                  consultations.c.published_at.is_not(None))
                           .group_by(consultations.c.category, consultations.c.status)).all()
    return [{"category": c, "status": s, "count": n} for c, s, n in rows]
