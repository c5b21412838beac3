"""Fixed-window request counting for the gateway's abuse limits (issue 8; OWASP API4).

The gateway holds nothing durable, so the counts live here, in the registry's own database: one
upsert per bucket, atomic under concurrency, the same for every gunicorn worker and gateway replica.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, Field
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.registry.models import rate_counters


class Bucket(BaseModel):
    key: str = Field(min_length=1, max_length=200)
    limit: int = Field(ge=1)
    window: int = Field(ge=1, le=86_400, description="seconds")


def window_start(at: datetime, window: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window, timezone.utc)


def hit(session: Session, buckets: list[Bucket], at: datetime) -> int:
    """Count one request in every bucket; seconds to wait when any is over its limit, else 0."""
    wait = 0
    for b in buckets:
        start = window_start(at, b.window)
        stmt = insert(rate_counters).values(key=b.key, window_start=start, hits=1)
        hits = session.execute(stmt.on_conflict_do_update(
            index_elements=[rate_counters.c.key, rate_counters.c.window_start],
            set_={"hits": rate_counters.c.hits + 1}).returning(rate_counters.c.hits)).scalar_one()
        if hits > b.limit:
            wait = max(wait, int((start + timedelta(seconds=b.window) - at).total_seconds()) + 1)
    if random.random() < 0.01:  # old windows go now and then; nothing reads them
        session.execute(delete(rate_counters).where(rate_counters.c.window_start < at - timedelta(days=1)))
    return wait
