"""The gateway's session cache over the running system: reads make no registry round trip for a
known session, writes one (the rate limits' count), and a session revoked by logout or erasure is
refused within the stated bound (docs/identity.md, "Sessions") by every gateway worker."""
from __future__ import annotations

import re
import time

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

import chassis.errors  # noqa: F401  (typed errors deserialise to their classes)
from tests.support.api import dev_login

pytestmark = pytest.mark.system

BOUND_SECONDS = 1.0  # while the workers' listeners are connected (docs/identity.md)


def rpc_calls(system, method: str) -> float:
    """Registry calls of ``method`` made by all gateway workers so far (their summed metrics)."""
    text = requests.get(f"http://127.0.0.1:{system.env['GATEWAY_METRICS_PORT']}/metrics", timeout=5).text
    pattern = re.compile(r'^gateway_rpc_duration_seconds_count\{(?=[^}]*method="%s")(?=[^}]*service="registry")'
                         r'[^}]*\} (\S+)$' % method, re.M)
    return sum(float(v) for v in pattern.findall(text))


def refused_within(caller, seconds: float) -> float:
    """Polls ``GET /api/v1/me`` (a new connection each, so every worker answers) until ten 401s in
    a row; every request sent ``seconds`` or more after the revocation must be refused. Returns the
    seconds from the revocation to the last request still accepted (0: none was)."""
    started = time.monotonic()
    last_accepted, streak = 0.0, 0
    while streak < 10:
        sent = time.monotonic() - started
        assert sent < seconds + 10, "ten refusals in a row never came"
        status = caller.get("/api/v1/me").status_code
        assert status in (200, 401), status
        if status == 200:
            assert sent < seconds, f"a revoked session still accepted {sent:.2f} s after its revocation"
            last_accepted, streak = sent, 0
        else:
            streak += 1
    return last_accepted


def test_reads_of_a_known_session_make_no_registry_round_trip_and_writes_one(system):
    resident = dev_login(system.base_url, full_name="Читачка Кешу Сесій")
    # New connections, taken by whichever gateway worker accepts first: enough of them that every
    # worker has learnt the session (with two workers, 4 left one of them out about 1 time in 8).
    for _ in range(24):
        assert resident.get("/api/v1/me/notifications").status_code == 200
    before = rpc_calls(system, "resolve_session")
    for _ in range(12):
        assert resident.get("/api/v1/me/notifications").status_code == 200
    resolved = rpc_calls(system, "resolve_session") - before
    assert resolved == 0, f"{resolved:.0f} registry round trips for 12 reads of a known session"


def test_a_session_ended_by_logout_is_refused_by_every_worker_within_the_bound(system):
    resident = dev_login(system.base_url, full_name="Вихід Із Кешу")
    for _ in range(6):
        assert resident.get("/api/v1/me").status_code == 200
    assert resident.post("/api/v1/auth/logout").status_code == 204
    took = refused_within(resident, BOUND_SECONDS)
    print(f"logout: last request accepted {took * 1000:.0f} ms after it")


def test_an_erasure_made_behind_the_gateways_back_is_refused_within_the_bound(system):
    """The registry is called directly: only its ``person_erased`` event tells the gateways."""
    resident = dev_login(system.base_url, full_name="Стирання Повз Шлюз")
    for _ in range(6):
        assert resident.get("/api/v1/me").status_code == 200
    with ClusterRpcProxy({"AMQP_URI": system.env["AMQP_URI"]}, timeout=10) as rpc:
        rpc.registry.erase_me(resident.person_id)
    took = refused_within(resident, BOUND_SECONDS)
    print(f"erasure: last request accepted {took * 1000:.0f} ms after it")
