"""What every fault drill shares (docs/drills.md): Jepsen's way of scoring a run — of what
was expected, how much was lost, duplicated, or appeared without being asked for — and an SMTP
server the drill can make answer 421/451/550 for chosen recipients."""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from nameko.standalone.rpc import ClusterRpcProxy

from chassis.db import ensure_database, make_engine
from chassis.settings import Settings
from tests.support import probe
from tests.support.cluster import ROOT, Cluster


@dataclass
class Score:
    name: str
    lost: int
    duplicated: int
    unexpected: int
    expected: int

    def line(self) -> str:
        return f"drill {self.name}: expected={self.expected} lost={self.lost} duplicated={self.duplicated} " \
               f"unexpected={self.unexpected}"


def score(name: str, expected: set, got: list) -> Score:
    """``got`` holds one item per effect seen (e-mail received, row written); duplicates count each
    repeat of an expected item, unexpected each item nobody asked for."""
    seen = Counter(got)
    result = Score(name, lost=len(expected - set(seen)),
                   duplicated=sum(n - 1 for k, n in seen.items() if k in expected),
                   unexpected=sum(n for k, n in seen.items() if k not in expected), expected=len(expected))
    print(result.line())
    return result


def wait_for(predicate, seconds: float = 30, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class DrillSmtp:
    """An aiosmtpd server recording ``(recipient, Message-ID)`` per accepted message. ``script``
    maps a recipient to replies given to its RCPT in turn (then 250); a reply starting with 5 is
    given for ever (a permanent refusal is never retried)."""

    def __init__(self, port: int):
        self.port = port
        self.received: list[tuple[str, str]] = []
        self.refused: Counter = Counter()
        self.script: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    def start(self) -> "DrillSmtp":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            replies = self.script.get(address)
            if replies:
                reply = replies[0] if replies[0].startswith("5") else replies.pop(0)
                self.refused[address] += 1
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, str(msg["Message-ID"])))
        return "250 Message accepted for delivery"

    def to(self, suffix: str) -> list[str]:
        """Recipients of accepted messages whose address ends with ``suffix`` (one per message)."""
        with self._lock:
            return [rcpt for rcpt, _ in self.received if rcpt.endswith(suffix)]


PROBE = "tests.support.probe:ProbeService"


class Load:
    """One client creating probe items one after another, reconnecting after any failure."""

    def __init__(self, amqp_uri: str, prefix: str, timeout: float = 5):
        self.amqp_uri, self.prefix, self.timeout = amqp_uri, prefix, timeout
        self.acked: list[str] = []
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                with ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=self.timeout) as rpc:
                    while not self._stop.is_set():
                        n += 1
                        name = f"{self.prefix}-{n}"
                        try:
                            rpc.probe.create_item(name)
                        except Exception:
                            self.failed.append(name)
                            raise
                        self.acked.append(name)
                        time.sleep(0.02)
            except Exception:
                time.sleep(0.3)

    def start(self) -> "Load":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def start_probe(env, amqp_uri: str, database_url: str, name: str = "probe", rpc_uri: str | None = None,
                **extra) -> Cluster:
    settings = Settings(amqp_uri=amqp_uri, database_url=database_url, db_prefix=env.db_prefix)
    ensure_database("probe", settings)
    engine = make_engine("probe", settings)
    probe.create_schema(engine)
    engine.dispose()
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, "")
    start_probe_process(cluster, amqp_uri, database_url, name, rpc_uri, **extra)
    return cluster


def start_probe_process(cluster: Cluster, amqp_uri: str, database_url: str, name: str = "probe",
                        rpc_uri: str | None = None, **extra) -> None:
    cluster.start(name, [*cluster.commands["registry"][:-1], PROBE],
                  env={"AMQP_URI": amqp_uri, "DATABASE_URL": database_url, "EVENT_MAX_ATTEMPTS": "3",
                       **{k: str(v) for k, v in extra.items()}})
    with ClusterRpcProxy({"AMQP_URI": rpc_uri or amqp_uri}, timeout=10) as rpc:
        cluster.wait_rpc(rpc, "probe", 60)


def effects(amqp_uri: str, prefix: str) -> list[str] | None:
    """The probe's effects under ``prefix`` (an empty list is an answer too), or None if the probe
    did not answer for 30 s."""
    def read():
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as rpc:
                return ([e["name"] for e in rpc.probe.effects() if e["name"].startswith(prefix + "-")],)
        except Exception:
            return None
    answer = wait_for(read, 30)
    return answer[0] if answer else None


def settle_and_score(name: str, amqp_uri: str, load: Load, prefix: str):
    """Wait until every acknowledged item has its effect (or 60 s), then score."""
    want = set(load.acked)
    wait_for(lambda: want <= set(effects(amqp_uri, prefix) or []), 60, 0.5)
    time.sleep(1.0)  # a duplicate would land now
    got = effects(amqp_uri, prefix)
    assert got is not None, f"{name}: the probe did not answer its effects RPC for 30 s after the load"
    refused = set(load.failed)
    # a refused call may or may not have taken effect (the caller was told it failed), but never twice
    s = score(name, want | (refused & set(got)), got)
    print(f"  ({len(load.acked)} calls acknowledged, {len(refused)} refused to the caller, "
          f"{len(refused & set(got))} of those took effect)")
    return s
