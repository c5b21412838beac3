"""Fixtures shared by the end-to-end modules."""
from __future__ import annotations

import pytest
import requests


@pytest.fixture(scope="module")
def strict_gateway(env, system):
    """A second gateway replica on the same system with small limits, behind one trusted proxy (so
    each test can be its own client address via X-Forwarded-For)."""
    from tests.support.world import free_port

    port = free_port()
    system.start("gateway-strict", system.commands["gateway"], env={
        "GATEWAY_PORT": str(port), "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "4",
        "RATE_WRITES_PER_PERSON": "3", "RATE_WRITES_PER_ADDRESS": "6", "RATE_LOGINS_PER_ADDRESS": "3",
        "RATE_WINDOW_SECONDS": "86400", "FORWARDED_PROXIES": "1",
        "PROMETHEUS_MULTIPROC_DIR": env.vars["PROMETHEUS_MULTIPROC_DIR"] + "-strict"})
    base = f"http://127.0.0.1:{port}"
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    yield base
    system.stop("gateway-strict")
