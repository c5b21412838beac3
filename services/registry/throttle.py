"""Fixed-window request counting for the gateway's abuse limits (OWASP API4): what a bucket is.

The gateway holds nothing durable, so the counts live in the registry's own database: one upsert per
bucket, atomic under concurrency, the same for every gunicorn worker and gateway replica
(``handlers.count_hits``; the windows and waits are in ``rules``, the SQL in ``store``).
"""
from __future__ import annotations

from pydantic import BaseModel, Field


class Bucket(BaseModel):
    key: str = Field(min_length=1, max_length=200)
    limit: int = Field(ge=1)
    window: int = Field(ge=1, le=86_400, description="seconds")
