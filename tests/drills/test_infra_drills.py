"""Fault drills on the chassis under load: the outbox relay killed between the
commit and the publish (and between the publish and its mark), RabbitMQ stopped and started,
PostgreSQL restarted (both THROWAWAY servers started here, never the shared ones), and network
faults on AMQP and PostgreSQL through the loopback proxy. The load is the probe service
(tests/support/probe.py): each acknowledged ``create_item`` must have exactly one effect, made by
its event going through outbox → relay → bus → idempotent consumer. Failed calls are not counted as
lost (the caller was told), but their effects, if any, must be single too; effects nobody asked for
are unexpected. Each drill prints ``lost= duplicated= unexpected=``."""
from __future__ import annotations

import random
import time
import urllib.parse

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
from tests.support import probe
from tests.support.cluster import Cluster
from tests.support.drills import wait_for
from tests.support.tcpproxy import TcpProxy
from tests.support.throwaway import ThrowawayPostgres, ThrowawayRabbit
from tests.support.world import migrate
from tests.support.drills import Load, effects, settle_and_score, start_probe, start_probe_process

SEED = 20261125


@pytest.fixture(scope="module")
def shared_probe(make_env):
    """The probe service on the shared servers, in its own vhost and databases."""
    env = make_env()
    return env


@pytest.mark.parametrize("point", ["outbox.before_publish", "outbox.after_publish"])
def test_outbox_relay_killed_between_commit_and_publish(shared_probe, point):
    env = shared_probe
    skip = random.Random(f"{SEED}:{point}").randrange(5, 30)
    prefix = f"relay-{point.split('.')[1]}"
    cluster = start_probe(env, env.amqp_uri, env.database_url, FAULT_POINT=point, FAULT_SKIP=skip)
    load = Load(env.amqp_uri, prefix).start()
    try:
        assert wait_for(lambda: cluster.procs["probe"].poll() is not None, 60), f"{point} never reached"
        assert cluster.procs["probe"].returncode == -9
        time.sleep(0.5)
        start_probe_process(cluster, env.amqp_uri, env.database_url)
        time.sleep(2)
    finally:
        load.stop()
    try:
        s = settle_and_score(f"relay killed at {point} (skip {skip})", env.amqp_uri, load, prefix)
        assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
    finally:
        cluster.stop_all()


def test_rabbitmq_stopped_and_started_under_load_and_callers_get_503_not_a_hang(make_env):
    """A throwaway RabbitMQ node: the probe under load and the gateway with the registry on it.
    While the broker is down the gateway answers 503 within its RPC timeout; after it is back the
    services and the gateway reconnect by themselves and nothing is lost."""
    with ThrowawayRabbit() as mq:
        env = make_env(AMQP_URI=mq.amqp_uri)
        env.vars["AMQP_URI"] = env.amqp_uri = mq.amqp_uri
        migrate(env)
        cluster = start_probe(env, mq.amqp_uri, env.database_url)
        cluster.base_url = env.base_url
        cluster.start("registry")
        cluster.start("gateway")
        try:
            cluster.wait_ready(60, "/readyz/registry")
            load = Load(mq.amqp_uri, "mq-restart").start()
            time.sleep(2)
            mq.stop()
            started = time.monotonic()
            r = requests.get(env.base_url + "/readyz/registry", timeout=30)
            took = time.monotonic() - started
            print(f"  broker down: /readyz/registry answered {r.status_code} in {took:.2f} s")
            assert r.status_code == 503 and took < float(env.vars["RPC_TIMEOUT"]) + 2
            time.sleep(2)
            mq.start()
            back = time.monotonic()
            cluster.wait_ready(90, "/readyz/registry")
            print(f"  gateway and registry answered again {time.monotonic() - back:.1f} s after the broker")
            time.sleep(3)
            load.stop()
            assert load.acked, "the load must have run"
            s = settle_and_score("rabbitmq stop/start under load", mq.amqp_uri, load, "mq-restart")
            assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
        finally:
            cluster.stop_all()


def test_postgresql_restarted_under_load(make_env):
    with ThrowawayPostgres() as pg:
        env = make_env()
        cluster = start_probe(env, env.amqp_uri, pg.url)
        try:
            load = Load(env.amqp_uri, "pg-restart").start()
            time.sleep(2)
            pg.restart("fast")
            time.sleep(1)
            pg.restart("immediate")  # a crash-like stop: the server does not say goodbye
            time.sleep(3)
            load.stop()
            s = settle_and_score("postgresql restarted (fast, then immediate) under load", env.amqp_uri,
                                 load, "pg-restart")
            assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
            assert len(load.acked) > len(load.failed), "the service must come back by itself"
        finally:
            cluster.stop_all()


