"""A small, explicit AMQP publisher: persistent messages, publisher confirms, reconnect on error.

Used by the outbox relay and by the consumer's retry/dead-letter path. On any error the
connection is dropped and the next call reconnects, so a broker restart heals by itself.
"""
from __future__ import annotations

import logging
import threading

from kombu import Connection, Exchange, Producer

from chassis.settings import get_settings

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = Exchange("", type="direct")


def event_exchange(service: str) -> Exchange:
    """``<service>.events``, declared exactly as nameko declares it (topic, durable)."""
    return Exchange(f"{service}.events", type="topic", durable=True)


# A quorum queue hands a message that keeps coming back without an ack (its consumer killed each
# time, e.g. out of memory while handling it) to its dead-letter target after this many
# deliveries. Our own retry counting stays: it delays with backoff, and tells a broken message
# (parked after EVENT_MAX_ATTEMPTS) from an outage (retried for ever), which a delivery count cannot.
DELIVERY_LIMIT = 20


def durable_queue_arguments(queue: str | None = None, service: str | None = None,
                            queue_type: str | None = None) -> dict:
    """Arguments of a durable queue of the configured type. For ``service``'s event queue
    ``queue`` on a quorum queue, poison messages go to ``<queue>.dead`` through the subscriber's own
    ``<service>.retry`` exchange (a user may declare a dead-letter target only where it may write)."""
    queue_type = queue_type or get_settings().durable_queue_type
    if queue_type != "quorum":
        return {}
    args = {"x-queue-type": "quorum"}
    if queue is not None and service is not None:
        args.update({"x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": f"{service}.retry",
                     "x-dead-letter-routing-key": f"{queue}.dead"})
    return args


def retry_exchange(service: str) -> Exchange:
    """``<service>.retry``: where a subscriber re-routes a failed event to its ``.retry``/``.dead`` queue."""
    return Exchange(f"{service}.retry", type="direct", durable=True)


class ConfirmingPublisher:
    def __init__(self, amqp_uri: str, connect_timeout: float = 5.0, publish_timeout: float | None = None):
        self.amqp_uri = amqp_uri
        self.connect_timeout = connect_timeout
        # a half-open connection would otherwise wait for its confirm for ever (docs/drills.md)
        self.publish_timeout = publish_timeout if publish_timeout is not None else get_settings().amqp_publish_timeout
        self._conn: Connection | None = None
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> Producer:
        if self._producer is None:
            conn = Connection(self.amqp_uri, connect_timeout=self.connect_timeout,
                              transport_options={"confirm_publish": True})
            # AMQP_URI may list several brokers of a cluster ("amqp://a;amqp://b"): try each once
            conn.ensure_connection(max_retries=max(1, len(conn.alt)), interval_start=0)
            self._conn = conn
            self._producer = Producer(conn.channel())
        return self._producer

    def publish(self, body: dict, *, exchange: Exchange | str, routing_key: str,
                headers: dict | None = None, message_id: str | None = None,
                expiration: float | None = None, content_type: str | None = None,
                content_encoding: str | None = None) -> None:
        """Publish one persistent message and wait for the broker's confirm: ``body`` as JSON, or
        raw bytes as they are when ``content_type`` is given (a body that could not be decoded)."""
        with self._lock:
            try:
                self._ensure().publish(
                    body, exchange=exchange, routing_key=routing_key,
                    serializer=None if content_type else "json", content_type=content_type,
                    content_encoding=content_encoding,
                    delivery_mode=2, headers=headers or {}, message_id=message_id,
                    expiration=expiration, retry=False, declare=[], timeout=self.publish_timeout,
                    confirm_timeout=self.publish_timeout)
            except Exception:
                self.close(graceful=False)
                raise

    def close(self, graceful: bool = True) -> None:
        """Release the connection; after a failure only drop it: the AMQP close handshake waits for
        the broker's answer without a limit, which a half-open connection never gives."""
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            try:
                conn.release() if graceful else conn.collect()
            except Exception:  # already broken: nothing more to release
                log.debug("closing a broken AMQP connection", exc_info=True)
