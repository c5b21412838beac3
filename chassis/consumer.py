"""Event subscriptions that never drop a message and never apply one twice.

* :func:`subscribe` is nameko's ``@event_handler`` (service-pool, durable queue, ack after the
  worker returns, i.e. after its transaction committed) with a failure policy DESIGN asks for:
  a handler that raises is retried a few times with backoff through ``<queue>.retry`` (a TTL
  queue that dead-letters back into the main queue) and then parked in ``<queue>.dead``. Outages
  of the database or broker are retried without limit (they are not the message's fault).
* :func:`claim_event` records ``(handler, event_id)`` in ``processed_events`` inside the handler's
  transaction, so a redelivered event is a no-op.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from nameko.events import SERVICE_POOL, EventHandler
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis import metrics
from chassis.bus import ConfirmingPublisher
from chassis.errors import Unavailable
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


def claim_event(session: Session, handler: str, event_id) -> bool:
    """True the first time ``handler`` sees ``event_id``; False on every redelivery."""
    inserted = session.execute(
        insert(processed_events).values(handler=handler, event_id=event_id)
        .on_conflict_do_nothing().returning(processed_events.c.event_id)).first()
    return inserted is not None


class Subscription(EventHandler):
    _publisher: ConfirmingPublisher | None = None

    def __init__(self, source_service: str, event_type: str, **kwargs):
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL,
                         reliable_delivery=True, requeue_on_error=False, **kwargs)

    @property
    def queue_name(self) -> str:
        return queue_name(self.source_service, self.event_type, self.container.service_name,
                          self.method_name)

    def _get_publisher(self) -> ConfirmingPublisher:
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
                headers[ERROR_HEADER] = f"{type(error).__name__}: {error}"[:500]
                headers[PARKED_AT_HEADER] = datetime.now(timezone.utc).isoformat()
            else:
                delay, target = 0.5 * 2 ** attempts, f"{queue}.retry"
        self._get_publisher().publish(message.payload, exchange="", routing_key=target,
                                      headers=headers, message_id=message.properties.get("message_id"),
                                      expiration=delay)
        if target.endswith(".dead"):
            metrics.EVENT_DEAD.labels(queue).inc()
            log.error("event dead-lettered to %s after %s attempts: %s", target,
                      headers.get(ATTEMPTS_HEADER), headers.get(ERROR_HEADER))
        else:
            metrics.EVENT_RETRIES.labels(queue, "outage" if isinstance(error, INFRASTRUCTURE_ERRORS)
                                         else "failure").inc()
            log.warning("event handler failed (%s: %s); retry in %.1f s via %s",
                        type(error).__name__, error, delay, target)


subscribe = Subscription.decorator
