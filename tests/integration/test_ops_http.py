"""Per-instance operations endpoints of a service process (/livez, /readyz, /metrics)."""
from __future__ import annotations

import subprocess
import sys
import time

import requests

from chassis.ops_http import add_check, ops_app, remove_check
from tests.support.cluster import ROOT
from tests.support.world import free_port, make_world, destroy_world, migrate


def call(app, path):
    seen = {}

    def start_response(status, headers):
        seen["status"] = int(status.split()[0])

    body = b"".join(app({"PATH_INFO": path}, start_response))
    return seen["status"], body


def test_readyz_names_the_failing_check_and_livez_stays_up():
    app = ops_app("probe")
    add_check("broken", lambda: "database unreachable: OperationalError")
    try:
        status, body = call(app, "/readyz")
        assert status == 503 and b"broken" in body and b"not_ready" in body
        assert call(app, "/livez")[0] == 200
    finally:
        remove_check("broken")
    assert call(app, "/readyz")[0] == 200


def test_a_running_service_instance_serves_its_ops_endpoints(infra, tmp_path):
    env = make_world(infra)
    migrate(env)
    port = free_port()
    log = open(tmp_path / "registry.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "chassis.run", "registry"], cwd=ROOT,
                            env={**env.vars, "OPS_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if r.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "registry.log").read_text()[-2000:]
            time.sleep(0.3)
        assert r.json()["checks"]["database"] == "ok"
        assert requests.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        assert metrics.status_code == 200 and "python_info" in metrics.text
    finally:
        proc.terminate()
        proc.wait(30)
        destroy_world(infra, env)
