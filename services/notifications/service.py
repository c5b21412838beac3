"""notifications: start-day e-mails to the register (R-1.10, R-3.4), the cabinet inbox (R-3.11),
one-click unsubscribe (entry points only: the work is in handlers.py, the rules in rules.py, the
SQL in store.py)."""
from __future__ import annotations

import logging
import uuid

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from chassis.consumer import once_per_event, subscribe
from chassis.errors import ServiceError
from chassis.events import open_envelope
from chassis.faults import fault_point
from chassis.rpc_contract import over_proxy
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from chassis.workdays import local_tz
from contracts.consultations import (CATEGORIES, CommentWasRejected, ConsultationPublished,
                                     InitiativeStatusChanged)
from contracts.moderation import GROUNDS
from contracts.notifications import Notifications
from contracts.registry import Registry
from contracts.reports import ReportPublished, Reports
from services.notifications import handlers, store
from services.notifications.models import PERSONAL
from services.notifications.webhook_service import WebhookEntrypoints

log = logging.getLogger(__name__)


class NotificationsService(WebhookEntrypoints, BaseService):
    name = "notifications"
    personal_data = PERSONAL  # its export
    registry = RpcProxy("registry")
    reports = RpcProxy("reports")

    @property
    def uow(self) -> UnitOfWork[store.Store]:
        return UnitOfWork(self.db, store.Store)

    @property
    def people(self) -> Registry:
        return Registry(over_proxy(self.registry))

    # ---- the start-day fan-out ---------------------------------------------------------------------
    @subscribe("consultations", "consultation_published")
    def on_consultation_published(self, payload):
        env, data = open_envelope(payload, ConsultationPublished)
        total = handlers.select_recipients(self.uow, self.people.interested_persons, env, data,
                                           get_settings().digest_send_hour, local_tz())
        if total is not None:
            log.info("fan-out of %s: %d recipients queued", data.consultation_id, total)
            fault_point("notifications.after_commit_before_ack")

    # ---- "you said, we did" at report publication (R-3.16, R-3.18) ------------------------------------
    @subscribe("reports", "report_published")
    def on_report_published(self, payload):
        env, data = open_envelope(payload, ReportPublished)
        total = handlers.select_feedback(self.uow, Reports(over_proxy(self.reports)).contributions, env, data,
                                         get_settings().public_url)
        if total is not None:
            log.info("report v%d of %s: %d contributors told", data.report_version, data.consultation_id, total)
            fault_point("notifications.after_commit_before_ack")

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def feedback(self, person_id: uuid.UUID) -> dict:
        return {"items": [f.model_dump(mode="json") for f in handlers.feedback(self.uow, person_id)]}

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def feedback_for(self, person_id: uuid.UUID, consultation_id: uuid.UUID) -> dict | None:
        found = handlers.feedback(self.uow, person_id, consultation_id)
        return found[0].model_dump(mode="json") if found else None

    @timer(interval=1.0)
    def send_due(self):
        sent = handlers.send_due(self.uow, self.people.mail_contacts, get_settings(), CATEGORIES)
        if sent:
            log.info("sent %d e-mails", sent)

    # ---- the cabinet inbox (R-3.11, R-3.9) ----------------------------------------------------------
    @subscribe("consultations", "initiative_status_changed")
    @once_per_event(InitiativeStatusChanged)
    def on_initiative_status_changed(self, tx, data, env):
        handlers.tell_initiator(tx, env, data, get_settings().public_url)

    @subscribe("consultations", "comment_rejected", version=2)
    @once_per_event(CommentWasRejected)
    def on_comment_rejected(self, tx, data, env):
        handlers.tell_author(tx, env, data, {code: g.title for code, g in GROUNDS.items()})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def inbox(self, person_id: uuid.UUID) -> dict:
        return handlers.inbox(self.uow, person_id).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def mark_read(self, person_id: uuid.UUID, item_id: int | None = None) -> int:
        return handlers.mark_read(self.uow, person_id, item_id)

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def progress(self, consultation_id: uuid.UUID) -> dict | None:
        p = handlers.progress(self.uow, consultation_id)
        return p.model_dump(mode="json") if p else None

    # ---- one-click unsubscribe (RFC 8058) -----------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def unsubscribe(self, token: str) -> dict:
        handlers.unsubscribe(self.uow, get_settings().secret_key, token, self.people.unsubscribe)
        return {"unsubscribed": True}
