"""Prometheus metrics of a service instance (docs/observability.md has the table of every name).

All families live in prometheus-client's default registry of the process, which
``chassis.ops_http`` serves at ``/metrics`` on ``OPS_PORT``. Counters and histograms are updated
where the work happens (entrypoints, the consumer's retry path, the relay, the pool, SMTP, report
renders); database-backed gauges (outbox backlog, domain counts) are read at scrape time by
:class:`ScrapeCollector`, so they are exact whichever instance is scraped.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import contextmanager
from typing import Callable

# A service instance is one process with its registry in memory: prometheus-client's multiprocess
# directory is the gateway's (gunicorn workers) even where the environment is shared with it. Inside
# gunicorn (the gateway imports this module too) the directory stays: its metrics are multiprocess.
if "gunicorn" not in sys.modules:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from prometheus_client import REGISTRY, Counter, Gauge, Histogram  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.pool import QueuePool  # noqa: E402

log = logging.getLogger(__name__)

FAST = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
SLOW = (.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# ---- every service instance ---------------------------------------------------------------------
RPC_SECONDS = Histogram("econsult_rpc_server_duration_seconds", "RPC calls served, by method and outcome "
                        "(ok | error: a typed refusal | failed: an unexpected exception)",
                        ["service", "method", "outcome"], buckets=FAST)
EVENT_SECONDS = Histogram("econsult_event_handling_duration_seconds", "Events handled, by handler and outcome",
                          ["service", "handler", "outcome"], buckets=FAST)
EVENT_RETRIES = Counter("econsult_event_retries_total", "Failed event handlings sent to the retry queue "
                        "(reason: failure | outage)", ["queue", "reason"])
EVENT_DEAD = Counter("econsult_event_dead_lettered_total", "Events parked in <queue>.dead", ["queue"])
TIMER_LAST_SUCCESS = Gauge("econsult_timer_last_success_timestamp_seconds",
                           "Unix time of the timer's last run that finished without an error", ["service", "timer"])
TIMER_INTERVAL = Gauge("econsult_timer_interval_seconds", "The timer's interval", ["service", "timer"])
TIMER_SECONDS = Histogram("econsult_timer_duration_seconds", "Timer runs, by outcome",
                          ["service", "timer", "outcome"], buckets=SLOW)
OUTBOX_PUBLISH_SECONDS = Histogram("econsult_outbox_publish_duration_seconds",
                                   "A batch of outbox events published and confirmed by the broker", ["service"],
                                   buckets=FAST)
OUTBOX_PUBLISHED = Counter("econsult_outbox_published_total", "Outbox events published", ["service"])
OUTBOX_PRUNED = Counter("econsult_retention_pruned_rows_total", "Rows removed by retention "
                        "(table: outbox | processed_events)", ["service", "table"])
DB_POOL_WAIT_SECONDS = Histogram("econsult_db_pool_checkout_duration_seconds",
                                 "Time to get a connection from the pool", ["service"], buckets=FAST)
DB_POOL_WAITS = Counter("econsult_db_pool_waits_total",
                        "Checkouts that found every pooled connection in use and had to wait", ["service"])

# ---- domain: notifications, reports ---------------------------------------------------------------
EMAILS = Counter("econsult_notifications_emails_total", "E-mails handed to SMTP (outcome: sent | failed | "
                 "retry)", ["outcome"])
SMTP_SECONDS = Histogram("econsult_notifications_smtp_duration_seconds", "One e-mail sent over SMTP",
                         buckets=FAST)
RENDERS_IN_PROGRESS = Gauge("econsult_reports_renders_in_progress", "Report versions being rendered now")
RENDER_SECONDS = Histogram("econsult_reports_render_duration_seconds", "Rendering one report version (all files)",
                           buckets=SLOW)

_service = {"name": "unknown"}


def set_service(name: str) -> None:
    _service["name"] = name


def service_name() -> str:
    return _service["name"]


@contextmanager
def render_tracked():
    RENDERS_IN_PROGRESS.inc()
    started = time.perf_counter()
    try:
        yield
    finally:
        RENDERS_IN_PROGRESS.dec()
        RENDER_SECONDS.observe(time.perf_counter() - started)


def register_timers(container) -> None:
    """At start, each timer counts as just succeeded: one that never succeeds alerts after 3 intervals
    instead of never having a series."""
    from nameko.timer import Timer

    for ext in container.entrypoints:
        if isinstance(ext, Timer):
            TIMER_INTERVAL.labels(container.service_name, ext.method_name).set(ext.interval)
            TIMER_LAST_SUCCESS.labels(container.service_name, ext.method_name).set_to_current_time()


def observe_entrypoint(entrypoint, took: float, exc_info) -> None:
    """Called by the request context after every worker: RPC, event handler or timer."""
    from nameko.rpc import Rpc
    from nameko.timer import Timer

    from chassis.consumer import Subscription
    from chassis.errors import ServiceError

    service, name = service_name(), entrypoint.method_name
    if exc_info is None:
        outcome = "ok"
    elif isinstance(exc_info[1], ServiceError):
        outcome = "error"
    else:
        outcome = "failed"
    if isinstance(entrypoint, Rpc):
        RPC_SECONDS.labels(service, name, outcome).observe(took)
    elif isinstance(entrypoint, Subscription):
        EVENT_SECONDS.labels(service, name, outcome).observe(took)
    elif isinstance(entrypoint, Timer):
        TIMER_SECONDS.labels(service, name, outcome).observe(took)
        TIMER_INTERVAL.labels(service, name).set(entrypoint.interval)
        if exc_info is None:
            TIMER_LAST_SUCCESS.labels(service, name).set_to_current_time()


class MeasuredQueuePool(QueuePool):
    """SQLAlchemy's QueuePool that times each checkout and counts those that had to wait for a
    connection (every pooled and overflow connection in use)."""

    def _do_get(self):
        service = service_name()
        if self.checkedout() >= self.size() + max(self._max_overflow, 0):
            DB_POOL_WAITS.labels(service).inc()
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            DB_POOL_WAIT_SECONDS.labels(service).observe(time.perf_counter() - started)


# ---- scrape-time gauges read from the service's database ----------------------------------------
# name -> (help, label names, SQL returning rows of (label values..., value)); per service
Probe = tuple[str, tuple[str, ...], str]
COMMON_PROBES: dict[str, Probe] = {
    "econsult_outbox_waiting": ("Outbox rows not yet published", (),
                                "SELECT count(*) FROM outbox WHERE published_at IS NULL"),
    "econsult_outbox_oldest_age_seconds": (
        "Age of the oldest unpublished outbox row (0 when none waits)", (),
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM outbox WHERE published_at IS NULL"),
}
DOMAIN_PROBES: dict[str, dict[str, Probe]] = {
    "consultations": {
        "econsult_consultations": ("Consultations by status (active: status open)", ("status",),
                                   "SELECT status, count(*) FROM consultations GROUP BY status"),
        "econsult_deadlines_overdue": (
            "Deadlines missed: moderation (R-3.10) and report (R-3.17) still not done after their due time, "
            "decisions (R-3.18) recorded after theirs", ("kind",),
            "SELECT 'moderation', count(*) FILTER (WHERE status = 'submitted' AND moderation_due < now()) "
            "FROM consultations UNION ALL "
            "SELECT 'report', count(*) FILTER (WHERE report_published_at IS NULL AND report_due < now()) "
            "FROM consultations UNION ALL "
            "SELECT 'decision', count(*) FILTER (WHERE recorded_at > publication_due) FROM decisions"),
    },
    "moderation": {
        "econsult_moderation_cases_open": ("Moderation cases not yet decided", (),
                                           "SELECT count(*) FROM cases WHERE status = 'open'"),
        "econsult_moderation_cases_overdue": ("Open moderation cases past their due time (R-3.10)", (),
                                              "SELECT count(*) FROM cases WHERE status = 'open' AND due_at < now()"),
    },
    "notifications": {
        "econsult_notifications_deliveries": ("E-mail deliveries by status", ("status",),
                                              "SELECT v.s, count(d.status) FROM (VALUES ('pending'), ('sending'), "
                                              "('sent'), ('failed'), ('skipped')) v(s) LEFT JOIN deliveries d "
                                              "ON d.status = v.s GROUP BY v.s"),
    },
    "reports": {
        "econsult_reports_render_requests_waiting": ("Report versions asked for and not yet rendered", (),
                                                     "SELECT count(*) FROM publish_requests"),
    },
}
SCRAPE_ERRORS = Counter("econsult_metrics_scrape_errors_total", "Scrape-time database reads that failed",
                        ["service"])


READY = "econsult_instance_ready"
READY_HELP = "1 when every readiness check of this instance passes (as /readyz), else 0"


class ScrapeCollector:
    """Reads the outbox backlog, the pool and the service's domain gauges when /metrics is scraped."""

    def __init__(self, service: str, engine_of: Callable):
        self.service, self.engine_of = service, engine_of
        self.probes = {**COMMON_PROBES, **DOMAIN_PROBES.get(service, {})}

    def describe(self):
        for name, (doc, labels, _sql) in self.probes.items():
            yield GaugeMetricFamily(name, doc, labels=["service", *labels])
        yield GaugeMetricFamily("econsult_db_pool_in_use", "Pooled connections checked out now", labels=["service"])
        yield GaugeMetricFamily(READY, READY_HELP, labels=["service"])

    def _ready(self) -> GaugeMetricFamily:
        from chassis.ops_http import run_checks

        family = GaugeMetricFamily(READY, READY_HELP, labels=["service"])
        family.add_metric([self.service], float(all(v == "ok" for v in run_checks().values())))
        return family

    def collect(self):
        engine = self.engine_of()
        if engine is None:
            return
        pool = GaugeMetricFamily("econsult_db_pool_in_use", "Pooled connections checked out now", labels=["service"])
        pool.add_metric([self.service], engine.pool.checkedout())
        yield pool
        yield self._ready()
        families = []
        try:
            with engine.connect() as conn:
                for name, (doc, labels, sql) in self.probes.items():
                    family = GaugeMetricFamily(name, doc, labels=["service", *labels])
                    for row in conn.execute(text(sql)):
                        family.add_metric([self.service, *map(str, row[:-1])], float(row[-1] or 0))
                    families.append(family)
        except Exception as exc:  # a scrape must answer: the pool and counters still tell something
            SCRAPE_ERRORS.labels(self.service).inc()
            log.warning("metrics: database gauges unavailable (%s)", type(exc).__name__)
            return
        yield from families


_installed: set[str] = set()


def install_scrape_collector(service: str, engine_of: Callable) -> None:
    """Once per process: register the database-backed gauges of ``service``."""
    if service in _installed:
        return
    _installed.add(service)
    REGISTRY.register(ScrapeCollector(service, engine_of))
