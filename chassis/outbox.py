"""Transactional outbox (DESIGN, "Contracts": facts are never lost between commit and bus).

A service calls :func:`add_event` inside the transaction that makes the change; the row commits or
rolls back with it. The relay (:class:`OutboxRelay`, run by every service instance) claims unsent
rows with ``FOR UPDATE SKIP LOCKED``, publishes each to ``<service>.events`` with publisher
confirms, then marks them sent in the same transaction. If the broker is unreachable the rows wait
and the relay retries with backoff; a crash after publishing but before marking re-publishes, which
consumers absorb because they dedupe by ``event_id``.
"""
from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import (BigInteger, Column, DateTime, Index, MetaData, PrimaryKeyConstraint,
                        String, Table, Uuid, func, select, text, update)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chassis import metrics, tracing
from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.errors import DatabaseSilent
from chassis.events import Envelope, EventData, every_version, make_envelope
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


def add_event(session: Session, data: EventData) -> Envelope:
    """Write ``data`` as an event into the outbox, inside the caller's transaction: one envelope per
    version of its type still published (each its own event id; consumers pick a version); returns
    the envelope of ``data``'s own version."""
    traceparent = tracing.current_traceparent() if tracing.enabled() else None
    envelopes = [make_envelope(d) for d in every_version(data)]
    for env in envelopes:
        stored = env.model_dump(mode="json")
        if traceparent:
            stored[tracing.OUTBOX_KEY] = traceparent
        session.execute(outbox.insert().values(
            event_id=env.event_id, type=env.type, envelope=stored, request_id=current_request_id()))
    session.info["outbox_dirty"] = True
    return envelopes[0]


def relay_once(engine: Engine, publisher: ConfirmingPublisher, service: str,
               batch: int = 100) -> int:
    """Publish up to ``batch`` unsent events; returns how many went out."""
    exchange = event_exchange(service)
    with tracing.suppressed(), engine.begin() as conn:
        rows = conn.execute(
            select(outbox.c.id, outbox.c.type, outbox.c.envelope, outbox.c.request_id,
                   outbox.c.event_id)
            .where(outbox.c.published_at.is_(None)).order_by(outbox.c.id)
            .limit(batch).with_for_update(skip_locked=True)).all()
        if not rows:
            return 0
        fault_point("outbox.before_publish")  # drills: the change is committed, nothing published
        traceparents = []
        for row in rows:
            envelope = dict(row.envelope)
            traceparent = envelope.pop(tracing.OUTBOX_KEY, None)
            traceparents.append(traceparent)
            with tracing.publish_span(service, row.type, traceparent):
                headers = {"nameko.request_id": row.request_id} if row.request_id else {}
                if tracing.enabled():
                    headers["nameko.traceparent"] = tracing.current_traceparent()
                started = time.perf_counter()
                publisher.publish(envelope, exchange=exchange, routing_key=row.type,
                                  headers=headers, message_id=str(row.event_id))
                metrics.OUTBOX_PUBLISH_SECONDS.labels(service).observe(time.perf_counter() - started)
        fault_point("outbox.after_publish")  # drills: published, not yet marked: sent again later
        conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows]))
                     .values(published_at=func.now()))
    metrics.OUTBOX_PUBLISHED.labels(service).inc(len(rows))
    for row, traceparent in zip(rows, traceparents):  # each line: the request and trace of its change
        set_request_id(row.request_id)
        with tracing.attached(traceparent):
            log.info("event published", extra={"event_type": row.type, "event_id": str(row.event_id)})
    set_request_id(None)
    return len(rows)


def unpublished_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)
                            .where(outbox.c.published_at.is_(None))).scalar_one()


class OutboxRelay:
    """The relay loop of one service instance: wakes on a local kick or every poll interval."""

    def __init__(self, engine: Engine, amqp_uri: str, service: str, poll_seconds: float = 0.5):
        self.engine, self.service, self.poll_seconds = engine, service, poll_seconds
        self.publisher = ConfirmingPublisher(amqp_uri)
        self.wakeup = threading.Event()
        self.running = False

    def kick(self) -> None:
        self.wakeup.set()

    def run(self) -> None:
        self.running = True
        failures = 0
        while self.running:
            try:
                sent = relay_once(self.engine, self.publisher, self.service)
                if failures:
                    log.info("outbox relay recovered after %d failed attempts", failures)
                failures = 0
            except (Exception, DatabaseSilent) as exc:
                failures += 1
                delay = min(0.25 * 2 ** failures, 5.0)
                log.warning("outbox relay cannot publish (%s: %s); events wait in the outbox, "
                            "retrying in %.1f s", type(exc).__name__, exc, delay)
                time.sleep(delay)
                continue
            if sent == 0:
                self.wakeup.wait(self.poll_seconds)
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
