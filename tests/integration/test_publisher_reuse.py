"""nameko's publishes (RPC requests and replies) find their pooled producer without building a new
broker connection object for each message (chassis.bus.reuse_publisher_connections)."""
from __future__ import annotations

import uuid

import kombu
from nameko.amqp.publish import Publisher

from chassis.bus import reuse_publisher_connections


def test_a_publish_builds_no_connection_once_its_pool_is_there(env, monkeypatch):
    reuse_publisher_connections()
    built = []
    init = kombu.Connection.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(kombu.Connection, "__init__", counting)
    publisher = Publisher(env.amqp_uri)
    nowhere = f"nowhere-{uuid.uuid4()}"  # the default exchange drops it: nothing is bound there
    publisher.publish({"n": 0}, routing_key=nowhere)
    first = len(built)
    for n in range(1, 6):
        publisher.publish({"n": n}, routing_key=nowhere)
    assert len(built) == first, f"{len(built) - first} connection objects built for 5 publishes"
