"""Test set-up: real RabbitMQ and PostgreSQL (local, or testcontainers where Docker exists),
isolated per run (own vhost, own database prefix), and the whole system started once per session
for the integration and end-to-end tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cluster import ROOT, Cluster
from tests.support.infra import Infra, discover, new_run_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Env:
    """One isolated world: a vhost, a database prefix and the environment pointing at them."""

    run_id: str
    amqp_uri: str
    database_url: str
    db_prefix: str
    vars: dict

    def settings(self):
        from chassis.settings import Settings

        return Settings(amqp_uri=self.amqp_uri, database_url=self.database_url,
                        db_prefix=self.db_prefix)


@pytest.fixture(scope="session")
def infra():
    infra: Infra = discover()
    infra.sweep_stale()
    yield infra
    infra.stop()


@pytest.fixture(scope="session")
def make_env(infra):
    """Factory of isolated environments; everything it made is removed at the end of the session."""
    made: list[str] = []

    def make(**extra) -> Env:
        run_id = new_run_id()
        amqp = infra.add_vhost(run_id)
        made.append(run_id)
        gateway_port, smtp_port = free_port(), free_port()
        env_vars = {
            **os.environ,
            "AMQP_URI": amqp, "DATABASE_URL": infra.database_url, "DB_PREFIX": f"{run_id}_",
            "PSYCOPG_WAIT_FUNC": "wait_selector", "LOG_LEVEL": "INFO",
            "GATEWAY_PORT": str(gateway_port), "GATEWAY_HOST": "127.0.0.1",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
            "PUBLIC_URL": f"http://127.0.0.1:{gateway_port}", "AUTH_DEV_LOGIN": "1",
            "MAIL_DIR": str(ROOT / "var" / "test-mail" / run_id),
            "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / "test-metrics" / run_id),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **{k: str(v) for k, v in extra.items()},
        }
        return Env(run_id, amqp, infra.database_url, f"{run_id}_", env_vars)

    yield make
    for run_id in made:
        infra.delete_vhost(run_id)
        infra.drop_databases(f"{run_id}_")


@pytest.fixture(scope="session")
def env(make_env) -> Env:
    """The session's environment; the test process's own settings point at it too."""
    e = make_env()
    keys = ("AMQP_URI", "DATABASE_URL", "DB_PREFIX", "SMTP_PORT", "GATEWAY_PORT", "PUBLIC_URL")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: e.vars[k] for k in keys})
    from chassis.settings import get_settings

    get_settings.cache_clear()
    yield e
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


def migrate(env: Env) -> None:
    subprocess.run([sys.executable, "-m", "chassis.migrate"], cwd=ROOT, env=env.vars, check=True,
                   capture_output=True)


@pytest.fixture(scope="session")
def system(env):
    """Five services, the gateway and the SMTP catcher, started like `make run` does."""
    migrate(env)
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id,
                      f"http://127.0.0.1:{env.vars['GATEWAY_PORT']}")
    cluster.start_all()
    try:
        cluster.wait_ready(90)
        yield cluster
    finally:
        cluster.stop_all()
