"""Looking at the bus from outside the services: a plain kombu consumer and a queue's depth."""
from __future__ import annotations

import time
import uuid

from kombu import Connection, Consumer, Queue, binding

from chassis.bus import event_exchange


class Tap:
    """A plain kombu consumer (not nameko) on its own queue bound to ``<source>.events``."""

    def __init__(self, amqp_uri: str, source: str, routing_key: str | list[str] = "#"):
        """``routing_key``: the binding key, or a list of them (one binding each)."""
        self.conn = Connection(amqp_uri)
        keys = [routing_key] if isinstance(routing_key, str) else routing_key
        self.queue = Queue(f"tap-{uuid.uuid4().hex[:8]}", bindings=[binding(event_exchange(source), routing_key=k)
                                                                    for k in keys],
                           exclusive=True, auto_delete=True)
        self.messages: list = []
        self.consumer = Consumer(self.conn.channel(), [self.queue], accept=["json"],
                                 callbacks=[self._on_message])
        self.consumer.consume()

    def _on_message(self, body, message):
        self.messages.append((body, message))
        message.ack()

    def drain(self, seconds: float, until: int | None = None, where=None) -> list:
        """Bodies received so far, waiting up to ``seconds`` until ``until`` of them (those for which
        ``where(body)`` holds, when given) have arrived."""
        def enough() -> bool:
            got = [b for b, _ in self.messages if where is None or where(b)]
            return until is not None and len(got) >= until

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not enough():
            try:
                self.conn.drain_events(timeout=0.2)
            except TimeoutError:
                pass
        return [body for body, _ in self.messages if where is None or where(body)]

    def close(self):
        self.conn.release()


def queue_depth(conn, queue: str) -> int:
    _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
    return count
