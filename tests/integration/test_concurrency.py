"""psycopg 3 must not block eventlet's hub. One service instance serves 8 concurrent DB-bound calls
(each holding a query 0.3 s) concurrently: under 1 s together. The driver is psycopg's binary build;
what keeps it cooperative is ``PSYCOPG_WAIT_FUNC=wait_selector`` (run with ``wait_c`` and this fails)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from nameko.standalone.rpc import ClusterRpcProxy


def test_one_instance_serves_db_bound_calls_concurrently(env, system):
    import psycopg

    assert psycopg.pq.__impl__ == "binary", "requirements.txt installs psycopg[binary]"
    proxies = [ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) for _ in range(8)]
    clients = [p.start() for p in proxies]
    try:
        for c in clients:  # warm the reply queues and the service's DB pool
            c.consultations.health()
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda c: c.consultations.health(db_probe_seconds=0.3), clients))
        took = time.perf_counter() - started
    finally:
        for p in proxies:
            p.stop()
    assert all(r["status"] == "ok" for r in replies)
    assert took < 1.0, f"8 × 0.3 s queries took {took:.2f} s: the service serialised them"
    print(f"8 concurrent 0.3 s DB calls took {took:.2f} s")


def test_health_refuses_a_bad_probe_value(env, system):
    import chassis.errors as errors

    with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
        try:
            rpc.registry.health(db_probe_seconds=5)
        except errors.InvalidInput as exc:
            assert exc.errors[0]["field"] == "db_probe_seconds"
        else:
            raise AssertionError("a 5 s probe must be refused")
