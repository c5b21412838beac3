"""OpenTelemetry traces across HTTP, RPC, the outbox and events (docs/observability.md, "Traces").

Off unless ``TRACING=otlp`` (OTLP over HTTP; endpoint and headers from the standard
``OTEL_EXPORTER_OTLP_*`` variables) or, in tests, ``TRACING_SPANS_DIR`` is set (every process
appends its finished spans as JSON lines to ``<dir>/<component>-<pid>.jsonl``). When off, every
function here is a cheap no-op on OpenTelemetry's non-recording API.

nameko has no instrumentation to rely on, so the W3C ``traceparent`` travels in nameko's own
context data, which it sends as the AMQP header ``nameko.traceparent`` on RPC requests and which
the outbox relay sets on every event it publishes; each outbox row keeps the ``traceparent`` of the
work that wrote it (beside the envelope in its JSONB, removed before publishing). A worker's span
(SERVER for RPC, CONSUMER for events, INTERNAL for timers) continues the caller's trace and hands
its own context on to the RPCs and events it causes.
"""
from __future__ import annotations

import contextlib
import logging
import os

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
OUTBOX_KEY = "_traceparent"  # beside the envelope in outbox.envelope; never published
tracer = trace.get_tracer("econsult")
_state = {"on": False}
_open: dict = {}  # worker context -> (span, context token); never in worker_ctx.data (sent as headers)
QUIET = {"health"}  # probes (readiness, every few seconds): no trace of their own


def enabled() -> bool:
    return _state["on"]


def setup(component: str) -> bool:
    """Install the tracer provider of this process (once); True when tracing is on."""
    from chassis.settings import get_settings

    settings = get_settings()
    if _state["on"] or (settings.tracing == "off" and not settings.tracing_spans_dir):
        return _state["on"]
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": component}),
                              sampler=_sampler(settings.tracing_sample_ratio))
    if settings.tracing == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if settings.tracing_spans_dir:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(settings.tracing_spans_dir, component)))
    trace.set_tracer_provider(provider)
    _state["on"] = True
    log.info("tracing on (exporter: %s)", settings.tracing if settings.tracing != "off" else "spans file")
    return True


def _sampler(ratio: float):
    """The caller's decision, else ``ratio`` of new traces; never a trace that would be one orphan
    client span: SQL outside any traced work (metrics scrapes, readiness pings, green threads a
    worker spawned) is noise, not a request."""
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased

    class Sampling(Sampler):
        inner = ParentBased(TraceIdRatioBased(ratio))

        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                          trace_state=None):
            orphan = not trace.get_current_span(parent_context).get_span_context().is_valid
            if orphan and kind == SpanKind.CLIENT and not (attributes or {}).get("rpc.system"):
                return SamplingResult(Decision.DROP)
            return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return f"NoOrphanClients({self.inner.get_description()})"

    return Sampling()


class JsonLinesExporter:
    """Test-only span exporter: one JSON object per finished span, appended to a per-process file."""

    def __init__(self, directory: str, component: str):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{component}-{os.getpid()}.jsonl")

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                out.write(span.to_json(indent=None) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self):
        return None

    def force_flush(self, timeout_millis: int = 30000):
        return True


def instrument_engine(engine) -> None:
    """A span for every SQL statement of ``engine`` (opentelemetry-instrumentation-sqlalchemy)."""
    if enabled():
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # its declared range stops below SQLAlchemy 2.1, which it handles (tests/integration/test_observability.py)
        SQLAlchemyInstrumentor().instrument(engine=engine, enable_commenter=False, skip_dep_check=True)


def current_traceparent() -> str | None:
    carrier: dict = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def context_from(traceparent: str | None):
    return propagate.extract({TRACEPARENT: traceparent} if traceparent else {})


@contextlib.contextmanager
def attached(traceparent: str | None):
    """Inside: the trace of ``traceparent`` is current (log lines carry its trace id)."""
    if not enabled() or not traceparent:
        yield
        return
    token = otel_context.attach(context_from(traceparent))
    try:
        yield
    finally:
        otel_context.detach(token)


# ---- nameko workers ------------------------------------------------------------------------------
def worker_started(worker_ctx) -> None:
    """Open the worker's span as a child of the caller's ``traceparent`` (context data)."""
    if not enabled():
        return
    from nameko.rpc import Rpc
    from nameko.timer import Timer

    entrypoint = worker_ctx.entrypoint
    service, method = worker_ctx.service_name, entrypoint.method_name
    if isinstance(entrypoint, Rpc):
        kind, attrs = SpanKind.SERVER, {"rpc.system": "nameko", "rpc.service": service, "rpc.method": method}
    elif isinstance(entrypoint, Timer):
        kind, attrs = SpanKind.INTERNAL, {"code.function": method}
    else:
        kind, attrs = SpanKind.CONSUMER, {"messaging.system": "rabbitmq", "messaging.operation": "process",
                                          "messaging.destination.name": getattr(entrypoint, "queue_name", method)}
    parent = context_from(worker_ctx.data.get(TRACEPARENT))
    if method in QUIET and not trace.get_current_span(parent).get_span_context().is_valid:
        _open[worker_ctx] = (None, otel_context.attach(otel_context.set_value(
            otel_context._SUPPRESS_INSTRUMENTATION_KEY, True)))  # noqa: SLF001 (the SQL spans too)
        return
    span = tracer.start_span(f"{service}.{method}", context=parent, kind=kind, attributes=attrs)
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    worker_ctx.data[TRACEPARENT] = current_traceparent()  # what this worker's RPCs carry on
    _open[worker_ctx] = (span, token)


def worker_finished(worker_ctx, exc_info) -> None:
    held = _open.pop(worker_ctx, None)
    if held is None:
        return
    span, token = held
    if span is None:
        otel_context.detach(token)
        return
    if exc_info is not None:
        span.set_status(Status(StatusCode.ERROR, exc_info[0].__name__))
        span.set_attribute("error.type", exc_info[0].__name__)
    span.end()
    try:
        otel_context.detach(token)
    except Exception:  # detached in another greenlet: nothing to restore there
        log.debug("trace context detach failed", exc_info=True)


def publish_span(service: str, event_type: str, traceparent: str | None):
    """The PRODUCER span of one outbox event's publish, child of the work that wrote the row."""
    return tracer.start_as_current_span(
        f"{service}.events publish {event_type}", context=context_from(traceparent), kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "rabbitmq", "messaging.operation": "publish",
                    "messaging.destination.name": f"{service}.events", "messaging.rabbitmq.routing_key": event_type})


def suppressed():
    """No spans from instrumentations inside (the relay's and pollers' idle SQL would be noise)."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def rpc_client_span(service: str, method: str):
    """The CLIENT span of one RPC call; its context travels as ``nameko.traceparent``."""
    if method in QUIET and not trace.get_current_span().get_span_context().is_valid:
        return contextlib.nullcontext()
    return tracer.start_as_current_span(f"{service}.{method}", kind=SpanKind.CLIENT,
                                        attributes={"rpc.system": "nameko", "rpc.service": service,
                                                    "rpc.method": method})