def probe_database_state(env, prefix: str) -> str:
    """Read straight from PostgreSQL (not through the proxy or the probe): what a failed drill left."""
    import psycopg

    like = prefix + "-%"
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}probe", autocommit=True) as conn:
        counts = {name: conn.execute(sql, params).fetchone()[0] for name, sql, params in [
            ("items", "SELECT count(*) FROM probe_items WHERE name LIKE %s", (like,)),
            ("effects", "SELECT count(*) FROM probe_effects WHERE name LIKE %s", (like,)),
            ("outbox unpublished", "SELECT count(*) FROM outbox WHERE published_at IS NULL", None)]}
        sessions = conn.execute("SELECT state, now() - xact_start, left(query, 60) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return f"database: {counts}; sessions: {sessions}"


def proxied_probe(env, target: str, **extra) -> tuple[TcpProxy, Cluster]:
    """The probe with its AMQP or PostgreSQL connections through a loopback TcpProxy."""
    upstream = urllib.parse.urlparse(env.amqp_uri if target == "amqp" else env.database_url)
    proxy = TcpProxy(upstream.hostname, upstream.port).start()
    local = f"127.0.0.1:{proxy.port}"
    amqp = env.amqp_uri.replace(upstream.netloc.split("@")[-1], local) if target == "amqp" else env.amqp_uri
    dburl = env.database_url.replace(upstream.netloc.split("@")[-1], local) if target == "postgres" \
        else env.database_url
    return proxy, start_probe(env, amqp, dburl, **extra)


@pytest.mark.parametrize("target,fault", [("amqp", "drop"), ("amqp", "delay"), ("postgres", "drop"),
                                          ("postgres", "delay")])
def test_network_faults_on_amqp_and_postgres(make_env, target, fault):
    env = make_env()
    proxy, cluster = proxied_probe(env, target)
    prefix = f"net-{target}-{fault}"
    try:
        load = Load(env.amqp_uri, prefix, timeout=8).start()
        time.sleep(1.5)
        if fault == "drop":
            proxy.stop()
            time.sleep(3)
            proxy.start()
        else:
            proxy.delay = 2.0
            time.sleep(4)
            proxy.delay = 0.0
        time.sleep(4)
        load.stop()
        s = settle_and_score(f"{target} {fault}", env.amqp_uri, load, prefix)
        assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
        assert len(load.acked) > 5
    finally:
        cluster.stop_all()
        proxy.stop()


@pytest.mark.parametrize("target", ["amqp", "postgres"])
def test_half_open_connections_on_amqp_and_postgres(make_env, target):
    """Every connection the probe has open through the proxy goes silent for good, without a FIN
    (``TcpProxy.sever``); new connections work. Nothing tells the service: it must notice by itself
    (AMQP heartbeats and bounded publish confirms; a silent statement or pool ping drops its
    connection, ``chassis.db.bound_silence``) and the load must flow again, 0/0/0."""
    env = make_env()
    proxy, cluster = proxied_probe(env, target, AMQP_HEARTBEAT=2, AMQP_PUBLISH_TIMEOUT=3, DB_SILENCE_SECONDS=3,
                                   DB_IDLE_IN_TRANSACTION_SECONDS=5)
    prefix = f"half-open-{target}"
    try:
        load = Load(env.amqp_uri, prefix, timeout=8).start()
        assert wait_for(lambda: len(load.acked) >= 10, 30), "the load must run before the fault"
        severed, before, at = proxy.sever(), len(load.acked), time.monotonic()
        assert severed > 0
        flowing = wait_for(lambda: len(load.acked) >= before + 20, 90, 0.1)
        took = time.monotonic() - at
        print(f"  {target}: {severed} sockets went half-open; 20 more calls acknowledged {took:.1f} s later "
              f"({len(load.failed)} refused meanwhile)")
        assert flowing, "the probe never noticed its half-open connections"
        time.sleep(2)
        load.stop()
        s = settle_and_score(f"{target} half-open", env.amqp_uri, load, prefix)
        assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0), probe_database_state(env, prefix)
    finally:
        cluster.stop_all()
        proxy.stop()


def test_a_redelivered_rpc_request_is_refused_not_run_twice(shared_probe):
    """chassis/rpcreply.py: a request whose first consumer died before acking comes back
    `redelivered`; it is answered with a typed 503 and never run (RPC is at most once)."""
    import uuid

    from kombu import Connection, Exchange, Queue

    env = shared_probe
    cluster = start_probe(env, env.amqp_uri, env.database_url)
    cluster.stop("probe")  # its queue stays; nobody consumes it now
    name, correlation = f"redelivered-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    with Connection(env.amqp_uri) as conn:
        rpc_exchange = Exchange("nameko-rpc", type="topic", durable=True)
        replies = Queue(f"drill-replies-{correlation[:8]}", exchange=rpc_exchange,
                        routing_key=f"drill-replies-{correlation[:8]}", auto_delete=True)
        replies(conn.default_channel).declare()
        conn.Producer().publish({"args": [name], "kwargs": {}}, exchange=rpc_exchange,
                                routing_key="probe.create_item", reply_to=replies.name,
                                correlation_id=correlation, serializer="json", declare=[])
        with Connection(env.amqp_uri) as first:  # a consumer that takes it and dies before the ack
            taken = first.SimpleQueue("rpc-probe", no_ack=False).get(timeout=10)
            assert taken.payload["args"] == [name] and not taken.delivery_info.get("redelivered")
        try:
            start_probe_process(cluster, env.amqp_uri, env.database_url)
            reply = conn.SimpleQueue(replies, no_ack=True).get(timeout=20)
            # a control call after it: once its effect is in, the refused one's would be too
            control = f"redelivered-control-{uuid.uuid4().hex[:6]}"
            with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
                rpc.probe.create_item(control)
            seen = wait_for(lambda: (got := effects(env.amqp_uri, "redelivered")) and control in got and got, 30)
        finally:
            cluster.stop_all()
    assert reply.properties["correlation_id"] == correlation
    assert reply.payload["error"]["exc_type"] == "Unavailable", reply.payload
    assert "request_interrupted" in str(reply.payload["error"]["value"]) or reply.payload["error"]["exc_args"]
    assert seen, "the control call's effect never arrived"
    assert name not in seen, "a refused request must not have run"
