"""Declare every exchange, queue and binding before traffic, so nothing published early is lost.

An event published before its subscriber's queue exists is dropped, so each service runner and
``make run`` declare the whole topology up front: the RPC exchange, every ``<service>.events``
exchange, and for every subscription its durable queue bound to the source exchange plus its
``.retry`` (TTL, dead-letters back) and ``.dead`` (parking) queues, reached through the
subscriber's own ``<service>.retry`` exchange (so no service needs to publish to the default
exchange, which reaches every queue by name: docs/kubernetes.md, "Broker users").

Every durable queue is of ``QUEUE_TYPE`` (quorum on a production cluster: replicated on every node,
so losing one node loses nothing; classic on a one-node development broker). The RPC queues
``rpc-<service>`` are declared here too, with the same type; nameko's own declarations of the
RPC and event queues carry the same arguments (:func:`durable_queue_arguments`), as RabbitMQ
refuses a redeclaration that differs.
"""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass

from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue

from chassis.bus import durable_queue_arguments, event_exchange, retry_exchange
from chassis.consumer import Subscription, queue_name, subscriber_queue
from chassis.settings import SERVICES

log = logging.getLogger(__name__)

RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True)
def rpc_queue(service: str, queue_type: str | None = None) -> Queue:
    """``rpc-<service>`` exactly as nameko's RpcConsumer declares it, plus the queue type."""
    return Queue(f"rpc-{service}", exchange=RPC_EXCHANGE, routing_key=f"{service}.*", durable=True,
                 queue_arguments=durable_queue_arguments(queue_type=queue_type))


@dataclass(frozen=True)
class Binding:
    source: str
    event_type: str
    service: str
    method: str
    version: int | None = 1  # the one version the handler takes (None: every version)

    @property
    def queue(self) -> str:
        return queue_name(self.source, self.event_type, self.service, self.method)


def subscriptions_of(service_cls) -> list[Binding]:
    found = []
    for name, member in inspect.getmembers(service_cls, inspect.isfunction):
        for ext in getattr(member, "nameko_entrypoints", ()):
            if isinstance(ext, Subscription):
                found.append(Binding(ext.source_service, ext.event_type, service_cls.name, name, ext.version))
    return sorted(found, key=lambda b: b.queue)


def queues_for(binding: Binding, queue_type: str | None = None) -> list[Queue]:
    plain = durable_queue_arguments(queue_type=queue_type)
    main = subscriber_queue(binding.queue, event_exchange(binding.source), binding.event_type, binding.version,
                            durable_queue_arguments(binding.queue, binding.service, queue_type))
    retry = Queue(f"{binding.queue}.retry", exchange=retry_exchange(binding.service),
                  routing_key=f"{binding.queue}.retry", durable=True, auto_delete=False, queue_arguments={
                      **plain, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": binding.queue})
    dead = Queue(f"{binding.queue}.dead", exchange=retry_exchange(binding.service),
                 routing_key=f"{binding.queue}.dead", durable=True, auto_delete=False, queue_arguments=plain)
    return [main, retry, dead]


def declare(amqp_uri: str, service_classes, queue_type: str | None = None) -> list[Binding]:
    service_classes = list(service_classes)
    bindings = [b for cls in service_classes for b in subscriptions_of(cls)]
    sources = sorted({*SERVICES, *(cls.name for cls in service_classes), *(b.source for b in bindings)})
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        RPC_EXCHANGE(channel).declare()
        for source in sources:
            event_exchange(source)(channel).declare()
        for cls in service_classes:
            retry_exchange(cls.name)(channel).declare()
            rpc_queue(cls.name, queue_type)(channel).declare()
        for binding in bindings:
            for queue in queues_for(binding, queue_type):
                queue(channel).declare()
    log.info("topology declared: %d exchanges, %d subscriptions", len(sources) + 1, len(bindings))
    return bindings


def rpc_queues_typed() -> None:
    """nameko's RpcConsumer declares ``rpc-<service>`` itself: with the same arguments as here."""
    from nameko.rpc import RpcConsumer

    if getattr(RpcConsumer.setup, "_econsult", False):
        return
    setup = RpcConsumer.setup

    def typed_setup(self):
        setup(self)
        self.queue.queue_arguments = durable_queue_arguments()

    typed_setup._econsult = True  # type: ignore[attr-defined]
    RpcConsumer.setup = typed_setup


def declare_if_allowed(amqp_uri: str, service_classes) -> bool:
    """A service runner declares the whole topology when its broker user may (development, tests);
    a service's own user may not (docs/kubernetes.md, "Broker users"): there the topology job has
    declared it before the rollout, and the service declares only its own queues, as nameko does."""
    try:
        declare(amqp_uri, service_classes)
    except AccessRefused as exc:
        log.info("topology left to the topology job (this broker user may not declare it: %s)", exc)
        return False
    return True


def main() -> None:
    from chassis.app import all_service_classes
    from chassis.log import configure_logging
    from chassis.settings import get_settings

    configure_logging("topology")
    for b in declare(get_settings().amqp_uri, all_service_classes()):
        print(f"{b.source}.events --{b.event_type}--> {b.queue}")


if __name__ == "__main__":
    main()
