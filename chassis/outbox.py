"""Transactional outbox (docs/events.md): facts are never lost between commit and bus.

A service calls :func:`add_event` inside the transaction that makes the change; the row commits or
rolls back with it. Right after the commit the instance's relay (:class:`OutboxRelay`) is handed
the new events and publishes them at once: it claims their rows (``UPDATE … published_at = now()
… FOR UPDATE SKIP LOCKED … RETURNING``, one statement for the whole batch), publishes each with
publisher confirms awaited once per batch, and commits. A transaction that rolled back left no row,
so nothing of it is claimed or published. Every ``OUTBOX_POLL_SECONDS`` the relay also polls for
rows left unsent (the broker was down, or the process died between commit and publish) and
publishes them the same way. A claim is a row lock held until the publish is confirmed: a crash in
between rolls it back and the poller of any instance sends the event again, which consumers absorb
because they dedupe by ``event_id``. While the broker is unreachable the rows wait and the relay
retries with backoff.
"""
from __future__ import annotations

import collections
import json
import logging
import threading
import time
from typing import NamedTuple

from sqlalchemy import (BigInteger, Column, DateTime, Index, MetaData, PrimaryKeyConstraint,
                        String, Table, Uuid, func, select, text, update)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from chassis import metrics, tracing
from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.errors import DatabaseSilent
from chassis.events import Envelope, EventData, every_version, make_envelope, routing_key
from chassis.faults import fault_point
from chassis.log import current_request_id, set_request_id

log = logging.getLogger(__name__)

chassis_metadata = MetaData()

outbox = Table(
    "outbox", chassis_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("type", String(100), nullable=False),
    Column("envelope", JSONB, nullable=False),
    Column("request_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)

processed_events = Table(
    "processed_events", chassis_metadata,
    Column("handler", String(200), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("handler", "event_id"),
)

# The poller leaves a row this young to the relay that committed it (it is on its way already).
FRESH_SECONDS = 1.0


class OutboxRow(NamedTuple):
    event_id: object
    type: str
    envelope: dict
    request_id: str | None


# built once: building an INSERT per event (and its cache key) cost more CPU than running it. Every
# row of a change in one statement, the rows as one JSON array: a list of parameter sets would go
# through the driver's executemany (pipeline mode), and arrays through its list dumpers, each of
# which cost more.
_ADD = text("INSERT INTO outbox (event_id, type, envelope, request_id) SELECT x.event_id, x.type, x.envelope, "
            "x.request_id FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (event_id uuid, type text, "
            "envelope jsonb, request_id text)) WITH ORDINALITY AS x(event_id, type, envelope, request_id, n) "
            "ORDER BY n")


def add_event(session: Session, data: EventData) -> Envelope:
    """Write ``data`` as an event into the outbox, inside the caller's transaction: one envelope per
    version of its type still published (each its own event id; consumers pick a version); returns
    the envelope of ``data``'s own version."""
    return add_events(session, [data])[0]


def add_events(session: Session, facts: list[EventData]) -> list[Envelope]:
    """:func:`add_event` for several facts of one change, in one statement; their envelopes (each
    fact's own version), in order."""
    traceparent = tracing.current_traceparent() if tracing.enabled() else None
    request_id = current_request_id()
    own, rows = [], []
    for data in facts:
        envelopes = [make_envelope(d) for d in every_version(data)]
        own.append(envelopes[0])
        for env in envelopes:
            stored = env.model_dump(mode="json")
            if traceparent:
                stored[tracing.OUTBOX_KEY] = traceparent
            rows.append(OutboxRow(env.event_id, env.type, stored, request_id))
    session.execute(_ADD, {"rows": json.dumps([{"event_id": str(r.event_id), "type": r.type, "envelope": r.envelope,
                                                "request_id": request_id} for r in rows])})
    session.info.setdefault("outbox_new", []).extend(rows)
    return own


def _publish(conn: Connection, publisher: ConfirmingPublisher, service: str, rows: list[OutboxRow]) -> None:
    """Publish the claimed ``rows`` (their locks held by ``conn``'s open transaction), one confirm
    wait for all of them."""
    fault_point("outbox.before_publish")  # drills: the change is committed, nothing published
    exchange = event_exchange(service)
    messages, traceparents = [], []
    for row in rows:
        envelope = dict(row.envelope)
        traceparent = envelope.pop(tracing.OUTBOX_KEY, None)
        traceparents.append(traceparent)
        headers = {"nameko.request_id": row.request_id} if row.request_id else {}
        if tracing.enabled():
            with tracing.publish_span(service, row.type, traceparent):
                headers["nameko.traceparent"] = tracing.current_traceparent()
        messages.append(dict(body=envelope, exchange=exchange, headers=headers,
                             routing_key=routing_key(service, row.type, envelope.get("version", 1)),
                             message_id=str(row.event_id)))
    started = time.perf_counter()
    publisher.publish_many(messages)
    metrics.OUTBOX_PUBLISH_SECONDS.labels(service).observe(time.perf_counter() - started)
    fault_point("outbox.after_publish")  # drills: published, not yet marked: sent again later
    metrics.OUTBOX_PUBLISHED.labels(service).inc(len(rows))
    if log.isEnabledFor(logging.DEBUG):  # each line: the request and trace of its change
        for row, traceparent in zip(rows, traceparents):
            set_request_id(row.request_id)
            with tracing.attached(traceparent):
                log.debug("event published", extra={"event_type": row.type, "event_id": str(row.event_id)})
        set_request_id(None)


def relay_once(engine: Engine, publisher: ConfirmingPublisher, service: str,
               batch: int = 100, min_age: float = 0.0) -> int:
    """The poller: publish up to ``batch`` unsent events at least ``min_age`` seconds old; returns
    how many went out."""
    with tracing.suppressed(), engine.begin() as conn:
        query = (select(outbox.c.id, outbox.c.event_id, outbox.c.type, outbox.c.envelope, outbox.c.request_id)
                 .where(outbox.c.published_at.is_(None)))
        if min_age:
            query = query.where(outbox.c.created_at < func.now() - text(f"interval '{float(min_age)} seconds'"))
        found = conn.execute(query.order_by(outbox.c.id).limit(batch).with_for_update(skip_locked=True)).all()
        if not found:
            return 0
        rows = [OutboxRow(r.event_id, r.type, r.envelope, r.request_id) for r in found]
        _publish(conn, publisher, service, rows)
        conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in found])).values(published_at=func.now()))
    return len(rows)


