"""The moderators' queue, decisions with R-3.7 grounds, residents' reports, audit and statistics."""
from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from chassis.errors import InvalidInput
from contracts.identity import Role
from contracts.moderation import Ground, Audit, CaseDecision, CaseOut, NotMineIn, Queue, QueueQuery, ReportIn, Stats
from gateway import auth
from gateway.clients import moderation as svc, registry
from gateway.openapi import ApiSpec
from gateway.routes_consultations import actor

MODERATOR = (Role.moderator,)


class GroundList(BaseModel):
    items: list[Ground]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consultation_id: uuid.UUID | None = None
    moderator_id: uuid.UUID | None = None


def decide(case_id: uuid.UUID, body: CaseDecision) -> CaseOut:
    """A moderator's decision (shared by the API and the web pages); an initiative's unit must exist."""
    auth.require_role(*MODERATOR)
    unit_name = None
    if body.unit_id is not None:
        unit_name = next((u.name for u in registry.list_units() if u.id == body.unit_id), None)
        if unit_name is None:
            raise InvalidInput("Немає такого підрозділу", code="unit_not_found",
                               errors=[{"field": "body.unit_id", "message": "невідомий підрозділ"}])
    return svc.decide(actor(), case_id, body, unit_name)


def report_comment(comment_id: uuid.UUID, body: ReportIn) -> CaseOut:
    """A resident reports a comment (API and web pages); the reporter sees only that it was taken."""
    auth.require_consent()
    case = svc.report_comment(actor(), comment_id, body)
    case.text, case.author_name, case.matches = None, None, []
    return case


def disown_comment(comment_id: uuid.UUID, body: NotMineIn) -> CaseOut:
    """The person a comment is signed with says it is not theirs (API and web pages); like a report,
    they see only that it was taken."""
    auth.require_consent()
    case = svc.disown_comment(actor(), comment_id, body)
    case.text, case.author_name, case.matches = None, None, []
    return case


def queue_page(query: QueueQuery) -> Queue:
    """One page of the moderators' queue (the API and the web page)."""
    return svc.queue(actor(), query)


def register(spec: ApiSpec):
    api = spec.blueprint("moderation", "/api/v1")

    @api.route("/moderation/grounds", summary="The coded grounds of R-3.7 and R-1.5", response=GroundList,
               tags=["moderation"])
    def grounds():
        return GroundList(items=svc.grounds())

    @api.route("/moderation/queue", summary="Held comments, initiatives and reported comments: most "
               "reported first, then oldest first, with R-3.10 due times and overdue marks; a page at a time "
               "(`after` = the page's `next_after`), filtered by consultation, kind and matched rule",
               query=QueueQuery, response=Queue, tags=["moderation"], auth=MODERATOR)
    def queue(query: QueueQuery):
        return queue_page(query)

    @api.route("/moderation/cases/<uuid:case_id>/decision", "POST", summary="Approve, or reject with "
               "one or more grounds; recorded once (a second decision gets 409)", body=CaseDecision,
               response=CaseOut, tags=["moderation"], auth=MODERATOR, errors=(404, 409))
    def decide_case(case_id: uuid.UUID, body: CaseDecision):
        return decide(case_id, body)

    @api.route("/comments/<uuid:comment_id>/reports", "POST", summary="Report a comment to the moderators "
               "with a reason; several reports raise its priority", body=ReportIn, response=CaseOut,
               status=201, tags=["moderation"], auth="consent", errors=(404, 409))
    def report(comment_id: uuid.UUID, body: ReportIn):
        return report_comment(comment_id, body), 201

    @api.route("/comments/<uuid:comment_id>/not-mine", "POST", summary="The person a published comment is "
               "signed with says it is not theirs: it goes to the top of the moderators' queue with that reason "
               "(rule `not_mine`); anyone else gets 404", body=NotMineIn, response=CaseOut, status=201,
               tags=["moderation"], auth="consent", errors=(404, 409))
    def not_mine(comment_id: uuid.UUID, body: NotMineIn):
        return disown_comment(comment_id, body), 201

    @api.route("/moderation/audit", summary="Every screening result and decision, per consultation or "
               "per moderator (for the protocol, R-3.14, and for appeals)", query=AuditQuery, response=Audit,
               tags=["moderation"], auth=MODERATOR)
    def audit(query: AuditQuery):
        return svc.audit(actor(), query.consultation_id, query.moderator_id)

    @api.route("/moderation/stats", summary="Moderators' statistics: handled, overdue, by ground",
               response=Stats, tags=["moderation"], auth=MODERATOR)
    def stats():
        return svc.stats(actor())

    return api
