"""Each version of an event type on its own routing key while several are published (docs/events.md,
"A new version"): the keys publishers use, and the bindings of every subscriber's queue, declared
alike by the topology and by the handler itself."""
from __future__ import annotations

import contracts.consultations  # noqa: F401  (the catalogue: its versions)
from chassis.app import all_service_classes
from chassis.consumer import Subscription
from chassis.events import binding_keys, routing_key
from chassis.topology import queues_for, subscriptions_of


def test_a_type_published_in_two_versions_goes_out_under_one_key_per_version_and_a_single_version_type_plain():
    assert routing_key("consultations", "comment_submitted", 1) == "comment_submitted.v1"
    assert routing_key("consultations", "comment_submitted", 2) == "comment_submitted.v2"
    assert routing_key("consultations", "consultation_published", 1) == "consultation_published"
    assert binding_keys("comment_submitted", 2) == ["comment_submitted", "comment_submitted.v2"]
    assert binding_keys("comment_published", None) == ["comment_published", "comment_published.*"]


def test_every_subscriber_queue_is_bound_to_its_version_by_the_topology_and_by_the_handler_alike():
    class Container:  # what a handler's setup reads of its container
        config, shared_extensions = {}, {}

        def __init__(self, name):
            self.service_name = name

    checked = 0
    for cls in all_service_classes():
        for b in subscriptions_of(cls):
            declared = queues_for(b)[0]
            handler = next(e for e in getattr(cls, b.method).nameko_entrypoints if isinstance(e, Subscription))
            container = Container(cls.name)  # the handler keeps a weak reference to it
            bound = handler.bind(container, b.method)
            bound.setup()
            want = sorted((f"{b.source}.events", key) for key in binding_keys(b.event_type, handler.version))
            for queue in (declared, bound.queue):
                assert queue.name == b.queue
                assert sorted((x.exchange.name, x.routing_key) for x in queue.bindings) == want, b.queue
            checked += 1
    assert checked > 20
