"""moderation: R-3.7 screening, the moderators' queue, decisions, audit (entrypoints only: units of work
in handlers.py, rules in rules.py, SQL in store.py)."""
from __future__ import annotations

from nameko.rpc import rpc

from chassis.consumer import once_per_event, subscribe
from chassis.errors import ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from contracts.consultations import CommentSubmitted, ConsultationSubmitted
from contracts.identity import principal_from as _actor
from contracts.moderation import GROUNDS, CaseDecision, Moderation, NotMineIn, QueueQuery, ReportIn
from services.moderation import handlers
from services.moderation.models import PERSONAL
from services.moderation.store import Store


def dump(model) -> dict:
    return model.model_dump(mode="json")


class ModerationService(BaseService):
    name = "moderation"
    personal_data = PERSONAL  # its export

    @property
    def uow(self) -> UnitOfWork[Store]:
        return UnitOfWork(self.db, Store)

    @subscribe("consultations", "comment_submitted", version=2)
    # a resident may report a comment the moment it is public: its record does not wait for others
    @once_per_event(CommentSubmitted, batch=True, batch_seconds=0)
    def on_comment_submitted(self, store, data):
        handlers.screen_comment(store, data, get_settings().holidays_are_days_off)

    @subscribe("consultations", "consultation_submitted")
    @once_per_event(ConsultationSubmitted)
    def on_consultation_submitted(self, store, data):
        handlers.screen_initiative(store, data, get_settings().holidays_are_days_off)

    @rpc
    @Moderation.serves
    def grounds(self) -> list[dict]:
        return [g.model_dump() for g in GROUNDS.values()]

    @rpc(expected_exceptions=ServiceError)
    @Moderation.serves
    def queue(self, actor: dict, query: dict | None = None) -> dict:
        return dump(handlers.queue(self.uow, _actor(actor), parse(QueueQuery, query or {})))

    @rpc(expected_exceptions=ServiceError)
    @Moderation.serves
    def decide(self, actor: dict, case_id, body: dict, unit_name: str | None = None) -> dict:
        data = parse(CaseDecision, body)
        return dump(handlers.decide(self.uow, _actor(actor), _uuid(case_id, "case_id"), data, unit_name))

    @rpc(expected_exceptions=ServiceError)
    @Moderation.serves
    def report_comment(self, actor: dict, comment_id, body: dict) -> dict:
        data = parse(ReportIn, body)
        return dump(handlers.report_comment(self.uow, _actor(actor), _uuid(comment_id, "comment_id"), data.reason,
                                            get_settings().holidays_are_days_off))

    @rpc(expected_exceptions=ServiceError)
    @Moderation.serves
    def disown_comment(self, actor: dict, comment_id, body: dict) -> dict:
        data = parse(NotMineIn, body)
        return dump(handlers.disown_comment(self.uow, _actor(actor), _uuid(comment_id, "comment_id"),
                                            data.explanation, get_settings().holidays_are_days_off))

    @rpc(expected_exceptions=ServiceError)
    @Moderation.serves
    def audit(self, actor: dict, consultation_id=None, moderator_id=None) -> dict:
        return dump(handlers.audit(self.uow, _actor(actor),
                                   _uuid(consultation_id, "consultation_id") if consultation_id else None,
                                   _uuid(moderator_id, "moderator_id") if moderator_id else None))

    @rpc(expected_exceptions=ServiceError)
    @Moderation.serves
    def stats(self, actor: dict) -> dict:
        return dump(handlers.stats(self.uow, _actor(actor)))
