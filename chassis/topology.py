"""Declare every exchange, queue and binding before traffic (DESIGN, "Known traps").

An event published before its subscriber's queue exists is dropped, so each service runner and
``make run`` declare the whole topology up front: the RPC exchange, every ``<service>.events``
exchange, and for every subscription its durable queue bound to the source exchange plus its
``.retry`` (TTL, dead-letters back) and ``.dead`` (parking) queues.
"""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass

from kombu import Connection, Exchange, Queue

from chassis.bus import event_exchange
from chassis.consumer import Subscription, queue_name
from chassis.settings import SERVICES

log = logging.getLogger(__name__)

RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True)


@dataclass(frozen=True)
class Binding:
    source: str
    event_type: str
    service: str
    method: str

    @property
    def queue(self) -> str:
        return queue_name(self.source, self.event_type, self.service, self.method)


def subscriptions_of(service_cls) -> list[Binding]:
    found = []
    for name, member in inspect.getmembers(service_cls, inspect.isfunction):
        for ext in getattr(member, "nameko_entrypoints", ()):
            if isinstance(ext, Subscription):
                found.append(Binding(ext.source_service, ext.event_type, service_cls.name, name))
    return sorted(found, key=lambda b: b.queue)


def queues_for(binding: Binding) -> list[Queue]:
    main = Queue(binding.queue, exchange=event_exchange(binding.source),
                 routing_key=binding.event_type, durable=True, auto_delete=False)
    retry = Queue(f"{binding.queue}.retry", durable=True, auto_delete=False, queue_arguments={
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": binding.queue})
    dead = Queue(f"{binding.queue}.dead", durable=True, auto_delete=False)
    return [main, retry, dead]


def declare(amqp_uri: str, service_classes) -> list[Binding]:
    service_classes = list(service_classes)
    bindings = [b for cls in service_classes for b in subscriptions_of(cls)]
    sources = sorted({*SERVICES, *(cls.name for cls in service_classes), *(b.source for b in bindings)})
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        RPC_EXCHANGE(channel).declare()
        for source in sources:
            event_exchange(source)(channel).declare()
        for binding in bindings:
            for queue in queues_for(binding):
                queue(channel).declare()
    log.info("topology declared: %d exchanges, %d subscriptions", len(sources) + 1, len(bindings))
    return bindings


def main() -> None:
    from chassis.log import configure_logging
    from chassis.settings import get_settings
    from services import all_service_classes

    configure_logging("topology")
    for b in declare(get_settings().amqp_uri, all_service_classes()):
        print(f"{b.source}.events --{b.event_type}--> {b.queue}")


if __name__ == "__main__":
    main()
