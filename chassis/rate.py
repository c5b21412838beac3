"""Fixed-window request counters (OWASP API4), kept in PostgreSQL so that every gateway worker and
replica and every service instance shares them: the rules and the counting, for the services that
keep counters (the registry: logins and API keys; consultations: writes, a comment's in the
transaction that writes it)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, bindparam, delete
from sqlalchemy.dialects.postgresql import insert


def window_start(at: datetime, window: int) -> datetime:
    """Fixed windows aligned to the epoch, the same for every gateway replica."""
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window, timezone.utc)


def wait_seconds(start: datetime, window: int, at: datetime) -> int:
    """How long a caller over the limit waits: until its window ends."""
    return int((start + timedelta(seconds=window) - at).total_seconds()) + 1


def count_hits(store, buckets, at: datetime) -> int:
    """Count one request in every bucket (``key``, ``limit``, ``window``) with ``store.count_hit``;
    seconds to wait when any is over its limit, else 0."""
    wait = 0
    for b in sorted(buckets, key=lambda b: b.key):  # one order everywhere: no deadlock between two writers
        start = window_start(at, b.window)
        if store.count_hit(b.key, start) > b.limit:
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
    """``count_hit`` and ``forget_windows_before`` over a service's ``rate_counters`` table (mixed
    into its store, which has ``self.session``)."""

    def __init__(self, table: Table):
        self.table = table
        # built once: building the upsert per request cost more CPU than running it
        self.hit = insert(table).values(key=bindparam("key"), window_start=bindparam("window_start"), hits=1) \
            .on_conflict_do_update(index_elements=[table.c.key, table.c.window_start],
                                   set_={"hits": table.c.hits + 1}).returning(table.c.hits)

    def count_hit(self, session, key: str, start: datetime) -> int:
        """One more request in the window; the window's count so far (atomic under concurrency)."""
        return session.execute(self.hit, {"key": key, "window_start": start}).scalar_one()

    def forget_windows_before(self, session, cutoff: datetime) -> None:
        session.execute(delete(self.table).where(self.table.c.window_start < cutoff))
