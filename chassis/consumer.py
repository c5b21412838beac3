"""Event subscriptions that never drop a message and never apply one twice.

* :func:`subscribe` is nameko's ``@event_handler`` (service-pool, durable queue, ack after the
  worker returns, i.e. after its transaction committed) with a failure policy:
  a handler that raises is retried a few times with backoff through ``<queue>.retry`` (a TTL
  queue that dead-letters back into the main queue) and then parked in ``<queue>.dead``. Outages
  of the database or broker are retried without limit (they are not the message's fault).
* :func:`claim_event` records ``(handler, event_id)`` in ``processed_events`` inside the handler's
  transaction, so a redelivered event is a no-op.
* :func:`once_per_event` is that idiom as a decorator: it opens the envelope, opens the service's
  unit of work, claims the event under a key derived from the service and method name, and runs
  the method only the first time.
"""
from __future__ import annotations

import inspect
import logging
from datetime import datetime, timezone
from functools import partial, wraps

import eventlet
import eventlet.event
from kombu import Queue, binding

from nameko.events import SERVICE_POOL, EventHandler
from nameko.messaging import QueueConsumer
from sqlalchemy import text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from chassis import metrics
from chassis.bus import ConfirmingPublisher, durable_queue_arguments, retry_exchange
from chassis.errors import Unavailable, error_summary
from chassis.events import binding_keys, open_envelope
from chassis.outbox import processed_events
from chassis.settings import get_settings

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-econsult-attempts"
OUTAGES_HEADER = "x-econsult-outages"
ERROR_HEADER = "x-econsult-error"
PARKED_AT_HEADER = "x-econsult-parked-at"
INFRASTRUCTURE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                         ConnectionError, TimeoutError, Unavailable)


def queue_name(source: str, event_type: str, service: str, method: str) -> str:
    """The queue nameko binds for a service-pool event handler (kept identical on purpose)."""
    return f"evt-{source}-{event_type}--{service}.{method}"


# built once, one statement for any number of claims: (handler, event id) pairs, each new pair
# returned once (building an INSERT per event cost more CPU than running it)
CLAIM_MANY = text(f"INSERT INTO {processed_events.name} (handler, event_id) SELECT * FROM "
                  "unnest(CAST(:handlers AS text[]), CAST(:event_ids AS uuid[])) "
                  "ON CONFLICT DO NOTHING RETURNING handler, event_id")


def claim_events(session: Session, pairs: list[tuple[str, object]]) -> set[tuple[str, object]]:
    """The pairs of ``(handler, event_id)`` seen for the first time (one statement for all)."""
    if not pairs:
        return set()
    rows = session.execute(CLAIM_MANY, {"handlers": [h for h, _ in pairs], "event_ids": [e for _, e in pairs]})
    return {(h, e) for h, e in rows}


def claim_event(session: Session, handler: str, event_id) -> bool:
    """True the first time ``handler`` sees ``event_id``; False on every redelivery."""
    return bool(claim_events(session, [(handler, event_id)]))


def subscriber_queue(name: str, exchange, event_type: str, version: int | None, arguments: dict) -> Queue:
    """A subscription's durable queue, bound to ``exchange`` for its ``version`` of ``event_type``
    (chassis.events.binding_keys): declared alike by the handler and by the topology, as a
    redeclaration must match."""
    return Queue(name, bindings=[binding(exchange, routing_key=key) for key in binding_keys(event_type, version)],
                 durable=True, auto_delete=False, queue_arguments=arguments)


def handler_key(service: str, method: str) -> str:
    """The key under which ``service``'s handler ``method`` records the events it has handled."""
    return f"{service}.{method}"


