"""What every service class inherits: its database (with the outbox relay), the request context,
and the ``health`` RPC that ``/readyz`` calls."""
from __future__ import annotations

import logging

from nameko.rpc import rpc
from nameko.timer import timer
from sqlalchemy import text

from chassis import metrics, rpcerrors  # noqa: F401  (typed errors cross RPC: this service calls others too)
from chassis.context import RequestContext
from chassis.db import STATEMENTS, Database
from chassis.errors import InvalidInput, ServiceError, parse_uuid
from chassis.export import Personal, export_person
from chassis.lifecycle import ReadinessGate
from chassis.ops_http import OpsEndpoints
from chassis.outbox import outbox, prune
from chassis.settings import get_settings

MAX_PROBE_SECONDS = 0.5
log = logging.getLogger(__name__)


class BaseService:
    name = "base"
    db = Database()
    request_id = RequestContext()
    ops = OpsEndpoints()
    readiness = ReadinessGate()
    personal_data: dict[str, Personal] = {}  # what this service keeps about a person (R-2.4 export)

    @rpc(expected_exceptions=ServiceError)
    def health(self, db_probe_seconds: float = 0.0) -> dict:
        """The service is up and its database answers. ``db_probe_seconds`` (≤ 0.5) holds the query
        that long; the test that psycopg's wait function does not block eventlet uses it to prove concurrency."""
        if not isinstance(db_probe_seconds, (int, float)) or not 0 <= db_probe_seconds <= MAX_PROBE_SECONDS:
            raise InvalidInput("db_probe_seconds must be between 0 and 0.5",
                               errors=[{"field": "db_probe_seconds", "message": "0..0.5"}])
        with self.db.transaction() as session:
            session.execute(text("SELECT pg_sleep(:s)"), {"s": float(db_probe_seconds)})
            waiting = session.execute(
                text(f"SELECT count(*) FROM {outbox.name} WHERE published_at IS NULL")).scalar_one()
        out = {"service": self.name, "status": "ok", "database": "ok", "outbox_waiting": waiting}
        if get_settings().sql_count:  # benchmarks only: statements sent so far, this call's 2 included
            out["sql_statements"] = STATEMENTS["count"]
        return out

    @rpc(expected_exceptions=ServiceError)
    def export_person(self, person_id) -> dict:
        """Everything this service keeps about one person (``personal_data``), as JSON values; who
        may export is the registry's rule (the gateway asks it first)."""
        pid = parse_uuid(person_id, "person_id")
        with self.db.transaction() as session:
            return export_person(session, self.personal_data, pid)

    @timer(interval=get_settings().retention_interval_seconds)
    def prune_retention(self):
        """Sent outbox rows and processed-event keys older than ``RETENTION_DAYS`` go, in batches."""
        settings = get_settings()
        removed = prune(self.db.engine, settings.retention_days * 86400, settings.retention_batch)
        for table, n in removed.items():
            metrics.OUTBOX_PRUNED.labels(self.name, table).inc(n)
        if any(removed.values()):
            log.info("retention: pruned %s", removed)
