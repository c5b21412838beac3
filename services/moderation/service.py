"""moderation: R-3.7 screening, the moderators' queue, decisions, audit (entrypoints only)."""
from __future__ import annotations

from nameko.rpc import rpc

from chassis.consumer import claim_event, subscribe
from chassis.errors import ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.service import BaseService
from chassis.settings import get_settings
from contracts.consultations import CommentSubmitted, ConsultationSubmitted
from contracts.identity import principal_from as _actor
from contracts.moderation import GROUNDS, CaseDecision, QueueQuery, ReportIn
from services.moderation import domain
from services.moderation.models import PERSONAL


def dump(model) -> dict:
    return model.model_dump(mode="json")


class ModerationService(BaseService):
    name = "moderation"
    personal_data = PERSONAL  # its export

    @subscribe("consultations", "comment_submitted")
    def on_comment_submitted(self, payload):
        env, data = open_envelope(payload, CommentSubmitted)
        with self.db.transaction() as session:
            if claim_event(session, "moderation.on_comment_submitted", env.event_id):
                domain.screen_comment(session, data, get_settings().holidays_are_days_off)

    @subscribe("consultations", "consultation_submitted")
    def on_consultation_submitted(self, payload):
        env, data = open_envelope(payload, ConsultationSubmitted)
        with self.db.transaction() as session:
            if claim_event(session, "moderation.on_consultation_submitted", env.event_id):
                domain.screen_initiative(session, data, get_settings().holidays_are_days_off)

    @rpc
    def grounds(self) -> list[dict]:
        return [g.model_dump() for g in GROUNDS.values()]

    @rpc(expected_exceptions=ServiceError)
    def queue(self, actor: dict, query: dict | None = None) -> dict:
        page = parse(QueueQuery, query or {})
        with self.db.transaction() as session:
            return dump(domain.queue(session, _actor(actor), page))

    @rpc(expected_exceptions=ServiceError)
    def decide(self, actor: dict, case_id, body: dict, unit_name: str | None = None) -> dict:
        data = parse(CaseDecision, body)
        with self.db.transaction() as session:
            return dump(domain.decide(session, _actor(actor), _uuid(case_id, "case_id"), data, unit_name))

    @rpc(expected_exceptions=ServiceError)
    def report_comment(self, actor: dict, comment_id, body: dict) -> dict:
        data = parse(ReportIn, body)
        with self.db.transaction() as session:
            return dump(domain.report_comment(session, _actor(actor), _uuid(comment_id, "comment_id"), data.reason,
                                              get_settings().holidays_are_days_off))

    @rpc(expected_exceptions=ServiceError)
    def audit(self, actor: dict, consultation_id=None, moderator_id=None) -> dict:
        with self.db.transaction() as session:
            return dump(domain.audit(session, _actor(actor),
                                     _uuid(consultation_id, "consultation_id") if consultation_id else None,
                                     _uuid(moderator_id, "moderator_id") if moderator_id else None))

    @rpc(expected_exceptions=ServiceError)
    def stats(self, actor: dict) -> dict:
        with self.db.transaction() as session:
            return dump(domain.stats(session, _actor(actor)))
