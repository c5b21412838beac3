"""Contracts of the notifications service: its events and what the cabinet and officials read."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from chassis.events import EventData, event
from chassis.rpc_contract import RpcContract
from contracts.reports import Outcome
from contracts.webhooks import (DeliveryList, FeedPage, FeedQuery, Queued, ReplayIn, SecretRotated, Subscription,
                                SubscriptionCreated, SubscriptionIn, SubscriptionList)


@event("notifications", "notification_batch_completed")
class NotificationBatchCompleted(EventData):
    """Every e-mail of a consultation's start-day fan-out is sent or has finally failed."""

    consultation_id: uuid.UUID
    recipients: int
    sent: int
    failed: int
    completed_at: datetime


class Progress(BaseModel):
    consultation_id: uuid.UUID
    status: str = Field(description="selecting | sending | done")
    recipients: int
    queued: int
    sent: int
    failed: int
    in_digest: int = Field(0, description="recipients in daily-digest mode (counted in the figures above)")
    failed_reasons: dict[str, int] = Field(default_factory=dict, description="failed rows by cause: "
                                           "`unbuildable` (the message could not be built, e.g. a line break "
                                           "in a header), `retries_spent`, `smtp`, `skipped`")


class InboxItem(BaseModel):
    id: int
    title: str
    body: str
    link: str | None
    created_at: datetime
    read: bool


class Inbox(BaseModel):
    items: list[InboxItem]
    unread: int


class UnsubscribeOut(BaseModel):
    unsubscribed: bool


class CommentFeedback(BaseModel):
    """One of a person's comments and what became of it, as they were last told (R-3.16)."""

    comment_id: uuid.UUID
    number: int = Field(description="its number in the report")
    target: str
    excerpt: str
    outcome: Outcome
    outcome_label: str = Field(description="враховано | враховано частково | не враховано")
    justification: str | None = None
    report_version: int = Field(description="the report version that first told this")


class ConsultationFeedback(BaseModel):
    """"You said, we did": a person's comments on one consultation with their consideration, the
    report and, once recorded, the decision (R-3.16, R-3.18)."""

    consultation_id: uuid.UUID
    title: str
    report_version: int = Field(description="the newest version the person was told about")
    report_url: str
    decision_title: str | None = None
    decision_url: str | None = None
    told_at: datetime
    comments: list[CommentFeedback]


class FeedbackList(BaseModel):
    items: list[ConsultationFeedback]


# ---- RPC ------------------------------------------------------------------------------------------

class Notifications(RpcContract, service="notifications"):
    """The notifications service's RPC methods (the cabinet inbox, fan-out progress, unsubscribe,
    webhooks and the public event feed); an instance is its typed client."""

    def inbox(self, person_id: uuid.UUID) -> Inbox:
        """The person's cabinet messages (R-3.11) with the unread count."""

    def mark_read(self, person_id: uuid.UUID, item_id: int | None = None) -> int:
        """Mark one message (or, without ``item_id``, all) read; how many changed."""

    def progress(self, consultation_id: uuid.UUID) -> Progress | None:
        """The start-day e-mails of a consultation: queued, sent, failed; null without a fan-out."""

    def unsubscribe(self, token: str) -> UnsubscribeOut:
        """One-click unsubscribe (RFC 8058) with the token of an e-mail's link."""

    def feedback(self, person_id: uuid.UUID) -> FeedbackList:
        """What became of the person's comments, every consultation whose report they were told of."""

    def feedback_for(self, person_id: uuid.UUID, consultation_id: uuid.UUID) -> ConsultationFeedback | None:
        """The same for one consultation; null when the person has nothing there."""

    def webhook_create(self, admin_id: uuid.UUID, body: SubscriptionIn) -> SubscriptionCreated:
        """An administrator subscribes a partner's URL to public event types (the secret is shown once)."""

    def webhook_list(self) -> SubscriptionList:
        """Every webhook subscription."""

    def webhook_get(self, sub_id: str) -> Subscription:
        """One subscription (an unknown or malformed id is not found)."""

    def webhook_rotate_secret(self, sub_id: str) -> SecretRotated:
        """A new signing secret; the previous one stays valid for the grace period."""

    def webhook_disable(self, sub_id: str) -> Subscription:
        """Stop deliveries to a subscription."""

    def webhook_deliveries(self, sub_id: str, limit: int = 50, before: int | None = None) -> DeliveryList:
        """A subscription's deliveries, newest first, a page at a time."""

    def webhook_resend(self, sub_id: str, delivery_id: int) -> Queued:
        """Queue one delivery again."""

    def webhook_replay(self, sub_id: str, body: ReplayIn) -> Queued:
        """Queue again every event of a time range."""

    def event_feed(self, query: FeedQuery) -> FeedPage:
        """One page of the public event feed (CloudEvents), after a cursor."""
