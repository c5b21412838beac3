"""Prometheus metrics of the gateway; under gunicorn each worker writes to
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums them (prometheus-client's multiprocess mode)."""
from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest, multiprocess)

HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("gateway_http_request_duration_seconds", "HTTP request duration",
                         ["method", "route"],
                         buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
