"""Fixed-window request counters (OWASP API4), kept in PostgreSQL so that every gateway worker and
replica and every service instance shares them: the rules and the counting, for the services that
keep counters (the registry: logins and API keys; consultations: writes, a comment's in the
transaction that writes it)."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, text


def window_start(at: datetime, window: int) -> datetime:
    """Fixed windows aligned to the epoch, the same for every gateway replica."""
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window, timezone.utc)


def wait_seconds(start: datetime, window: int, at: datetime) -> int:
    """How long a caller over the limit waits: until its window ends."""
    return int((start + timedelta(seconds=window) - at).total_seconds()) + 1


def count_hits(store, buckets, at: datetime) -> int:
    """Count one request in every bucket (``key``, ``limit``, ``window``; distinct keys) with
    ``store.count_hits``; seconds to wait when any is over its limit, else 0."""
    wait = 0
    ordered = sorted(buckets, key=lambda b: b.key)  # one order everywhere: no deadlock between two writers
    if len({b.key for b in ordered}) != len(ordered):
        raise ValueError("a request counts once in each bucket: bucket keys must differ")
    starts = [window_start(at, b.window) for b in ordered]
    for b, start, hits in zip(ordered, starts, store.count_hits([(b.key, s) for b, s in zip(ordered, starts)])):
        if hits > b.limit:
            wait = max(wait, wait_seconds(start, b.window, at))
    if random.random() < 0.01:  # old windows go now and then; nothing reads them
        store.forget_windows_before(at - timedelta(days=1))
    return wait


def counters_table(metadata: MetaData) -> Table:
    return Table("rate_counters", metadata,
                 Column("key", String(200), primary_key=True),
                 Column("window_start", DateTime(timezone=True), primary_key=True),
                 Column("hits", Integer, nullable=False))


class Counters:
    """``count_hits`` and ``forget_windows_before`` over a service's ``rate_counters`` table (mixed
    into its store, which has ``self.session``)."""

    def __init__(self, table: Table):
        self.table = table
        # built once, one statement for every bucket of a request: building the upsert per request,
        # or running one per bucket, cost more CPU than the counting
        self.hits = text(
            f"INSERT INTO {table.name} (key, window_start, hits) SELECT k, w, 1 FROM ROWS FROM "
            "(jsonb_to_recordset(CAST(:pairs AS jsonb)) AS (k text, w timestamptz)) WITH ORDINALITY AS t(k, w, n) "
            "ORDER BY n "
            f"ON CONFLICT (key, window_start) DO UPDATE SET hits = {table.name}.hits + 1 RETURNING key, hits")

    def count_hits(self, session, pairs: list[tuple[str, datetime]]) -> list[int]:
        """One more request in each ``(key, window start)`` (distinct keys, locked in the order
        given); each window's count so far, in that order (atomic under concurrency)."""
        if not pairs:
            return []
        # one JSON array (the driver's list dumpers cost more than the statement)
        params = {"pairs": json.dumps([{"k": k, "w": s.isoformat()} for k, s in pairs])}
        counts = dict(session.execute(self.hits, params).all())
        return [counts[k] for k, _ in pairs]

    def forget_windows_before(self, session, cutoff: datetime) -> None:
        session.execute(delete(self.table).where(self.table.c.window_start < cutoff))
