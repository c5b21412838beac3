"""A service instance's life as an orchestrator sees it (chassis.lifecycle, gateway.rpc): readiness
that pauses RPC while the instance's database is gone, a graceful stop on SIGTERM, quiet logs at
idle, and the gateway asking once more when a safe request was interrupted by a dying instance."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from chassis.errors import Unavailable
from tests.support.cluster import ROOT
from tests.support.tcpproxy import TcpProxy
from tests.support.world import destroy_world, free_port, make_world, migrate


@pytest.fixture(scope="module")
def world(infra):
    env = make_world(infra, READINESS_INTERVAL_SECONDS="0.5")
    migrate(env)
    yield env
    destroy_world(infra, env)


class Instance:
    def __init__(self, env, service: str, log_path, **extra):
        self.ops_port = free_port()
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chassis.run", service], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env={**env.vars, "OPS_PORT": str(self.ops_port), **{k: str(v) for k, v in extra.items()}})

    def readyz(self) -> int:
        try:
            return requests.get(f"http://127.0.0.1:{self.ops_port}/readyz", timeout=3).status_code
        except requests.RequestException:
            return 0

    def wait_status(self, status: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.readyz() != status:
            assert self.proc.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, f"/readyz never {status}: {self.text()[-3000:]}"
            time.sleep(0.2)

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self) -> list[dict]:
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"level": "RAW", "message": line})
        return out

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def test_an_instance_without_its_database_is_unready_and_takes_no_rpc(world, infra, tmp_path):
    """Two registry instances; one loses its database: its /readyz turns 503 and every RPC call is
    served by the other (without the gate about half would fail on the broken one)."""
    pg = infra.database_url.rsplit(":", 1)[1].split("/")[0]
    proxy = TcpProxy("127.0.0.1", int(pg)).start()
    broken = Instance(world, "registry", tmp_path / "a.log", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{proxy.port}",
                      DB_SILENCE_SECONDS="3")
    healthy = Instance(world, "registry", tmp_path / "b.log")
    try:
        broken.wait_status(200)
        healthy.wait_status(200)
        proxy.stop()
        broken.wait_status(503, 30)
        body = requests.get(f"http://127.0.0.1:{broken.ops_port}/readyz", timeout=3).json()
        assert body["checks"]["database"] != "ok" and body["checks"]["consumers"] == "ok"
        time.sleep(1.5)  # the gate's next turn cancels the RPC consumer
        failures = []
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=10) as rpc:
            for _ in range(20):
                try:
                    assert rpc.registry.health()["status"] == "ok"
                except Exception as exc:
                    failures.append(type(exc).__name__)
        assert failures == [], f"{len(failures)} of 20 calls reached the instance without a database"
        assert "RPC consumer paused" in broken.text()
        # the database comes back: the instance is ready and serves again
        proxy = TcpProxy("127.0.0.1", int(pg), listen_port=proxy.port).start()
        broken.wait_status(200, 60)
        time.sleep(1.5)
        assert "RPC consumer resumed" in broken.text()
    finally:
        proxy.stop()
        broken.end()
        healthy.end()


def test_sigterm_finishes_in_flight_workers_logs_and_exits_0(world, tmp_path):
    inst = Instance(world, "registry", tmp_path / "r.log", SHUTDOWN_GRACE_SECONDS="10")
    try:
        inst.wait_status(200)
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=15) as rpc, ThreadPoolExecutor(4) as ex:
            calls = [ex.submit(lambda: rpc.registry.health(0.5)) for _ in range(1)]  # one worker in flight when SIGTERM arrives
            time.sleep(0.25)
            inst.proc.send_signal(signal.SIGTERM)
            replies = [c.result() for c in calls]
        assert all(r["status"] == "ok" for r in replies)
        assert inst.proc.wait(20) == 0
        messages = [line.get("message", "") for line in inst.lines()]
        assert any(m.startswith("stopping (SIGTERM): 1 workers in flight") for m in messages), messages[-5:]
        assert any(m.startswith("stopped after 1 workers") for m in messages), messages[-5:]
    finally:
        inst.end()


def test_the_grace_period_bounds_a_stop(world, tmp_path):
    inst = Instance(world, "registry", tmp_path / "r.log", SHUTDOWN_GRACE_SECONDS="0.1")
    try:
        inst.wait_status(200)
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=3) as rpc:
            threading.Thread(target=lambda: _ignore(lambda: rpc.registry.health(0.5)), daemon=True).start()
            time.sleep(0.2)
            started = time.monotonic()
            inst.proc.send_signal(signal.SIGTERM)
            assert inst.proc.wait(10) == 0
        assert time.monotonic() - started < 3
        assert "killing 1 unfinished workers" in inst.text()
    finally:
        inst.end()


def _ignore(fn):
    try:
        fn()
    except Exception:
        pass


def test_an_idle_instance_writes_nothing_at_info(world, tmp_path):
    """Timer ticks that did nothing log at DEBUG (the notifications timer ticks every second)."""
    inst = Instance(world, "notifications", tmp_path / "n.log")
    try:
        inst.wait_status(200)
        time.sleep(1.0)
        before = len(inst.lines())
        time.sleep(4.0)
        later = inst.lines()[before:]
        assert [line for line in later if line.get("level") != "DEBUG"] == []
        assert all(line["level"] != "RAW" for line in inst.lines()), "every line is JSON"
    finally:
        inst.end()


def test_the_gateway_asks_once_more_when_a_safe_request_was_interrupted(world, tmp_path):
    """An instance dies holding an RPC request; the next instance refuses the redelivered request
    (at most once) with request_interrupted: inside a GET the pool asks again and gets the answer,
    inside a POST the caller gets the 503."""
    from gateway.app import create_app
    from gateway.rpc import RpcPool

    app = create_app(world.settings())
    for method, expect_retry in (("GET", True), ("POST", False)):
        first = Instance(world, "registry", tmp_path / f"first-{method}.log")
        second = None
        try:
            first.wait_status(200)
            pool = RpcPool(world.amqp_uri, 30)
            outcome = {}

            def call():
                with app.test_request_context("/x", method=method):
                    try:
                        outcome["reply"] = pool.call("registry", "health", 0.5)
                    except Unavailable as exc:
                        outcome["error"] = exc.code

            caller = threading.Thread(target=call)
            caller.start()
            time.sleep(0.25)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)
            second = Instance(world, "registry", tmp_path / f"second-{method}.log")
            caller.join(40)
            if expect_retry:
                assert outcome.get("reply", {}).get("status") == "ok", outcome
            else:
                assert outcome.get("error") == "request_interrupted", outcome
            pool.close()
        finally:
            first.end()
            if second is not None:
                second.end()


def test_the_gateway_logs_json_and_drains_on_sigterm(world, tmp_path):
    """gunicorn's own lines are JSON like the app's; on SIGTERM a request in hand still gets its
    answer (here /readyz/registry waiting for a registry that is not running) and gunicorn exits 0."""
    port = free_port()
    log_path = tmp_path / "gateway.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**world.vars, "GATEWAY_PORT": str(port), "SHUTDOWN_GRACE_SECONDS": "10"})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()[-2000:]
                time.sleep(0.3)
            answer = {}
            slow = threading.Thread(target=lambda: answer.update(
                r=requests.get(base + "/readyz/registry", timeout=20)))
            slow.start()
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            slow.join(20)
            assert answer["r"].status_code == 503 and answer["r"].json()["code"] == "not_ready"
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]  # all JSON
    assert any(line["logger"] == "gunicorn.error" and "Handling signal: term" in line["message"] for line in lines)
    assert not any(line["logger"] == "gunicorn.access" for line in lines)
