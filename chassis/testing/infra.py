"""Where the tests find RabbitMQ and PostgreSQL, and how each run is isolated.

Order: ``AMQP_URI``/``DATABASE_URL`` from the environment, else the servers on localhost, else
testcontainers (where a Docker engine exists). Each run gets its own RabbitMQ vhost and its own
database-name prefix, both stamped with the time, so a crashed run leaves nothing the next one
trips over; leftovers older than a few hours are swept at the start of the next run.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import string
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field

import psycopg
import requests

STALE_SECONDS = 3 * 3600
PREFIX = "et"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def new_run_id() -> str:
    return f"{PREFIX}{int(time.time())}" + "".join(random.choices(string.ascii_lowercase, k=4))


def _run_epoch(name: str) -> int | None:
    digits = name[len(PREFIX):len(PREFIX) + 10]
    return int(digits) if name.startswith(PREFIX) and digits.isdigit() else None


@dataclass
class Infra:
    amqp_base: str          # amqp://user:pass@host:port  (no vhost)
    database_url: str       # postgresql://user@host:port
    mgmt_url: str | None    # RabbitMQ management API, when reachable
    containers: list = field(default_factory=list)

    # ---- RabbitMQ vhosts -------------------------------------------------------------
    def _creds(self) -> tuple[str, str]:
        u = urllib.parse.urlparse(self.amqp_base)
        return u.username or "guest", u.password or "guest"

    def add_vhost(self, name: str) -> str:
        user, _ = self._creds()
        if self.mgmt_url:
            auth = self._creds()
            requests.put(f"{self.mgmt_url}/api/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
            requests.put(f"{self.mgmt_url}/api/permissions/{name}/{user}", auth=auth, timeout=10,
                         json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        else:
            subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
            subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, user, ".*", ".*", ".*"],
                           check=True, capture_output=True)
        return f"{self.amqp_base}/{name}"

    def delete_vhost(self, name: str) -> None:
        if self.mgmt_url:
            requests.delete(f"{self.mgmt_url}/api/vhosts/{name}", auth=self._creds(), timeout=10)
        else:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)

    def list_vhosts(self) -> list[str]:
        if self.mgmt_url:
            return [v["name"] for v in requests.get(f"{self.mgmt_url}/api/vhosts", auth=self._creds(),
                                                     timeout=10).json()]
        out = subprocess.run(["rabbitmqctl", "-q", "list_vhosts", "--formatter", "json"],
                             capture_output=True, text=True)
        try:
            return [v["name"] for v in json.loads(out.stdout or "[]")]
        except ValueError:
            return []

    # ---- PostgreSQL databases --------------------------------------------------------
    def _admin(self):
        return psycopg.connect(self.database_url.rstrip("/") + "/postgres", autocommit=True)

    def drop_databases(self, prefix: str) -> None:
        with self._admin() as conn:
            names = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))]
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sweep_stale(self) -> None:
        now = time.time()
        with self._admin() as conn:
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
            for name in names:
                epoch = _run_epoch(name)
                if epoch and now - epoch > STALE_SECONDS:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for vhost in self.list_vhosts():
            epoch = _run_epoch(vhost)
            if epoch and now - epoch > STALE_SECONDS:
                self.delete_vhost(vhost)

    def stop(self) -> None:
        for c in self.containers:
            c.stop()


def discover() -> Infra:
    amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")
    db = os.environ.get("DATABASE_URL", "postgresql://postgres@localhost:5432")
    a, d = urllib.parse.urlparse(amqp), urllib.parse.urlparse(db)
    if _reachable(a.hostname or "localhost", a.port or 5672) and _reachable(d.hostname or "localhost", d.port or 5432):
        base = f"{a.scheme}://{a.netloc}"
        mgmt = f"http://{a.hostname}:15672" if _reachable(a.hostname or "localhost", 15672) else None
        if mgmt is None and shutil.which("rabbitmqctl") is None:
            raise RuntimeError("RabbitMQ has no management API (port 15672) and rabbitmqctl is not "
                               "on PATH: enable rabbitmq_management so tests can make a vhost")
        return Infra(base, f"{d.scheme}://{d.netloc}", mgmt)
    return _containers()


def _containers() -> Infra:  # pragma: no cover - only where a Docker engine exists
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    pg = PostgresContainer("postgres:15", driver="psycopg").start()
    mq = RabbitMqContainer("rabbitmq:3.13-management").with_exposed_ports(5672, 15672).start()
    mq_host, mq_port = mq.get_container_host_ip(), mq.get_exposed_port(5672)
    infra = Infra(f"amqp://guest:guest@{mq_host}:{mq_port}",
                  f"postgresql://{pg.username}:{pg.password}@{pg.get_container_host_ip()}:"
                  f"{pg.get_exposed_port(5432)}",
                  f"http://{mq_host}:{mq.get_exposed_port(15672)}", [pg, mq])
    return infra
