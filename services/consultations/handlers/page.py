"""A consultation's page in one read (one RPC, one transaction): what the web page and
``GET /api/v1/consultations/{id}/page`` show.

The consultation is ``reading.view`` (visibility included: NotFound for a caller who may not see it);
the page of comments and the live tallies then cost one statement together for an anonymous reader
(the published comments counted once, by ``view``), and the comment page query plus that statement for
a logged-in one, who also sees their own pending comments."""
from __future__ import annotations

import uuid

from contracts.consultations import (AlternativeTally, CommentOut, CommentPage, ConsultationOut, ConsultationView,
                                     OptionTally, QuestionTally, Results, Status)
from contracts.identity import Principal
from services.consultations import rules
from services.consultations.handlers.reading import view

WITH_RESULTS = (Status.active, Status.closed, Status.archived)
PARAGRAPH_COMMENTS = 100


def _tallies(c: ConsultationOut, row) -> Results:
    """What ``surveys.results`` answers, from the consultation already read and the counts."""
    supporters, options, respondents = row.supporters or {}, row.options or {}, row.respondents or {}
    return Results(
        consultation_id=c.id, status=c.status, participants=row.participants,
        alternatives=[AlternativeTally(alternative_id=a.id, text=a.text, supporters=supporters.get(str(a.id), 0))
                      for a in c.alternatives],
        questions=[QuestionTally(question_id=q.id, text=q.text, kind=q.kind, respondents=respondents.get(str(q.id), 0),
                                 options=[OptionTally(option_id=o.id, text=o.text, count=options.get(str(o.id), 0))
                                          for o in q.options])
                   for q in c.questions])


def page_view(uow, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
              newest_first: bool) -> ConsultationView:
    # anonymous: may lag (a read replica); a person sees their own comment just sent
    with (uow.reading() if actor is None else uow.transaction()) as store:
        consultation = view(store, actor, cid)
        inside = rules.insider(actor, consultation)
        with_results = consultation.status in WITH_RESULTS
        row = store.page_and_tallies(cid, newest_first, (page - 1) * per_page, per_page, actor is None, with_results)
        if actor is None:
            comments = CommentPage(items=[CommentOut.model_validate(item) for item in row.comments],
                                   total=consultation.comments_published, page=page, per_page=per_page)
        else:
            total, rows = store.comment_page(cid, actor.person_id, page, per_page, newest_first, None, None)
            comments = CommentPage(items=[rules.comment_out(r, actor, inside) for r in rows], total=total, page=page,
                                   per_page=per_page)
        on_paragraphs = []
        if consultation.paragraphs:
            _, first = store.comment_page(cid, actor.person_id if actor else None, 1, PARAGRAPH_COMMENTS, False,
                                          None, None)
            on_paragraphs = [rules.comment_out(r, actor, inside) for r in first if r["paragraph_id"]]
    return ConsultationView(consultation=consultation, comments=comments, paragraph_comments=on_paragraphs,
                            results=_tallies(consultation, row) if with_results else None)