def once_per_event(model, *, key: str | None = None, batch: bool = False, batch_seconds: float | None = None):
    """Decorate an event-handler method of a service so that each event is applied once.

    The wrapped method is called as ``method(self, store, data)`` (``data`` the payload parsed
    into ``model``; a method with an ``env`` parameter also gets the envelope) inside
    ``self.uow.transaction()``, after the event was claimed in that same transaction under
    ``key`` — by default ``"<service>.<method>"``. A redelivery is a no-op. The key is the
    handler's dedupe history: renaming the method changes it, so a renamed handler passes its old
    key explicitly (``tests/unit/test_once_per_event.py`` pins every key in use).

    ``batch``: for a handler that only records the event in its own tables (no RPC, no e-mail): the
    events of every such handler of the service that arrive within ``EVENT_BATCH_SECONDS`` share
    one transaction (:class:`GroupCommit`); each message is still acknowledged only after the commit
    that carries it, and a batch that fails is applied again one event per transaction, so a bad
    event fails (and is retried, then parked) alone. ``batch_seconds``: the longest wait for others
    (default ``EVENT_BATCH_SECONDS``); 0 for a record someone may need the moment the fact is public
    (events that arrive while a batch commits still share the next one).
    """
    def decorate(method):
        takes_env = "env" in inspect.signature(method).parameters

        @wraps(method)
        def handle(self, payload):
            env, data = open_envelope(payload, model)
            claim_key = key or handler_key(self.name, method.__name__)

            def run(store) -> None:
                if takes_env:
                    method(self, store, data, env=env)
                else:
                    method(self, store, data)

            if batch:  # the batch claims all its events at once, then runs the claimed ones
                seconds = get_settings().event_batch_seconds if batch_seconds is None else batch_seconds
                GroupCommit.of(self.name, seconds).apply(self.uow, run, claim=(claim_key, env.event_id))
                return
            with self.uow.transaction() as store:
                if store.claim_event(claim_key, env.event_id):
                    run(store)

        handle.once_per_event_key = key
        return handle
    return decorate


