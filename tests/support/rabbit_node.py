"""A throwaway RabbitMQ node of a test's own (own node name, ports, data and log directories, Erlang
cookie in its own HOME), so a test can stop and restart a broker without touching the shared one on
5672 that other runs depend on."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from tests.support.infra import Infra

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def _tool(name: str) -> str:
    path = RABBIT_BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


class RabbitNode:
    def __init__(self, base_dir: Path, amqp_port: int, dist_port: int):
        self.base_dir, self.amqp_port = base_dir, amqp_port
        self.name = f"et-{uuid.uuid4().hex[:8]}@localhost"
        base_dir.mkdir(parents=True, exist_ok=True)
        (base_dir / "enabled_plugins").write_text("[].\n")
        self.env = {**os.environ, "HOME": str(base_dir), "RABBITMQ_NODENAME": self.name,
                    "RABBITMQ_NODE_PORT": str(amqp_port), "RABBITMQ_DIST_PORT": str(dist_port),
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                    "RABBITMQ_MNESIA_BASE": str(base_dir / "mnesia"), "RABBITMQ_LOG_BASE": str(base_dir / "log"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(base_dir / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(base_dir / "rabbitmq"),
                    "RABBITMQ_PID_FILE": str(base_dir / "pid")}
        self.proc: subprocess.Popen | None = None

    @property
    def amqp_base(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}"

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([_tool("rabbitmqctl"), "-q", "-n", self.name, *args], env=self.env,
                              capture_output=True, text=True, check=check, timeout=90)

    def start(self, timeout: float = 90) -> "RabbitNode":
        log = open(self.base_dir / "server.log", "ab")
        self.proc = subprocess.Popen([_tool("rabbitmq-server")], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:  # await_startup fails while the node is not yet registered with epmd
            if self.ctl("await_startup", "--timeout", "30", check=False).returncode == 0:
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.name} did not start; see {self.base_dir}/server.log")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.ctl("stop", check=False)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(5)
        self.proc = None


class NodeInfra(Infra):
    """`Infra` whose vhosts live on a `RabbitNode` (databases stay on the shared PostgreSQL)."""

    def __init__(self, node: RabbitNode, database_url: str):
        super().__init__(node.amqp_base, database_url, None)
        self.node = node

    def add_vhost(self, name: str) -> str:
        self.node.ctl("add_vhost", name)
        self.node.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return f"{self.amqp_base}/{name}"

    def delete_vhost(self, name: str) -> None:
        self.node.ctl("delete_vhost", name, check=False)
