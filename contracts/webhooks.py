"""Contracts of webhooks and the public event feed: what administrators send and read, what the
feed returns (the gateway declares its routes with these, so /openapi.json documents them)."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.public_events import PUBLIC_TYPES, selectors

TYPES_HELP = ("event types from the public catalogue (docs/events.md): " + ", ".join(PUBLIC_TYPES) +
              "; a bare name is version 1, `<type>.v<N>` picks version N while it is published")


def _known_types(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(selectors()))
    if unknown:
        raise ValueError(f"невідомі або непублічні типи подій: {', '.join(unknown)}")
    return value


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, description="https URL of the receiver")
    event_types: list[str] = Field(min_length=1, max_length=4 * len(PUBLIC_TYPES), description=TYPES_HELP)
    description: str = Field("", max_length=500)
    owner_contact: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                               description="e-mail of whoever answers for the receiver; told when it fails")

    _types = field_validator("event_types")(_known_types)


class Subscription(BaseModel):
    """A subscription as administrators read it: never with its secret."""
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    owner_contact: str
    status: str = Field(description="active | failing (a delivery gave up) | disabled (deleted or 410 Gone)")
    status_reason: str | None = None
    created_at: datetime
    status_changed_at: datetime
    previous_secret_until: datetime | None = Field(None, description="the old secret also signs until then")


class SubscriptionCreated(Subscription):
    secret: str = Field(description="whsec_…: shown this once; keep it to verify webhook-signature")


class SubscriptionList(BaseModel):
    items: list[Subscription]


class SecretRotated(BaseModel):
    secret: str = Field(description="the new whsec_… secret, shown this once")
    previous_secret_until: datetime = Field(description="until then deliveries carry both signatures")


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = Field(description="null: no HTTP answer (refused, timed out, blocked address)")
    latency_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="first 500 characters of the answer, secrets removed")


class Delivery(BaseModel):
    id: int
    event_id: uuid.UUID = Field(description="also the webhook-id header: the receiver's idempotency key")
    type: str
    status: str = Field(description="pending | sending | delivered | failed | cancelled")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    attempt_log: list[Attempt]


class DeliveryList(BaseModel):
    items: list[Delivery]
    next_before: int | None = Field(description="pass as ?before= for older deliveries")


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=200)
    before: int | None = Field(None, ge=1, le=2**63 - 1)


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime = Field(description="events that occurred at or after (with a time zone)")
    until: datetime = Field(description="… and before this moment")

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("потрібен часовий пояс, напр. 2026-11-30T10:00:00Z")
        return value


class Queued(BaseModel):
    queued: int


class FeedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: int = Field(0, ge=0, le=2**63 - 1, description="the cursor: `next_after` of the previous page; "
                                                          "0 for the oldest kept event")
    types: str = Field("", max_length=2000, description="comma-separated event types (`<type>` is version 1, "
                       "`<type>.v<N>` version N); empty: every public type in every published version")
    limit: int = Field(100, ge=1, le=1000)

    @field_validator("types")
    @classmethod
    def _types(cls, value: str) -> str:
        _known_types([t for t in value.split(",") if t])
        return value

    def type_list(self) -> list[str]:
        return [t for t in self.types.split(",") if t]


class CloudEvent(BaseModel):
    """CloudEvents 1.0, structured JSON (the same body a webhook POSTs)."""
    specversion: str = "1.0"
    id: uuid.UUID
    source: str
    type: str = Field(description="ua.econsult.<event type>.v<version>")
    time: datetime
    datacontenttype: str = "application/json"
    subject: str | None = Field(None, description="consultations/<id>: the unit of best-effort ordering")
    sequence: str = Field(description="this event's feed cursor (decimal string)")
    data: dict


class FeedPage(BaseModel):
    items: list[CloudEvent]
    next_after: int = Field(description="pass as ?after= next; equal to `after` when nothing is new")
