"""notifications: start-day e-mails to the register (R-1.10, R-3.4), the cabinet inbox (R-3.11),
one-click unsubscribe (entry points only: the work is in handlers.py, the rules in rules.py, the
SQL in store.py)."""
from __future__ import annotations

import logging

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from chassis.consumer import once_per_event, subscribe
from chassis.errors import InvalidInput, ServiceError
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.faults import fault_point
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from chassis.workdays import local_tz
from contracts.consultations import (CATEGORIES, CommentWasRejected, ConsultationPublished,
                                     InitiativeStatusChanged)
from contracts.moderation import GROUNDS
from services.notifications import handlers, store
from services.notifications.models import PERSONAL
from services.notifications.webhook_service import WebhookEntrypoints

log = logging.getLogger(__name__)


class NotificationsService(WebhookEntrypoints, BaseService):
    name = "notifications"
    personal_data = PERSONAL  # its export
    registry = RpcProxy("registry")

    @property
    def uow(self) -> UnitOfWork[store.Store]:
        return UnitOfWork(self.db, store.Store)

    # ---- the start-day fan-out ---------------------------------------------------------------------
    @subscribe("consultations", "consultation_published")
    def on_consultation_published(self, payload):
        env, data = open_envelope(payload, ConsultationPublished)
        total = handlers.select_recipients(self.uow, self.registry.interested_persons, env, data,
                                           get_settings().digest_send_hour, local_tz())
        if total is not None:
            log.info("fan-out of %s: %d recipients queued", data.consultation_id, total)
            fault_point("notifications.after_commit_before_ack")

    @timer(interval=1.0)
    def send_due(self):
        sent = handlers.send_due(self.uow, self.registry.mail_contacts, get_settings(), CATEGORIES)
        if sent:
            log.info("sent %d e-mails", sent)

    # ---- the cabinet inbox (R-3.11, R-3.9) ----------------------------------------------------------
    @subscribe("consultations", "initiative_status_changed")
    @once_per_event(InitiativeStatusChanged)
    def on_initiative_status_changed(self, tx, data, env):
        handlers.tell_initiator(tx, env, data, get_settings().public_url)

    @subscribe("consultations", "comment_rejected")
    @once_per_event(CommentWasRejected)
    def on_comment_rejected(self, tx, data, env):
        handlers.tell_author(tx, env, data, {code: g.title for code, g in GROUNDS.items()})

    @rpc(expected_exceptions=ServiceError)
    def inbox(self, person_id) -> dict:
        return handlers.inbox(self.uow, _uuid(person_id, "person_id")).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def mark_read(self, person_id, item_id=None) -> int:
        if item_id is not None and not isinstance(item_id, int):
            raise InvalidInput("id має бути числом", errors=[{"field": "id", "message": "ціле число"}])
        return handlers.mark_read(self.uow, _uuid(person_id, "person_id"), item_id)

    @rpc(expected_exceptions=ServiceError)
    def progress(self, consultation_id) -> dict | None:
        p = handlers.progress(self.uow, _uuid(consultation_id, "consultation_id"))
        return p.model_dump(mode="json") if p else None

    # ---- one-click unsubscribe (RFC 8058) -----------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def unsubscribe(self, token: str) -> dict:
        handlers.unsubscribe(self.uow, get_settings().secret_key, token, self.registry.unsubscribe)
        return {"unsubscribed": True}
