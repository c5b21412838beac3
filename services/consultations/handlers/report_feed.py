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

from chassis.errors import NotFound
from contracts.consultations import RespondentBreakdown
from services.consultations.handlers.reading import view
from services.consultations.handlers.surveys import tallies


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def source(uow, cid: uuid.UUID) -> dict:
    """The consultation as the public sees it, its tallies, and what the report service decides by
    (owning unit, closing time, the R-3.17 due date), and the counts as they are now."""
    with uow.transaction() as store:
        row = store.consultation(cid)
        if row is None:
            raise NotFound("Консультацію не знайдено", code="consultation_not_found")
        page = view(store, None, cid)  # closed/archived consultations are public
        return {"consultation": page.model_dump(mode="json"),
                "results": tallies(store, None, cid).model_dump(mode="json"),
                "unit_id": str(row.unit_id) if row.unit_id else None, "status": row.status,
                "opened_at": _iso(row.opened_at), "closed_at": _iso(row.closed_at),
                "report_due": _iso(row.report_due), "archived_at": _iso(row.archived_at),
                "counts": store.closing_counts(cid)}


def comment_page(uow, cid: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int,
                 everything: bool) -> dict:
    """Comments oldest first: published ones for the report, or every submitted one with its
    moderation outcome for the protocol (``everything``)."""
    with uow.transaction() as store:
        rows = store.comments_after(cid, after, limit, everything)
    items = [{"id": str(r.id), "author_id": str(r.author_id) if r.author_id else None, "author_name": r.author_name,
              "organisation_name": r.organisation_name, "body": r.body, "channel": r.channel,
              "created_at": r.created_at.isoformat(), "alternative_id": str(r.alternative_id) if r.alternative_id else None,
              "paragraph_id": str(r.paragraph_id) if r.paragraph_id else None, "status": r.status,
              "decided_at": _iso(r.decided_at),
              "rejection_grounds": r.rejection_grounds or [], "rejection_note": r.rejection_note}
             for r in rows]
    last = rows[-1] if len(rows) == limit else None
    return {"items": items, "next_after": [last.created_at.isoformat(), str(last.id)] if last else None}


def respondent_page(uow, cid: uuid.UUID, after: uuid.UUID | None, limit: int) -> dict:
    """Persons who answered the survey or supported an alternative, by id (the reports service's
    backfill when its read model missed some)."""
    with uow.transaction() as store:
        ids = store.respondent_ids(cid, after, limit)
    return {"items": [str(p) for p in ids], "next_after": str(ids[-1]) if len(ids) == limit else None}


def returning(uow, cid: uuid.UUID, person_ids: list[uuid.UUID]) -> list[str]:
    """Of ``person_ids``, those who took part (a comment, a survey answer, a supported alternative)
    in a consultation opened before this one: the others take part for the first time."""
    with uow.transaction() as store:
        return [str(p) for p in store.took_part_before(cid, person_ids)]


def respondent_breakdown(uow, cid: uuid.UUID) -> RespondentBreakdown:
    """Respondents so far by type and channel, with what the reports service authorises by (the
    owning unit, the status): its live participation view (R-3.12) and the report's table."""
    with uow.transaction() as store:
        row = store.consultation(cid)
        if row is None:
            raise NotFound("Консультацію не знайдено", code="consultation_not_found")
        counts = store.respondent_breakdown(cid)
    return RespondentBreakdown(status=row.status, unit_id=row.unit_id, opened_at=row.opened_at, **counts)


def year_counts(uow, year: int) -> list[dict]:
    """Consultations that started in ``year``, by category and status (statistics)."""
    with uow.transaction() as store:
        return [{"category": c, "status": s, "count": n} for c, s, n in store.year_counts(year)]
