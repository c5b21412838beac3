"""A consultation's page in one read (one RPC, one transaction): what the web page and
``GET /api/v1/consultations/{id}/page`` show.

The consultation is ``domain.view`` (visibility included: NotFound for a caller who may not see it);
the page of comments and the live tallies then cost one statement together for an anonymous reader
(the published comments counted once, by ``view``), and ``domain.list_comments`` plus that statement
for a logged-in one, who also sees their own pending comments."""
from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from contracts.consultations import (AlternativeTally, CommentOut, CommentPage, ConsultationOut, ConsultationView,
                                     OptionTally, QuestionTally, Results, Status)
from contracts.identity import Principal
from services.consultations import domain

WITH_RESULTS = (Status.active, Status.closed, Status.archived)
PARAGRAPH_COMMENTS = 100

# the page is the published comments only (an anonymous reader's view); {order}: DESC newest first, or ASC
_PAGE_AND_TALLIES = """
SELECT
  CASE WHEN :with_comments THEN (SELECT coalesce(json_agg(page ORDER BY page.created_at {order}, page.id), '[]')
      FROM (SELECT id, consultation_id, author_name, alternative_id, paragraph_id, body, status, created_at
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


def _tallies(c: ConsultationOut, row) -> Results:
    """What ``domain.results`` answers, from the consultation already read and the counts."""
    supporters, options, respondents = row.supporters or {}, row.options or {}, row.respondents or {}
    return Results(
        consultation_id=c.id, status=c.status, participants=row.participants,
        alternatives=[AlternativeTally(alternative_id=a.id, text=a.text, supporters=supporters.get(str(a.id), 0))
                      for a in c.alternatives],
        questions=[QuestionTally(question_id=q.id, text=q.text, kind=q.kind, respondents=respondents.get(str(q.id), 0),
                                 options=[OptionTally(option_id=o.id, text=o.text, count=options.get(str(o.id), 0))
                                          for o in q.options])
                   for q in c.questions])


def page_view(session: Session, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
              newest_first: bool) -> ConsultationView:
    consultation = domain.view(session, actor, cid)  # NotFound for a consultation this caller may not see
    with_results = consultation.status in WITH_RESULTS
    row = session.execute(PAGE_AND_TALLIES[newest_first], {
        "cid": cid, "with_comments": actor is None, "with_results": with_results,
        "offset": (page - 1) * per_page, "limit": per_page}).one()
    if actor is None:
        comments = CommentPage(items=[CommentOut.model_validate(item) for item in row.comments],
                               total=consultation.comments_published, page=page, per_page=per_page)
    else:
        comments = domain.list_comments(session, actor, cid, page, per_page, newest_first, None)
    on_paragraphs = []
    if consultation.paragraphs:
        first = domain.list_comments(session, actor, cid, 1, PARAGRAPH_COMMENTS, False, None)
        on_paragraphs = [item for item in first.items if item.paragraph_id]
    return ConsultationView(consultation=consultation, comments=comments, paragraph_comments=on_paragraphs,
                            results=_tallies(consultation, row) if with_results else None)
