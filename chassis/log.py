"""JSON log lines carrying the service name and the request id of the work in hand.

The request id lives in a thread-local: under eventlet (services) that is one per green
thread, so each nameko worker logs its own; in the gateway it is one per request thread.
"""
from __future__ import annotations

import logging
import sys
import threading
import uuid

from pythonjsonlogger.json import JsonFormatter

_local = threading.local()


def current_request_id() -> str | None:
    return getattr(_local, "request_id", None)


def set_request_id(request_id: str | None) -> None:
    _local.request_id = request_id


def new_request_id() -> str:
    return uuid.uuid4().hex


class _ContextFilter(logging.Filter):
    def __init__(self, component: str):
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.component
        record.request_id = current_request_id()
        record.trace_id = _trace_id()  # beside the request id: the trace's spans share it
        return True


def _trace_id() -> str | None:
    from chassis import tracing

    return tracing.current_trace_id() if tracing.enabled() else None


def configure_logging(component: str, level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s %(trace_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    ))
    handler.addFilter(_ContextFilter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # nameko logs expected (typed) errors with a traceback at WARNING; RequestContext logs outcomes.
    logging.getLogger("nameko.containers").setLevel(logging.ERROR)
    for noisy in ("amqp", "kombu", "nameko", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
