"""A consultation's page in one read (one RPC, one transaction): what the web page and
``GET /api/v1/consultations/{id}/page`` show."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from services.consultations import domain
from services.consultations.schemas import ConsultationView, Status
from services.registry.schemas import Principal

WITH_RESULTS = (Status.active, Status.closed, Status.archived)
PARAGRAPH_COMMENTS = 100


def page_view(session: Session, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
              newest_first: bool) -> ConsultationView:
    consultation = domain.view(session, actor, cid)  # NotFound for a consultation this caller may not see
    comments = domain.list_comments(session, actor, cid, page, per_page, newest_first, None)
    on_paragraphs = []
    if consultation.paragraphs:
        first = domain.list_comments(session, actor, cid, 1, PARAGRAPH_COMMENTS, False, None)
        on_paragraphs = [item for item in first.items if item.paragraph_id]
    results = domain.results(session, actor, cid) if consultation.status in WITH_RESULTS else None
    return ConsultationView(consultation=consultation, comments=comments, paragraph_comments=on_paragraphs,
                            results=results)
