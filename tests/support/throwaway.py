"""Throwaway RabbitMQ and PostgreSQL servers a test may stop, kill and restart
(docs/drills.md). Never the shared 5672/5432: other engineers' runs depend on those.

* :class:`ThrowawayRabbit` — a second RabbitMQ node (``drill-<pid>-<n>@localhost``) with its own
  ports, Mnesia and log directories in a temp dir and no plugins; its data survives
  :meth:`restart`, as a real broker's durable queues and persistent messages do.
* :class:`ThrowawayPostgres` — ``initdb`` + ``pg_ctl`` in a temp dir on a free port, run as the
  ``postgres`` user (PostgreSQL refuses root), trust authentication on loopback only.

Both are context managers; both are removed, directory and all, at exit.
"""
from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.infra import Infra
from tests.support.world import free_port

_counter = itertools.count(1)


def wait_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class _Throwaway:
    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class ThrowawayRabbit(_Throwaway):
    def __init__(self, cookie: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="drill-rabbit-"))
        self.node = f"drill-{os.getpid()}-{next(_counter)}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
            "log.console = false\nlog.file.level = warning\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:  # Debian's rabbitmq-server runs the node as the rabbitmq user
            for path in (self.dir, self.dir / "rabbitmq.conf", self.dir / "enabled_plugins"):
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.env = {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(self.dir / "log"),
                    "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
                    "RABBITMQ_PID_FILE": str(self.dir / "node.pid")}
        if cookie:  # nodes of one throwaway cluster share their own cookie, not the machine's
            self.env["RABBITMQ_ERLANG_COOKIE"] = cookie
        self.proc: subprocess.Popen | None = None

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> "ThrowawayRabbit":
        log = open(self.dir / "server.out", "ab")
        self.proc = subprocess.Popen(["rabbitmq-server"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.dir)
        subprocess.run(["rabbitmqctl", "-n", self.node, "-q", "wait", "--timeout", str(int(timeout)),
                        str(self.dir / "node.pid")], env=self.env, capture_output=True, timeout=timeout + 5)
        wait_port(self.port, timeout)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        subprocess.run(["rabbitmqctl", "-n", self.node, "-q", "stop"], env=self.env, capture_output=True,
                       timeout=60)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def import_definitions(self, definitions: dict) -> None:
        """Users, vhosts, permissions in one ``rabbitmqctl`` call (each call starts an Erlang VM)."""
        path = self.dir / f"definitions-{next(_counter)}.json"
        path.write_text(json.dumps(definitions))
        if os.geteuid() == 0:
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.ctl("import_definitions", str(path))

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["rabbitmqctl", "-n", self.node, "-q", *args], env=self.env, capture_output=True,
                              text=True, check=check, timeout=90)


class ThrowawayRabbitCluster:
    """Three (or ``size``) :class:`ThrowawayRabbit` nodes joined with ``rabbitmqctl join_cluster``,
    with their own Erlang cookie; :attr:`amqp_uri` lists every node (kombu's failover URL)."""

    def __init__(self, size: int = 3):
        import secrets

        cookie = secrets.token_hex(16).upper()
        self.nodes = [ThrowawayRabbit(cookie) for _ in range(size)]

    def start(self) -> "ThrowawayRabbitCluster":
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.start(), self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        return self

    def uri(self, vhost: str = "", user: str = "guest:guest") -> str:
        return ";".join(f"amqp://{user}@127.0.0.1:{n.port}/{vhost}" for n in self.nodes)

    def running_nodes(self, via: ThrowawayRabbit) -> list[str]:
        import json as _json

        status = via.ctl("cluster_status", "--formatter", "json").stdout
        return sorted(_json.loads(status).get("running_nodes", []))

    def close(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.close(), self.nodes))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class ThrowawayInfra(Infra):
    """`Infra` whose vhosts live on a :class:`ThrowawayRabbit` (databases stay on the shared
    PostgreSQL), so `make_world`/`start_system` can run a whole system against that node."""

    def __init__(self, rabbit: ThrowawayRabbit, database_url: str):
        super().__init__(rabbit.amqp_uri.rstrip("/"), database_url, None)
        self.rabbit = rabbit

    def add_vhost(self, name: str) -> str:
        self.rabbit.ctl("add_vhost", name)
        self.rabbit.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return f"{self.rabbit.amqp_uri}{name}"

    def delete_vhost(self, name: str) -> None:
        self.rabbit.ctl("delete_vhost", name, check=False)



def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    return shutil.which(name) or name


class ThrowawayPostgres(_Throwaway):
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="drill-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        cmd = list(argv)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if out.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed: {out.stdout[-1500:]} {out.stderr[-1500:]}")

    def start(self) -> "ThrowawayPostgres":
        if not self.data.exists():
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--no-sync")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c max_connections=200", "start")
        wait_port(self.port, 30)
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def close(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayStandby(ThrowawayPostgres):
    """A streaming replica of a :class:`ThrowawayPostgres`: ``pg_basebackup -R`` (standby.signal and
    primary_conninfo written for us), then its own ``pg_ctl`` on another port. Read-only."""

    def __init__(self, primary: ThrowawayPostgres):
        super().__init__()
        self.primary = primary

    def start(self) -> "ThrowawayStandby":
        if not self.data.exists():
            self._run(_pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                      "-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync", timeout=120)
        super().start()
        return self

    def sql(self, statement: str):
        import psycopg

        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            return conn.execute(statement).fetchall()


class ThrowawayPgBouncer(_Throwaway):
    """Debian's PgBouncer in front of a PostgreSQL server, every database passed through, trust
    authentication on loopback, in ``pool_mode`` (transaction: the mode the manifests use)."""

    def __init__(self, server_port: int, pool_mode: str = "transaction", pool_size: int = 20):
        self.dir = Path(tempfile.mkdtemp(prefix="drill-pgbouncer-"))
        self.port = free_port()
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.dir / 'users.txt'}\nadmin_users = postgres\n"
            f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\npidfile = {self.dir / 'pgbouncer.pid'}\n")
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            for path in (self.dir, *self.dir.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self) -> "ThrowawayPgBouncer":
        cmd = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.dir)
        wait_port(self.port, 15)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def show(self, what: str) -> list[dict]:
        """``SHOW <what>`` on the admin console (pools, databases, stats)."""
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(f"{self.url}/pgbouncer", autocommit=True, prepare_threshold=None,
                             row_factory=dict_row) as conn:
            return conn.execute(f"SHOW {what}").fetchall()

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""
