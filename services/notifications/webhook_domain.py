"""Webhook rules as plain functions, without SQL (docs/webhooks.md; the queries are in
``webhook_store.py``).

A public event is written once into ``public_events`` (its id is the feed's cursor) and, in the same
transaction, one delivery row per matching subscription (unique subscription × event). Senders claim
due rows with SKIP LOCKED, at most ``per_subscription`` of one subscription in flight (so a slow or
failing receiver keeps the others' senders free), POST, and record the attempt. A 2xx delivers, a
410 disables the subscription, anything else is retried with exponential backoff and jitter until
the retry window has passed; then the delivery fails and its subscription is marked failing.
"""
from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from contracts.public_events import cloudevent

ACTIVE = ("active", "failing")


def now() -> datetime:
    return datetime.now(timezone.utc)


def as_cloudevent(r) -> dict:
    return cloudevent(event_id=r.event_id, source=r.source, event_type=r.type, version=r.version,
                      occurred_at=r.occurred_at, subject=r.subject, data=r.data, sequence=r.id)


def secrets_of(row, at: datetime | None = None) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its grace."""
    at = at or now()
    out = [row.secret]
    if row.previous_secret and row.previous_secret_until and row.previous_secret_until > at:
        out.append(row.previous_secret)
    return out


@dataclass
class Job:
    delivery_id: int
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    secrets: list[str]
    body: bytes
    attempts: int
    created_at: datetime
    subscription_status: str
    token: uuid.UUID | None = None


_SECRETISH = re.compile(r"whsec_[A-Za-z0-9+/=]+|v1,[A-Za-z0-9+/=]{20,}")


def scrub(excerpt: str, secrets: list[str]) -> str:
    """A receiver's answer as logged: no secret and no signature, even if the receiver echoes them."""
    for s in secrets:
        excerpt = excerpt.replace(s, "[secret]").replace(s.removeprefix("whsec_"), "[secret]")
    return _SECRETISH.sub("[secret]", excerpt)


def backoff(attempts: int, base: float, cap: float, rng: random.Random = random) -> float:
    """Seconds before the next try: exponential, capped, with "equal jitter" (half fixed, half random)."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


@dataclass
class Outcome:
    state: str  # delivered | retry | failed | gone | lost (the row is no longer ours)
    newly_failing: bool = False
    owner_contact: str | None = None


@dataclass
class Result:
    """One attempt's answer, as the sender saw it."""
    job: Job
    status: int | None
    latency_ms: int
    excerpt: str
    error: str | None


def decide(job: Job, status: int | None, error: str | None, settings, at: datetime) -> tuple[str, dict]:
    """What an answer means for its delivery: the state and the row's new values."""
    why = error or f"HTTP {status}"
    if status is not None and 200 <= status < 300:
        return "delivered", {"status": "delivered", "last_error": None, "next_attempt_at": None}
    if status == 410:
        return "gone", {"status": "cancelled", "last_error": "410 Gone", "next_attempt_at": None}
    if at - job.created_at < timedelta(seconds=settings.webhook_retry_window_seconds):
        delay = backoff(job.attempts, settings.webhook_retry_base_seconds, settings.webhook_retry_cap_seconds)
        return "retry", {"status": "pending", "last_error": why[:500], "next_attempt_at": at + timedelta(seconds=delay)}
    return "failed", {"status": "failed", "last_error": why[:500], "next_attempt_at": None}
