"""Resolved sessions, kept in each gateway worker so that a read makes no registry round trip.

An entry lives at most ``SESSION_CACHE_SECONDS``. The registry publishes every change that alters
what a session resolves to — ``session_revoked`` (logout), ``consent_given``, ``person_erased``,
``role_granted``, ``role_revoked``, ``person_updated`` — and a listener thread in every worker
drops the entries it names as the event arrives (milliseconds after the registry's commit). While
the listener is not connected to the broker (starting, or the connection lost: events may have been
missed), the cache is emptied and not used, so a revoked session is refused:

* within the event's delivery while the listener is connected, and
* in every case within ``SESSION_CACHE_SECONDS`` (a half-open broker link is noticed only after
  its heartbeat; the entry's age bounds that too).

A lookup that started before an invalidation is not cached after it (the generation counter), so a
principal resolved just before a logout cannot outlive the logout's event.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

log = logging.getLogger(__name__)

INVALIDATING = ("session_revoked", "consent_given", "person_erased", "role_granted", "role_revoked",
                "person_updated")
QUEUE_PREFIX = "gateway-sessions-"


class SessionCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 100_000):
        self.ttl, self.max_entries = ttl_seconds, max_entries
        self._entries: dict[str, tuple[float, str, object]] = {}  # session id -> (expires, person, principal)
        self._by_person: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self.live = False  # the listener is connected and consuming

    @property
    def enabled(self) -> bool:
        return self.live and self.ttl > 0

    def get(self, session_id: str):
        if not self.enabled:
            return None
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self.drop_session(session_id)
            return None
        return entry[2]

    def put(self, session_id: str, person_id: str, principal, generation: int) -> None:
        """Keep ``principal`` unless anything was invalidated since ``generation`` was read."""
        if not self.enabled:
            return
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.max_entries:
                self._clear()
            self._entries[session_id] = (time.monotonic() + self.ttl, str(person_id), principal)
            self._by_person.setdefault(str(person_id), set()).add(session_id)

    def drop_session(self, session_id: str) -> None:
        with self._lock:
            self.generation += 1
            entry = self._entries.pop(session_id, None)
            if entry is not None:
                self._by_person.get(entry[1], set()).discard(session_id)

    def drop_person(self, person_id: str) -> None:
        with self._lock:
            self.generation += 1
            for sid in self._by_person.pop(str(person_id), set()):
                self._entries.pop(sid, None)

    def _clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._by_person.clear()

    def set_live(self, live: bool) -> None:
        with self._lock:
            self._clear()
            self.live = live

    def on_event(self, routing_key: str, data: dict) -> None:
        """``routing_key``: the event's type, or its type and version (chassis.events.routing_key)."""
        if routing_key.partition(".")[0] == "session_revoked":
            self.drop_session(str(data.get("session_id")))
        if data.get("person_id"):
            self.drop_person(str(data["person_id"]))


class Listener:
    """A daemon thread: an exclusive, auto-deleted queue bound to ``registry.events`` for the
    invalidating types; reconnects with backoff, the cache off while it is not consuming."""

    def __init__(self, cache: SessionCache, amqp_uri: str, heartbeat: int = 20):
        self.cache, self.amqp_uri, self.heartbeat = cache, amqp_uri, heartbeat
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="session-cache-listener", daemon=True)

    def start(self) -> "Listener":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()

    def _run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._consume()
                failures = 0
            except Exception as exc:  # the broker away or the link broken: off until back
                self.cache.set_live(False)
                failures += 1
                if failures == 1:
                    log.warning("session cache off: its event listener lost the broker (%s); sessions "
                                "are resolved by the registry until it is back", type(exc).__name__)
                self.stopping.wait(min(0.5 * 2 ** failures, 10.0))

    def _consume(self) -> None:
        from kombu import Connection, Consumer, Queue, binding

        from chassis.bus import event_exchange
        from chassis.events import binding_keys

        exchange = event_exchange("registry")
        exchange.no_declare = True  # the topology declares it; the gateway may only bind to it
        queues = [Queue(f"{QUEUE_PREFIX}{uuid.uuid4()}", bindings=[binding(exchange, routing_key=key)
                                                                    for event_type in INVALIDATING
                                                                    for key in binding_keys(event_type, None)],
                        exclusive=True, auto_delete=True, durable=False)]
        with Connection(self.amqp_uri, heartbeat=self.heartbeat, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)

            def on_message(body, message):
                try:
                    self.cache.on_event(message.delivery_info.get("routing_key", ""),
                                        (body or {}).get("data") or {})
                finally:
                    message.ack()

            with Consumer(conn, queues=queues, callbacks=[on_message], accept=["json"]):
                self.cache.set_live(True)
                log.info("session cache on: listening for the registry's session events")
                while not self.stopping.is_set():
                    try:
                        conn.drain_events(timeout=1.0)
                    except TimeoutError:
                        conn.heartbeat_check()
        self.cache.set_live(False)
