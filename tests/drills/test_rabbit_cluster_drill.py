"""RabbitMQ as a cluster (docs/kubernetes.md, "RabbitMQ cluster"): three THROWAWAY nodes on this
machine (own node names, ports, data directories and Erlang cookie) joined with
``rabbitmqctl join_cluster``; the probe service under load, the registry and the gateway, every
process given all three brokers in ``AMQP_URI`` (kombu failover). Then one node is stopped, then
another node stopped and the first restarted. Scored like every drill (lost, duplicated,
unexpected): with quorum queues nothing acknowledged is lost and every effect happens once; the same
run with classic queues shows what quorum queues buy.

A process that exits is started again, as Kubernetes restarts a failed container.
"""
from __future__ import annotations

import time
import uuid

import pytest
import requests
from kombu import Connection

from chassis.topology import declare
from chassis.app import all_service_classes
from tests.support.drills import Load, settle_and_score, start_probe, start_probe_process
from tests.support import probe
from tests.support.throwaway import ThrowawayRabbitCluster
from tests.support.world import migrate

pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def rabbit_cluster():
    with ThrowawayRabbitCluster(3) as cluster:
        yield cluster


def _restart_exited(procs, amqp_uri: str, database_url: str, env_extra: dict,
                    whole: bool = True) -> list[str]:
    """Start again whatever exited (the kubelet's job); returns their names. With a node still down
    (``whole=False``) a probe whose classic queue lives on that node cannot start (NOT_FOUND): that is
    the classic queues' failure mode, so it is noted and tried again once the cluster is whole."""
    restarted = []
    for name, proc in list(procs.procs.items()):
        if proc.poll() is not None:
            restarted.append(name)
            if name == "probe":
                try:
                    start_probe_process(procs, amqp_uri, database_url, **env_extra)
                except RuntimeError:
                    if whole:
                        raise
                    print("  the probe could not start while a node was down (its queue lives there)")
                    restarted[-1] = "probe (failed to start while a node was down)"
            else:
                procs.start(name, env={"AMQP_URI": amqp_uri, **env_extra})
    return restarted


@pytest.mark.parametrize("queue_type", ["quorum", "classic"])
def test_one_node_lost_then_another_while_the_first_returns(rabbit_cluster, make_env, queue_type):
    nodes = rabbit_cluster.nodes
    vhost = f"cluster{queue_type}{uuid.uuid4().hex[:6]}"
    nodes[0].ctl("add_vhost", vhost)
    nodes[0].ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    uri = rabbit_cluster.uri(vhost)
    extra = {"QUEUE_TYPE": queue_type}
    env = make_env(**extra)
    env.vars["AMQP_URI"] = env.amqp_uri = uri
    migrate(env)
    declare(uri, [*all_service_classes(), probe.ProbeService], queue_type=queue_type)  # the topology job
    procs = start_probe(env, uri, env.database_url, **extra)
    procs.base_url = env.base_url
    procs.start("registry", env=extra)
    procs.start("gateway", env=extra)
    prefix = f"cluster-{queue_type}"
    restarted: list[str] = []
    first, second = nodes[0], nodes[1]
    started = time.monotonic()
    try:
        procs.wait_ready(90, "/readyz/registry")
        load = Load(uri, prefix).start()
        time.sleep(4)
        first.stop()
        at_first_stop = len(load.acked)
        print(f"  {queue_type}: node 1 stopped at {at_first_stop} calls")
        time.sleep(6)
        while_one_down = len(load.acked) - at_first_stop
        restarted += _restart_exited(procs, uri, env.database_url, extra, whole=queue_type == "quorum")
        second.stop()
        first.start()
        print(f"  {queue_type}: node 2 stopped, node 1 back at {len(load.acked)} calls")
        time.sleep(6)
        restarted += _restart_exited(procs, uri, env.database_url, extra, whole=queue_type == "quorum")
        load.stop()
        second.start()  # the cluster whole again for what follows
        restarted += _restart_exited(procs, uri, env.database_url, extra)
        assert load.acked, "the load must have run"
        s = settle_and_score(f"rabbitmq cluster, one node lost then another ({queue_type} queues)", uri,
                             load, prefix)
        ready = procs.wait_ready(60, "/readyz/registry")
        print(f"  {queue_type}: {while_one_down} calls acknowledged while node 1 was down; "
              f"{len(load.acked)} acknowledged, {len(load.failed)} refused; processes "
              f"restarted: {restarted or 'none'}; gateway and registry ready {ready:.1f} s after; "
              f"drill {time.monotonic() - started:.0f} s")
        with Connection(uri) as conn:  # what the queues are, as the broker says
            _, depth, _ = conn.default_channel.queue_declare("rpc-probe", passive=True)
        assert depth == 0
        assert s.unexpected == 0, "an effect nobody asked for"
        if queue_type == "quorum":
            assert (s.lost, s.duplicated) == (0, 0), "quorum queues: every acknowledged call exactly once"
            assert while_one_down > 0, "quorum queues: the service kept answering with one node down"
            assert requests.get(env.base_url + "/readyz/registry", timeout=10).status_code == 200
    finally:
        procs.stop_all()
        for node in (first, second):
            if node.proc is None or node.proc.poll() is not None:
                node.start()
