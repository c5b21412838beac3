"""One isolated world (a RabbitMQ vhost, a database-name prefix, free ports) and the environment
pointing at it; used by the test fixtures and by the benchmarks."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from chassis.testing.cluster import ROOT, Cluster
from chassis.testing.infra import Infra, new_run_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Env:
    run_id: str
    amqp_uri: str
    database_url: str
    db_prefix: str
    vars: dict

    def settings(self):
        from chassis.settings import Settings

        return Settings(amqp_uri=self.amqp_uri, database_url=self.database_url,
                        db_prefix=self.db_prefix)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.vars['GATEWAY_PORT']}"


def make_world(infra: Infra, **extra) -> Env:
    run_id = new_run_id()
    amqp = infra.add_vhost(run_id)
    gateway_port, smtp_port = free_port(), free_port()
    env_vars = {
        **os.environ,
        "AMQP_URI": amqp, "DATABASE_URL": infra.database_url, "DB_PREFIX": f"{run_id}_",
        "PSYCOPG_WAIT_FUNC": "wait_selector", "LOG_LEVEL": "INFO",
        "GATEWAY_PORT": str(gateway_port), "GATEWAY_HOST": "127.0.0.1",
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
        "PUBLIC_URL": f"http://127.0.0.1:{gateway_port}", "AUTH_DEV_LOGIN": "1", "RPC_TIMEOUT": "4",
        "TIMER_INTERVAL_SECONDS": "1", "SMTP_RATE_PER_SECOND": "1000",
        "DELIVERY_STUCK_SECONDS": "5",
        # the whole suite writes from 127.0.0.1: limits out of the way (test_hardening sets its own)
        "RATE_WRITES_PER_PERSON": "1000000", "RATE_WRITES_PER_ADDRESS": "1000000",
        "RATE_LOGINS_PER_ADDRESS": "1000000", "RATE_WINDOW_SECONDS": "86400",
        "WEBHOOK_ALLOW_LOOPBACK": "1",  # receivers on 127.0.0.1 (refused when APP_ENV=production)
        # anonymous reads fresh after every write (tests/e2e/test_public_cache.py runs its own gateway with it)
        "PUBLIC_CACHE_SECONDS": "0",
        "DIGEST_SEND_HOUR": "23",  # daily digests wait until 23:00 Kyiv unless a test makes them due
        "MAIL_DIR": str(ROOT / "var" / "test-mail" / run_id),
        "FILE_STORE": str(ROOT / "var" / "test-files" / run_id),
        "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / "test-metrics" / run_id),
        "GATEWAY_METRICS_PORT": str(free_port()),  # the gateway's /metrics, off the public port
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **{k: str(v) for k, v in extra.items()},
    }
    return Env(run_id, amqp, infra.database_url, f"{run_id}_", env_vars)


def destroy_world(infra: Infra, env: Env) -> None:
    infra.delete_vhost(env.run_id)
    infra.drop_databases(env.db_prefix)


def migrate(env: Env) -> None:
    subprocess.run([sys.executable, "-m", "chassis.migrate"], cwd=ROOT, env=env.vars, check=True,
                   capture_output=True)


@contextlib.contextmanager
def own_database(make_env, service: str):
    """An engine on a migrated database of the caller's own for ``service``'s SQL (the session's
    database is also the running system's, whose consumers and timers would take its rows)."""
    from chassis.db import make_engine

    own = make_env()
    migrate(own)
    engine = make_engine(service, own.settings())
    try:
        yield engine
    finally:
        engine.dispose()


def start_system(env: Env, ready_timeout: float = 90) -> Cluster:
    """Migrate, then start every Procfile process; returns once /readyz is 200."""
    migrate(env)
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, env.base_url)
    cluster.start_all()
    try:
        cluster.wait_ready(ready_timeout)
    except Exception:
        cluster.stop_all()
        raise
    return cluster
