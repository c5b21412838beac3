"""The walking skeleton through the running gateway (issue: Foundation, acceptance)."""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from chassis.settings import SERVICES

pytestmark = pytest.mark.system


def test_readyz_all_reports_the_bus_and_every_service(system):
    r = requests.get(system.base_url + "/readyz?services=all", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"bus", *SERVICES}
    assert all(c["status"] == "ok" for c in body["checks"].values())


def test_stopping_one_service_makes_readyz_all_503_naming_it_but_keeps_the_gateway_ready(system):
    """A down service takes no gateway replica out of service: its readiness is the bus only."""
    system.stop("registry")
    try:
        gateway = requests.get(system.base_url + "/readyz", timeout=15)
        assert gateway.status_code == 200, gateway.text
        assert set(gateway.json()["checks"]) == {"bus"}
        r = requests.get(system.base_url + "/readyz?services=all", timeout=15)
        assert r.status_code == 503
        assert r.headers["Content-Type"].startswith("application/problem+json")
        problem = r.json()
        assert "registry" in problem["detail"]
        assert [e["field"] for e in problem["errors"]] == ["registry"]
        assert r.headers["Retry-After"]
    finally:
        system.start("registry")
    assert system.wait_ready(60) < 60


def test_healthz_answers_without_rpc(system):
    r = requests.get(system.base_url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_request_id_travels_to_the_service_log(system):
    rid = "test-" + uuid.uuid4().hex[:12]
    r = requests.get(system.base_url + "/api/v1/categories", headers={"X-Request-ID": rid}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-ID"] == rid
    items = r.json()["items"]
    assert [c["code"] for c in items] == list(range(1, 23))
    assert items[16]["title"] == "Зміни тарифів на проїзд у громадському транспорті"
    deadline = time.monotonic() + 5
    while rid not in system.logs("consultations") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f'"request_id": "{rid}"' in system.logs("consultations")
    assert f'"request_id": "{rid}"' in system.logs("gateway")


def test_unknown_route_is_a_problem_json(system):
    r = requests.get(system.base_url + "/api/v1/nothing-here", timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["title"] == "Не знайдено"
    assert r.json()["request_id"] == r.headers["X-Request-ID"]


def test_openapi_and_offline_docs(system):
    spec = requests.get(system.base_url + "/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.")
    assert "/metrics" not in spec["paths"]  # on GATEWAY_METRICS_PORT, off the public port
    for path in ("/healthz", "/readyz", "/api/v1/categories"):
        assert path in spec["paths"], path
    cat = spec["paths"]["/api/v1/categories"]["get"]["responses"]["200"]
    assert cat["content"]["application/json"]["schema"]["$ref"].endswith("/CategoryList")
    assert "Category" in spec["components"]["schemas"]
    page = requests.get(system.base_url + "/docs", timeout=5)
    assert page.status_code == 200 and 'lang="uk"' in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/init.js"):
        assert asset in page.text or asset == "/docs/assets/swagger-ui.css"
        r = requests.get(system.base_url + asset, timeout=5)
        assert r.status_code == 200 and len(r.content) > 40, asset


def test_metrics_count_requests_across_workers(system):
    for _ in range(6):
        requests.get(system.base_url + "/api/v1/categories", timeout=5)
    assert requests.get(system.base_url + "/metrics", timeout=5).status_code == 404
    text = requests.get(f"http://127.0.0.1:{system.env['GATEWAY_METRICS_PORT']}/metrics", timeout=5).text
    line = next(l for l in text.splitlines() if l.startswith("gateway_http_requests_total{")
                and 'route="/api/v1/categories"' in l and 'status="200"' in l)
    assert float(line.rsplit(" ", 1)[1]) >= 6
    assert "gateway_rpc_duration_seconds_bucket" in text


def test_a_dead_service_is_a_clear_503_within_the_timeout_and_recovers(system):
    system.stop("consultations")
    try:
        started = time.monotonic()
        r = requests.get(system.base_url + "/api/v1/categories", timeout=30)
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "service_unavailable" and "consultations" in r.json()["detail"]
        assert took < 4 + 2, f"answered after {took:.1f} s, RPC_TIMEOUT is 4 s"
    finally:
        system.start("consultations")
    system.wait_ready(60)
    assert requests.get(system.base_url + "/api/v1/categories", timeout=10).status_code == 200
