"""The cabinet inbox (R-3.11), "you said, we did" (R-3.16), fan-out progress for officials, one-click unsubscribe (RFC 8058)."""
from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from chassis.errors import NotFound
from contracts.identity import Role
from contracts.notifications import ConsultationFeedback, FeedbackList, Inbox, Progress
from gateway import auth
from gateway.clients import consultations, notifications
from gateway.openapi import ApiSpec
from gateway.routes_consultations import actor


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int | None = Field(None, ge=1, le=2**63 - 1, description="one message; omitted: all")


class Marked(BaseModel):
    marked: int


class TokenQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    token: str = Field(min_length=10, max_length=500)


class Unsubscribed(BaseModel):
    unsubscribed: bool
    message: str = "Ви більше не отримуватимете листів про консультації. Змінити це можна в особистому кабінеті."


def register(spec: ApiSpec):
    api = spec.blueprint("notifications", "/api/v1")

    @api.route("/me/notifications", summary="My cabinet messages (R-3.11) with the unread count",
               response=Inbox, tags=["cabinet"], auth="login")
    def inbox():
        return notifications.inbox(auth.require_login().person_id)

    @api.route("/me/notifications/read", "POST", summary="Mark one or all messages read", body=ReadIn,
               response=Marked, tags=["cabinet"], auth="login")
    def mark_read(body: ReadIn):
        return Marked(marked=notifications.mark_read(auth.require_login().person_id, body.id))

    @api.route("/me/feedback", summary="\"You said, we did\": what became of my comments on every consultation "
               "whose report is published, with the report and, once recorded, the decision (R-3.16, R-3.18)",
               response=FeedbackList, tags=["cabinet"], auth="login")
    def my_feedback():
        return notifications.feedback(auth.require_login().person_id)

    @api.route("/me/feedback/<uuid:consultation_id>", summary="The same for one consultation (404 where I have "
               "no published comment or its report is not out)", response=ConsultationFeedback, tags=["cabinet"],
               auth="login", errors=(404,))
    def my_feedback_on(consultation_id: uuid.UUID):
        found = notifications.feedback_for(auth.require_login().person_id, consultation_id)
        if found is None:
            raise NotFound("Ваших пропозицій у звіті цієї консультації немає", code="no_feedback")
        return found

    @api.route("/consultations/<uuid:consultation_id>/notifications", summary="Progress of the start-day "
               "e-mails: queued, sent, failed", response=Progress, tags=["consultations"],
               auth=(Role.official, Role.moderator, Role.admin), errors=(404,))
    def progress(consultation_id: uuid.UUID):
        # who sees what is the consultations service's to say: a hidden one is 404 here too
        consultations.get(actor(), consultation_id)
        p = notifications.progress(consultation_id)
        if p is None:
            raise NotFound("Розсилки для цієї консультації немає", code="no_fanout")
        return p

    @api.route("/unsubscribe", "POST", summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post); "
               "each link works once", query=TokenQuery, response=Unsubscribed, tags=["cabinet"],
               errors=(409,))
    def unsubscribe(query: TokenQuery):
        return Unsubscribed(unsubscribed=notifications.unsubscribe(query.token).unsubscribed)

    return api
