"""Fixtures shared by the integration modules."""
from __future__ import annotations

import urllib.parse

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from chassis.db import ensure_database, make_engine
from tests.support import probe
from tests.support.cluster import ROOT, Cluster
from tests.support.drills import PROBE
from tests.support.tcpproxy import TcpProxy


@pytest.fixture(scope="module")
def probe_world(env):
    """The probe service, talking to RabbitMQ through a TCP proxy the test can cut."""
    settings = env.settings()
    ensure_database("probe", settings)
    engine = make_engine("probe", settings)
    probe.create_schema(engine)
    url = urllib.parse.urlparse(env.amqp_uri)
    proxy = TcpProxy(url.hostname, url.port or 5672).start()
    proxied = env.amqp_uri.replace(f"{url.hostname}:{url.port or 5672}", f"127.0.0.1:{proxy.port}")
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, "")
    cluster.start("probe", [*cluster.commands["registry"][:-1], PROBE],
                  env={"AMQP_URI": proxied, "EVENT_MAX_ATTEMPTS": "3", "LOG_LEVEL": "DEBUG"})
    with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
        cluster.wait_rpc(rpc, "probe")
        yield {"engine": engine, "proxy": proxy, "rpc": rpc, "cluster": cluster}
    cluster.stop_all()
    proxy.stop()
    engine.dispose()