class BatchWindow:
    """The wait of a group commit: the first event of a batch waits up to ``seconds`` for others,
    or less once half the service's workers (``MAX_WORKERS``) wait with it. Each waiting event holds
    a nameko worker (its message is acknowledged after the commit), so a batch never holds every
    worker: the service keeps consuming."""

    def __init__(self):
        self._full: eventlet.event.Event | None = None

    def wait(self, seconds: float) -> None:
        self._full = eventlet.event.Event()
        try:
            with eventlet.Timeout(seconds, False):
                self._full.wait()
        finally:
            self._full = None

    def arrived(self, waiting: int) -> None:
        """``waiting`` events are in the batch now."""
        if self._full is not None and not self._full.ready() and waiting >= max(1, get_settings().max_workers // 2):
            self._full.send(None)


class GroupCommit:
    """Several events to one transaction: the first handler to arrive waits (:class:`BatchWindow`),
    then applies them all in one unit of work and wakes each waiter after the commit (or with its
    own error). Per event it saves a transaction: pool checkout, BEGIN, COMMIT."""

    _groups: dict[tuple[str, float], "GroupCommit"] = {}

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.pending: list[tuple[object, eventlet.event.Event, tuple | None]] = []
        self.busy = False
        self.window = BatchWindow()

    @classmethod
    def of(cls, service: str, seconds: float) -> "GroupCommit":
        return cls._groups.setdefault((service, seconds), cls(seconds))

    def apply(self, uow, fn, claim: tuple[str, object] | None = None) -> None:
        """Run ``fn(store)`` in the next batch's transaction; with ``claim`` (handler key, event id)
        only if that event is claimed there for the first time (all the batch's claims in one
        statement)."""
        done = eventlet.event.Event()
        self.pending.append((fn, done, claim))
        if self.busy:
            self.window.arrived(len(self.pending))
        else:
            self.busy = True
            try:
                self.window.wait(self.seconds)
                while self.pending:
                    group = self.pending[:get_settings().event_batch_max]
                    self.pending = self.pending[len(group):]
                    self._commit(uow, group)
            finally:
                self.busy = False
        done.wait()  # raises this event's own error, if it had one

    def _commit(self, uow, group) -> None:
        try:
            with uow.transaction() as store:
                claimed = store.claim_events([claim for _, _, claim in group if claim is not None])
                for fn, _, claim in group:
                    if claim is None:
                        fn(store)
                    elif claim in claimed:
                        claimed.discard(claim)  # the same event twice in one batch: applied once
                        fn(store)
        except Exception as exc:
            if len(group) == 1:
                group[0][1].send_exception(exc)
                return
            for one in group:  # again alone: only the event at fault fails
                self._commit(uow, [one])
            return
        for _, done, _ in group:
            done.send(None)


def once_keys(service_cls) -> dict[str, str]:
    """``{method name: dedupe key}`` of every :func:`once_per_event` handler of a service class."""
    found = {}
    for attr in dir(service_cls):
        fn = getattr(service_cls, attr, None)
        if fn is not None and hasattr(fn, "once_per_event_key"):
            found[attr] = fn.once_per_event_key or handler_key(service_cls.name, fn.__name__)
    return found


class ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message whose body cannot be decoded (bad JSON, a
    content type or encoding not accepted) is parked in its queue's ``.dead`` queue, raw, with the
    reason in a header; kombu's own handler would log the body and drop the message."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._park_undecodable, provider.queue.name)
        return consumers

    def _park_undecodable(self, queue: str, message, exc: BaseException) -> None:
        reason = f"undecodable body: {type(exc).__name__} (content type {message.content_type!r}, " \
                 f"encoding {message.content_encoding!r})"
        headers = {**(message.headers or {}), "x-econsult-error": reason[:500]}
        try:
            Subscription.publisher().publish(
                message.body, exchange="", routing_key=f"{queue}.dead", headers=headers,
                message_id=message.properties.get("message_id"),
                content_type=message.content_type or "application/octet-stream",
                content_encoding=message.content_encoding or "binary")
        except Exception:
            log.exception("could not park an undecodable message of %s; returning it to the queue", queue)
            message.requeue()
            return
        log.error("message dead-lettered to %s.dead: %s", queue, reason)  # never the body
        message.ack()


class Subscription(EventHandler):
    _publisher: ConfirmingPublisher | None = None
    queue_consumer = ParkingQueueConsumer()

    def __init__(self, source_service: str, event_type: str, version: int | None = 1, **kwargs):
        """``version``: the one version of the type this handler takes (while two are published, each
        fact arrives once per version, docs/events.md); the others are acknowledged unhandled.
        None: every version."""
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL,
                         reliable_delivery=True, requeue_on_error=False, **kwargs)
        self.version = version

    def wants(self, body) -> bool:
        if self.version is None or not isinstance(body, dict):
            return True  # a body that is no envelope is the handler's to refuse (and park)
        return body.get("version", 1) == self.version

    def handle_message(self, body, message):
        if not self.wants(body):
            self.queue_consumer.ack_message(message)
            return None
        return super().handle_message(body, message)

    def setup(self):
        super().setup()
        self.queue = subscriber_queue(self.queue.name, self.queue.exchange, self.event_type, self.version,
                                      durable_queue_arguments(self.queue.name, self.container.service_name))

    @property
    def queue_name(self) -> str:
        return queue_name(self.source_service, self.event_type, self.container.service_name,
                          self.method_name)

    @staticmethod
    def publisher() -> ConfirmingPublisher:
        if Subscription._publisher is None:
            Subscription._publisher = ConfirmingPublisher(get_settings().amqp_uri)
        return Subscription._publisher

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        try:
            self._retry_or_park(message, exc_info[1])
        except Exception:
            log.exception("could not re-route a failed event; returning it to the queue")
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _retry_or_park(self, message, error: BaseException) -> None:
        headers = dict(message.headers or {})
        queue = self.queue_name
        if isinstance(error, INFRASTRUCTURE_ERRORS):
            outages = int(headers.get(OUTAGES_HEADER, 0)) + 1
            headers[OUTAGES_HEADER] = outages
            delay = min(2 ** outages, 30)
            target = f"{queue}.retry"
        else:
            attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
            headers[ATTEMPTS_HEADER] = attempts
            if attempts >= get_settings().event_max_attempts:
                delay, target = None, f"{queue}.dead"
                headers[ERROR_HEADER] = error_summary(error)[:500]
                headers[PARKED_AT_HEADER] = datetime.now(timezone.utc).isoformat()
            else:
                delay, target = 0.5 * 2 ** attempts, f"{queue}.retry"
        self.publisher().publish(message.payload, exchange=retry_exchange(self.container.service_name),
                                      routing_key=target,
                                      headers=headers, message_id=message.properties.get("message_id"),
                                      expiration=delay)
        if target.endswith(".dead"):
            metrics.EVENT_DEAD.labels(queue).inc()
            log.error("event dead-lettered to %s after %s attempts: %s", target,
                      headers.get(ATTEMPTS_HEADER), headers.get(ERROR_HEADER))
        else:
            metrics.EVENT_RETRIES.labels(queue, "outage" if isinstance(error, INFRASTRUCTURE_ERRORS)
                                         else "failure").inc()
            log.warning("event handler failed (%s); retry in %.1f s via %s", error_summary(error)[:500], delay,
                        target)


subscribe = Subscription.decorator
