"""Contracts of the notifications service: its events and what the cabinet and officials read."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from chassis.events import EventData, event


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