CLAIM = text("UPDATE outbox SET published_at = now() WHERE id IN (SELECT id FROM outbox WHERE event_id = "
             "ANY(:ids) AND published_at IS NULL FOR UPDATE SKIP LOCKED) RETURNING event_id")


def relay_fresh(engine: Engine, publisher: ConfirmingPublisher, service: str, fresh: list[OutboxRow]) -> int:
    """Publish events just committed by this instance: one statement claims and marks them (rows
    another relay holds or has sent are skipped), the publish is confirmed, then the mark commits."""
    with tracing.suppressed(), engine.begin() as conn:
        claimed = set(conn.execute(CLAIM, {"ids": [r.event_id for r in fresh]}).scalars())
        rows = [r for r in fresh if r.event_id in claimed]
        if rows:
            _publish(conn, publisher, service, rows)
    return len(rows)


def unpublished_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)
                            .where(outbox.c.published_at.is_(None))).scalar_one()


class OutboxRelay:
    """The relay of one service instance: publishes what this instance commits as soon as it is
    committed (:meth:`submit`), and polls every ``poll_seconds`` for anything left unsent.
    ``engine`` is its own (one connection, no pre-ping: a broken connection fails one attempt, the
    pool drops it and the retry connects afresh)."""

    def __init__(self, engine: Engine, amqp_uri: str, service: str, poll_seconds: float = 0.5,
                 batch: int = 100):
        self.engine, self.service, self.poll_seconds, self.batch = engine, service, poll_seconds, batch
        self.publisher = ConfirmingPublisher(amqp_uri)
        self.fresh: collections.deque[OutboxRow] = collections.deque()
        self.wakeup = threading.Event()
        self.running = False

    def submit(self, rows: list[OutboxRow]) -> None:
        """Events of a transaction that has just committed: publish them now."""
        self.fresh.extend(rows)
        self.wakeup.set()

    def kick(self) -> None:
        self.wakeup.set()

    def _step(self, poll_due: bool) -> int:
        if self.fresh:
            take = [self.fresh.popleft() for _ in range(min(self.batch, len(self.fresh)))]
            return relay_fresh(self.engine, self.publisher, self.service, take)
        if poll_due:
            return relay_once(self.engine, self.publisher, self.service, self.batch, FRESH_SECONDS)
        return 0

    def run(self) -> None:
        self.running = True
        failures = 0
        next_poll = 0.0
        while self.running:
            now = time.monotonic()
            poll_due = not self.fresh and now >= next_poll
            if poll_due:
                next_poll = now + self.poll_seconds
            try:
                sent = self._step(poll_due)
                if failures:
                    log.info("outbox relay recovered after %d failed attempts", failures)
                failures = 0
            except (Exception, DatabaseSilent) as exc:
                failures += 1
                self.fresh.clear()  # their rows wait in the outbox: the poller sends them
                delay = min(0.25 * 2 ** failures, 5.0)
                log.warning("outbox relay cannot publish (%s: %s); events wait in the outbox, "
                            "retrying in %.1f s", type(exc).__name__, exc, delay)
                time.sleep(delay)
                next_poll = 0.0
                continue
            if poll_due and sent >= self.batch:
                next_poll = 0.0  # a backlog: poll again at once
            if not self.fresh:
                self.wakeup.wait(max(0.0, next_poll - time.monotonic()))
                self.wakeup.clear()

    def stop(self) -> None:
        self.running = False
        self.wakeup.set()
        self.publisher.close()


