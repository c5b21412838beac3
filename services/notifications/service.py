"""notifications: start-day e-mails to the register (R-1.10, R-3.4), the cabinet inbox (R-3.11),
one-click unsubscribe (entry points only: the work is in handlers.py, the rules in rules.py, the
SQL in store.py)."""
from __future__ import annotations

import logging

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from chassis.consumer import subscribe
from chassis.errors import InvalidInput, ServiceError
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.faults import fault_point
from chassis.service import BaseService
from chassis.settings import get_settings
from services.consultations.categories import CATEGORIES
from services.consultations.schemas import (CommentWasRejected, ConsultationPublished,
                                            InitiativeStatusChanged)
from services.moderation.grounds import GROUNDS
from services.notifications import handlers, rules, store
from services.notifications.models import PERSONAL
from services.notifications.webhook_service import WebhookEntrypoints
from services.workdays import KYIV

log = logging.getLogger(__name__)


class NotificationsService(WebhookEntrypoints, BaseService):
    name = "notifications"
    personal_data = PERSONAL  # its export
    registry = RpcProxy("registry")

    # ---- the start-day fan-out ---------------------------------------------------------------------
    @subscribe("consultations", "consultation_published")
    def on_consultation_published(self, payload):
        env, data = open_envelope(payload, ConsultationPublished)
        total = handlers.select_recipients(self.db, self.registry.interested_persons, env, data,
                                           get_settings().digest_send_hour, KYIV)
        if total is not None:
            log.info("fan-out of %s: %d recipients queued", data.consultation_id, total)
            fault_point("notifications.after_commit_before_ack")

    @timer(interval=1.0)
    def send_due(self):
        sent = handlers.send_due(self.db, self.registry.mail_contacts, get_settings(), CATEGORIES)
        if sent:
            log.info("sent %d e-mails", sent)

    # ---- the cabinet inbox (R-3.11, R-3.9) ----------------------------------------------------------
    @subscribe("consultations", "initiative_status_changed")
    def on_initiative_status_changed(self, payload):
        env, data = open_envelope(payload, InitiativeStatusChanged)
        url = f"{get_settings().public_url.rstrip('/')}/consultations/{data.consultation_id}"
        handlers.inbox_once(self.db, "on_initiative_status_changed", env, data.initiator_id,
                            rules.initiative_message(data.title, data.status), url)

    @subscribe("consultations", "comment_rejected")
    def on_comment_rejected(self, payload):
        env, data = open_envelope(payload, CommentWasRejected)
        handlers.inbox_once(self.db, "on_comment_rejected", env, data.author_id,
                            rules.rejection_message(data.grounds, {c: g.title for c, g in GROUNDS.items()}), None)

    @rpc(expected_exceptions=ServiceError)
    def inbox(self, person_id) -> dict:
        with self.db.transaction() as session:
            return store.read_inbox(session, _uuid(person_id, "person_id")).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def mark_read(self, person_id, item_id=None) -> int:
        if item_id is not None and not isinstance(item_id, int):
            raise InvalidInput("id має бути числом", errors=[{"field": "id", "message": "ціле число"}])
        with self.db.transaction() as session:
            return store.mark_read(session, _uuid(person_id, "person_id"), item_id)

    @rpc(expected_exceptions=ServiceError)
    def progress(self, consultation_id) -> dict | None:
        with self.db.transaction() as session:
            p = store.progress(session, _uuid(consultation_id, "consultation_id"))
            return p.model_dump(mode="json") if p else None

    # ---- one-click unsubscribe (RFC 8058) -----------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def unsubscribe(self, token: str) -> dict:
        handlers.unsubscribe(self.db, get_settings().secret_key, token, self.registry.unsubscribe)
        return {"unsubscribed": True}
