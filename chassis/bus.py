"""A small, explicit AMQP publisher: persistent messages, publisher confirms, reconnect on error.

Used by the outbox relay and by the consumer's retry/dead-letter path. On any error the
connection is dropped and the next call reconnects, so a broker restart heals by itself.
"""
from __future__ import annotations

import logging
import threading
import time

from amqp.exceptions import MessageNacked
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
    """Persistent publishes on one channel in confirm mode. :meth:`publish_many` sends a batch and
    then waits once for the broker's confirms of all of it (one round trip per batch, not per
    message); :meth:`publish` is a batch of one."""

    def __init__(self, amqp_uri: str, connect_timeout: float = 5.0, publish_timeout: float | None = None):
        self.amqp_uri = amqp_uri
        self.connect_timeout = connect_timeout
        # a half-open connection would otherwise wait for its confirm for ever (docs/drills.md)
        self.publish_timeout = publish_timeout if publish_timeout is not None else get_settings().amqp_publish_timeout
        self._conn: Connection | None = None
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._sent = 0  # delivery tags the broker numbers from 1 on a channel in confirm mode
        self._unconfirmed: set[int] = set()
        self._nacked = 0

    def _ensure(self) -> Producer:
        if self._producer is None:
            conn = Connection(self.amqp_uri, connect_timeout=self.connect_timeout)
            # AMQP_URI may list several brokers of a cluster ("amqp://a;amqp://b"): try each once
            conn.ensure_connection(max_retries=max(1, len(conn.alt)), interval_start=0)
            channel = conn.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._sent, self._unconfirmed, self._nacked = 0, set(), 0
            self._conn = conn
            self._producer = Producer(channel, auto_declare=False)
        return self._producer

    def _on_ack(self, tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > tag}
        else:
            self._unconfirmed.discard(tag)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        before = len(self._unconfirmed)
        self._on_ack(tag, multiple)
        self._nacked += before - len(self._unconfirmed)

    def publish(self, body: dict, *, exchange: Exchange | str, routing_key: str,
                headers: dict | None = None, message_id: str | None = None,
                expiration: float | None = None, content_type: str | None = None,
                content_encoding: str | None = None) -> None:
        """Publish one persistent message and wait for the broker's confirm: ``body`` as JSON, or
        raw bytes as they are when ``content_type`` is given (a body that could not be decoded)."""
        self.publish_many([dict(body=body, exchange=exchange, routing_key=routing_key, headers=headers,
                                message_id=message_id, expiration=expiration, content_type=content_type,
                                content_encoding=content_encoding)])

    def publish_many(self, messages: list[dict]) -> None:
        """Publish every message (keyword arguments of :meth:`publish`), then wait for all their
        confirms at once, at most ``publish_timeout``. Raises if any is refused or unconfirmed: the
        caller then treats the whole batch as not sent (sending it again is what consumers absorb)."""
        if not messages:
            return
        with self._lock:
            try:
                producer = self._ensure()
                channel = producer.channel
                for m in messages:
                    body, content_type, content_encoding = producer._prepare(  # noqa: SLF001
                        m["body"], None if m.get("content_type") else "json", m.get("content_type"),
                        m.get("content_encoding"), None, m.get("headers") or {})
                    properties = {"delivery_mode": 2}
                    if m.get("message_id"):
                        properties["message_id"] = m["message_id"]
                    if m.get("expiration") is not None:
                        properties["expiration"] = str(int(m["expiration"] * 1000))
                    message = channel.prepare_message(body, 0, content_type, content_encoding,
                                                      m.get("headers") or {}, properties)
                    exchange = m["exchange"]
                    channel.basic_publish(message, exchange=getattr(exchange, "name", exchange),
                                          routing_key=m["routing_key"], timeout=self.publish_timeout)
                    self._sent += 1
                    self._unconfirmed.add(self._sent)
                deadline = time.monotonic() + self.publish_timeout
                while self._unconfirmed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f"{len(self._unconfirmed)} publishes unconfirmed after "
                                           f"{self.publish_timeout:g} s")
                    self._conn.drain_events(timeout=remaining)
                if self._nacked:
                    raise MessageNacked(f"the broker refused {self._nacked} of {len(messages)} messages")
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


_PRODUCER_KEYS: dict[tuple, Connection] = {}


def reuse_publisher_connections() -> None:
    """nameko builds a new kombu ``Connection`` for every publish (an RPC request, a reply) only to
    look up its pool of producers, and building one cost ~10 % of the gateway's CPU for a comment.
    The same connection object per broker and options finds the same pool; it is a key, never
    connected itself (the pool's producers have connections of their own, cloned from it).
    Installed by the service runner and the gateway."""
    from contextlib import contextmanager

    from kombu.pools import producers
    from nameko.amqp import publish

    if getattr(publish.get_producer, "_econsult", False):
        return

    @contextmanager
    def get_producer(amqp_uri, confirms=True, ssl=None, login_method=None, transport_options=None):
        options = dict(publish.DEFAULT_TRANSPORT_OPTIONS if transport_options is None else transport_options)
        options["confirm_publish"] = confirms
        key = (amqp_uri, repr(sorted(options.items())), repr(ssl), login_method)
        conn = _PRODUCER_KEYS.get(key)
        if conn is None:
            conn = _PRODUCER_KEYS.setdefault(key, Connection(amqp_uri, transport_options=options, ssl=ssl,
                                                             login_method=login_method))
        with producers[conn].acquire(block=True) as producer:
            yield producer

    get_producer._econsult = True  # type: ignore[attr-defined]
    publish.get_producer = get_producer