# ---- retention: sent outbox rows and processed-event keys keep names and texts; they go after a while
PRUNE_SQL = {
    "outbox": "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < now() - "
              "make_interval(secs => :age) LIMIT :n FOR UPDATE SKIP LOCKED)",
    "processed_events": "DELETE FROM processed_events WHERE ctid IN (SELECT ctid FROM processed_events "
                        "WHERE handled_at < now() - make_interval(secs => :age) LIMIT :n FOR UPDATE SKIP LOCKED)",
}


def prune(engine: Engine, older_than_seconds: float, batch: int = 1000) -> dict[str, int]:
    """Delete sent outbox rows and processed-event keys older than ``older_than_seconds``, ``batch``
    rows per transaction (short locks, any number of instances); unsent rows are never touched.
    The age must exceed every redelivery window, or a late redelivery would be handled again."""
    removed = {}
    for table, sql in PRUNE_SQL.items():
        removed[table] = 0
        while True:
            with engine.begin() as conn:
                n = conn.execute(text(sql), {"age": older_than_seconds, "n": batch}).rowcount
            removed[table] += n
            if n < batch:
                break
    return removed


def status(engine: Engine) -> dict:
    """The outbox of one service at a glance (no payloads: they may hold personal data)."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT count(*) FILTER (WHERE published_at IS NULL) AS waiting, "
            "COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE published_at IS NULL)), 0) "
            "AS oldest_waiting_seconds, count(*) FILTER (WHERE published_at IS NOT NULL) AS sent_kept, "
            "min(published_at) AS oldest_sent_at FROM outbox")).one()
        keys = conn.execute(select(func.count()).select_from(processed_events)).scalar_one()
    return {"waiting": row.waiting, "oldest_waiting_seconds": round(float(row.oldest_waiting_seconds), 1),
            "sent_kept": row.sent_kept,
            "oldest_sent_at": row.oldest_sent_at.isoformat() if row.oldest_sent_at else None,
            "processed_event_keys": keys}


def stuck(engine: Engine, older_than_seconds: float = 60.0, limit: int = 50) -> list[dict]:
    """Unsent rows waiting longer than ``older_than_seconds``, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, event_id, type, request_id, created_at, EXTRACT(EPOCH FROM now() - created_at) AS age "
            "FROM outbox WHERE published_at IS NULL AND created_at < now() - make_interval(secs => :s) "
            "ORDER BY id LIMIT :n"), {"s": older_than_seconds, "n": limit}).all()
    return [{"id": r.id, "event_id": str(r.event_id), "type": r.type, "request_id": r.request_id,
             "created_at": r.created_at.isoformat(), "age_seconds": round(float(r.age), 1)} for r in rows]


def main(argv: list[str] | None = None) -> int:
    """``python -m chassis.outbox status|stuck [--service NAME] [--older-than SECONDS]``"""
    import argparse
    import json

    from chassis.settings import SERVICES, get_settings
    from sqlalchemy import create_engine

    parser = argparse.ArgumentParser(prog="python -m chassis.outbox", description="Inspect the services' outboxes")
    parser.add_argument("command", choices=("status", "stuck"))
    parser.add_argument("--service", choices=SERVICES, action="append", help="default: every service")
    parser.add_argument("--older-than", type=float, default=60.0, help="stuck: seconds waiting (default 60)")
    args = parser.parse_args(argv)
    settings = get_settings()
    for service in args.service or SERVICES:
        engine = create_engine(settings.service_db_url(service))
        try:
            out = status(engine) if args.command == "status" else stuck(engine, args.older_than)
        finally:
            engine.dispose()
        print(json.dumps({"service": service, args.command: out}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
