"""Broker users per service (docs/kubernetes.md, "Broker users"), on a THROWAWAY RabbitMQ node
(users are node-wide: never on the shared broker): the users and permissions `chassis.brokerusers`
defines, the topology declared by its administrator as quorum queues, then

* a service cannot publish to another service's ``.events`` exchange, nor past it through the
  default exchange;
* a city system's read-only user binds its own queue to ``*.events`` and consumes, and may do
  nothing else;
* the whole system runs with one user per process: the gateway's readiness asks each of the five
  services over RPC, and a probe service's events, retries and dead letters flow with its own user.
"""
from __future__ import annotations

import secrets
import uuid

import pytest
from amqp.exceptions import AccessRefused, NotFound
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy

import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
from chassis import brokerusers
from chassis.app import all_service_classes
from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.settings import SERVICES
from chassis.topology import declare
from tests.support import probe
from tests.support.drills import wait_for
from tests.support.throwaway import ThrowawayRabbit
from tests.support.world import migrate

VHOST = "econsult"
CITY = "opendata"
QUORUM = {"QUEUE_TYPE": "quorum"}


@pytest.fixture(scope="module")
def broker():
    with ThrowawayRabbit() as mq:
        mq.ctl("add_vhost", VHOST)
        passwords = {g.user: secrets.token_hex(12) for g in brokerusers.grants([CITY])}
        defs = brokerusers.definitions(VHOST, passwords, [CITY])
        g = brokerusers.service_grant("probe", sources=["probe"])  # the drills' probe service
        passwords["probe"] = secrets.token_hex(12)
        defs["users"].append({"name": "probe", "password": passwords["probe"], "tags": ""})
        defs["permissions"].append({"user": "probe", "vhost": VHOST, "configure": g.configure,
                                    "write": g.write, "read": g.read})
        mq.import_definitions(defs)

        def uri(user: str) -> str:
            return f"amqp://{user}:{passwords[user]}@127.0.0.1:{mq.port}/{VHOST}"

        declare(uri(brokerusers.ADMIN), [*all_service_classes(), probe.ProbeService], queue_type="quorum")
        yield mq, uri


def _publish(uri: str, exchange, routing_key: str) -> None:
    publisher = ConfirmingPublisher(uri)
    try:
        publisher.publish({"forged": True}, exchange=exchange, routing_key=routing_key)
    finally:
        publisher.close(graceful=False)


def test_a_service_cannot_publish_to_another_services_events(broker):
    mq, uri = broker
    with pytest.raises(AccessRefused, match="consultations.events"):
        _publish(uri("registry"), event_exchange("consultations"), "consultation_published")
    # nor around the exchange, straight into a subscriber's queue by name
    with pytest.raises(AccessRefused, match="amq.default"):
        _publish(uri("registry"), "", "evt-consultations-consultation_published--notifications."
                                      "on_consultation_published")
    _publish(uri("registry"), event_exchange("registry"), "anything")  # its own: confirmed
    queues = {q.split("\t")[0]: q.split("\t")[1] for q in mq.ctl(
        "list_queues", "-p", VHOST, "name", "type", "--no-table-headers").stdout.split("\n") if "\t" in q}
    assert queues and set(queues.values()) == {"quorum"}, "every durable queue of the topology is a quorum queue"
    assert {f"rpc-{s}" for s in SERVICES} <= set(queues)


def test_a_city_system_user_consumes_events_but_cannot_publish(broker):
    mq, uri = broker
    city = uri(f"city-{CITY}")
    # the exchange exists (the topology job's): a city system binds to it, never declares it
    events = Exchange("consultations.events", type="topic", durable=True, no_declare=True)
    feed = Queue(f"city-{CITY}.feed", exchange=events, routing_key="#", durable=True)
    with Connection(city) as conn:
        feed(conn.channel()).declare()
    _publish(uri("consultations"), event_exchange("consultations"), "consultation_published")
    with Connection(city) as conn:
        msg = wait_for(lambda: Queue(feed.name)(conn.channel()).get(no_ack=True), 10)
        assert msg is not None and msg.payload == {"forged": True}
    with pytest.raises(AccessRefused):
        _publish(city, event_exchange("consultations"), "consultation_published")
    with pytest.raises(AccessRefused):
        _publish(city, "", feed.name)
    for forbidden in (
            Queue(f"city-{CITY}.rpc", exchange=Exchange("nameko-rpc", type="topic", durable=True, no_declare=True),
                  routing_key="#", durable=True),                         # listening to RPC traffic
            Queue("rpc-registry", durable=True),                          # someone else's queue
    ):
        with Connection(city) as conn, pytest.raises(AccessRefused):
            forbidden(conn.channel()).declare()
    with Connection(city) as conn, pytest.raises((AccessRefused, NotFound)):
        Queue("rpc-registry")(conn.channel()).get(no_ack=True)


def test_the_whole_system_runs_with_one_broker_user_per_process(broker, make_env):
    """Every process with its own user: the gateway's /readyz makes a `health` RPC to each of the
    five services; the probe's events, retries and dead letters flow through its own exchanges."""
    mq, uri = broker
    env = make_env(**QUORUM, APP_ENV="development")
    migrate(env)
    from tests.support.drills import start_probe
    from tests.support.cluster import ROOT, Cluster

    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, env.base_url)
    probes = None
    try:
        for name in (*SERVICES, "gateway"):
            cluster.start(name, env={"AMQP_URI": uri(name), **QUORUM})
        cluster.wait_ready(90)
        for name in SERVICES:
            assert "topology left to the topology job" in cluster.logs(name), name
        # the probe runs as its own user; this test calls it as an outside caller (the administrator)
        probes = start_probe(env, uri("probe"), env.database_url, rpc_uri=uri(brokerusers.ADMIN), **QUORUM)
        with ClusterRpcProxy({"AMQP_URI": uri(brokerusers.ADMIN)}, timeout=10) as rpc:
            name = f"users-{uuid.uuid4().hex[:6]}"
            rpc.probe.create_item(name)
            assert wait_for(lambda: any(e["name"] == name for e in rpc.probe.effects()), 20)
        _publish(uri("probe"), event_exchange("probe"), "poison")
        with Connection(uri(brokerusers.ADMIN)) as conn:
            dead = "evt-probe-poison--probe.on_poison.dead"
            assert wait_for(lambda: conn.default_channel.queue_declare(dead, passive=True)[1], 30), \
                "the failing event is retried and parked through probe.retry"
    finally:
        cluster.stop_all()
        if probes is not None:
            probes.stop_all()
