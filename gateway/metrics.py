"""Prometheus metrics of the gateway; under gunicorn each worker writes to
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and the gunicorn master sums
them on ``GATEWAY_METRICS_PORT`` (never the public port; see gateway/gunicorn.conf.py)."""
from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest, multiprocess)

HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("gateway_http_request_duration_seconds", "HTTP request duration",
                         ["method", "route"],
                         buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
# one series per live worker process (label pid) under gunicorn
IN_FLIGHT = Gauge("gateway_http_in_flight_requests", "Requests being served now, per worker",
                  multiprocess_mode="liveall")


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed)
        return summed
    return REGISTRY


def render() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def serve(host: str, port: int):
    """Serve /metrics of every worker on its own port (the gunicorn master calls this)."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=registry())
