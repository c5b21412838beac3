"""Survey answers and support of alternatives, and the live tallies (R-1.9, R-3.12)."""
from __future__ import annotations

import uuid

from chassis.errors import Conflict, InvalidInput
from contracts.consultations import (AlternativeTally, OptionTally, QuestionTally, ResponseIn, Results, Status,
                                     SurveyAnswered)
from contracts.identity import Principal
from services.consultations import rules
from services.consultations.handlers.reading import load, questions


def respond(uow, actor: Principal | None, cid: uuid.UUID, data: ResponseIn) -> Results:
    """One answer per person per question, and one supported alternative per person; sending again
    replaces them until the consultation closes. Invalid input changes nothing. A head of a
    confirmed institution answers either in their own name or for it (R-2.2): the last response
    decides for all their answers in this consultation."""
    rules.require_participant(actor)
    institution = rules.acting_for(actor, data.on_behalf_of)
    with uow.transaction() as store:
        row = load(store, actor, cid)
        if row.status != Status.active.value:
            raise Conflict("Відповідати можна лише під час консультації", code="consultation_not_active")
        if not data.answers and data.alternative_id is None:
            raise InvalidInput("Немає відповідей", code="empty_response",
                               errors=[{"field": "answers", "message": "додайте відповідь або alternative_id"}])
        survey = {q.id: q for q in questions(store, cid)}
        known = data.alternative_id is not None and store.has_alternative(cid, data.alternative_id)
        errors = rules.response_errors(data, survey, known)
        if errors:
            raise InvalidInput("Відповідь не прийнято: " + "; ".join(e["message"] for e in errors),
                               code="invalid_response", errors=errors)
        for answer in data.answers:
            store.put_answer(cid, answer.question_id, actor.person_id, sorted(set(answer.option_ids), key=str),
                             (answer.text or "").strip() or None)
        if data.alternative_id is not None:
            store.put_support(cid, actor.person_id, data.alternative_id)
        store.set_answering_for(cid, actor.person_id, institution)
        store.add_event(SurveyAnswered(consultation_id=cid, person_id=actor.person_id, answered_at=rules.now()))
        return tallies(store, actor, cid)


def tallies(store, actor: Principal | None, cid: uuid.UUID) -> Results:
    """Live tallies (R-3.12)."""
    row = load(store, actor, cid)
    t = store.tallies(cid)
    return Results(
        consultation_id=cid, status=row.status, participants=t["participants"],
        alternatives=[AlternativeTally(alternative_id=a_id, text=text, supporters=n) for a_id, text, n in t["alternatives"]],
        questions=[QuestionTally(question_id=q.id, text=q.text, kind=q.kind, respondents=t["respondents"].get(q.id, 0),
                                 options=[OptionTally(option_id=o.id, text=o.text, count=t["options"].get(o.id, 0))
                                          for o in q.options])
                   for q in questions(store, cid)])


def results(uow, actor: Principal | None, cid: uuid.UUID) -> Results:
    with uow.transaction() as store:
        return tallies(store, actor, cid)
