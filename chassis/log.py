"""JSON log lines carrying the service name and the request id of the work in hand.

The request id lives in a thread-local: under eventlet (services) that is one per green
thread, so each nameko worker logs its own; in the gateway it is one per request thread.
"""
from __future__ import annotations

import logging
import re
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


# pydantic's error text quotes the input (``[type=…, input_value='a comment…', input_type=str]``)
INPUT_VALUE = re.compile(r"input_value=.*?, input_type=", re.S)


class Formatter(JsonFormatter):
    """JSON lines; a pydantic ValidationError's input values, in a message or a traceback of any
    logger (nameko's own too), are withheld: field names and error types stay."""

    def format(self, record: logging.LogRecord) -> str:
        return INPUT_VALUE.sub("input_value=…, input_type=", super().format(record))


class ContextFilter(logging.Filter):
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


def json_formatter() -> JsonFormatter:
    """One JSON object per record; a traceback goes into its ``exc_info`` field, never loose lines;
    pydantic's input values withheld."""
    return Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s %(trace_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def json_handler(component: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter(component))
    return handler


def _log_uncaught(exc_type, exc, tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("uncaught").critical("uncaught %s", exc_type.__name__, exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args) -> None:
    if args.exc_type is SystemExit:
        return
    logging.getLogger("uncaught").error("uncaught %s in thread %s", args.exc_type.__name__,
                                        getattr(args.thread, "name", "?"),
                                        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def configure_logging(component: str, level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON object per line: uncaught exceptions (main and
    other threads) and Python warnings go through the same formatter."""
    root = logging.getLogger()
    root.handlers[:] = [json_handler(component)]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    # nameko logs expected (typed) errors with a traceback at WARNING; RequestContext logs outcomes.
    logging.getLogger("nameko.containers").setLevel(logging.ERROR)
    for noisy in ("amqp", "kombu", "nameko", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
