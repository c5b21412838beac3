"""Anonymous public reads cacheable, personal ones never (gateway/public_cache.py), and the nginx front
(deploy/nginx/default.conf, Debian's nginx: .ci/run installs it; these tests fail without it) keeping
them for a few seconds.

The session's gateway runs with PUBLIC_CACHE_SECONDS=0 (other tests read right after writing); this
module starts a second gateway of the same system, one worker, PUBLIC_CACHE_SECONDS=2, and nginx in
front of it."""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from chassis.workdays import local_today
from tests.e2e.test_consultations import FULL_NOTICE, draft_body
from tests.support.api import dev_login
from tests.support.cluster import Cluster
from chassis.testing.nginx import Nginx
from tests.support.world import free_port

pytestmark = pytest.mark.system

SECONDS = 2
UNIT = "Управління кешування"


@pytest.fixture(scope="module")
def gateway(system, env, tmp_path_factory):
    port = free_port()
    cluster = Cluster({**env.vars, "GATEWAY_PORT": str(port), "GATEWAY_WORKERS": "1",
                       "PUBLIC_CACHE_SECONDS": str(SECONDS), "GATEWAY_METRICS_PORT": str(free_port()),
                       "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics"))},
                      Path(env.vars["MAIL_DIR"]).parent.parent / "test-logs" / "public-cache",
                      f"http://127.0.0.1:{port}")
    cluster.start("gateway")
    try:
        cluster.wait_ready(60, path="/healthz")
        yield cluster.base_url
    finally:
        cluster.stop_all()


@pytest.fixture(scope="module")
def front(gateway):
    nginx = Nginx(free_port(), gateway.split("//", 1)[1]).start()
    try:
        yield nginx.base_url
    finally:
        nginx.stop()


@pytest.fixture(scope="module")
def objects(system):
    base = system.base_url
    official = dev_login(base, ["official"], unit=UNIT, full_name="Посадовець Кешу Тестович")
    body = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=20)).isoformat(), title="Кешована консультація")
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    assert official.post(f"/api/v1/consultations/{cid}/publish").status_code == 200
    hidden = official.post("/api/v1/consultations", json=draft_body(title="Прихована чернетка")).json()["id"]
    return {"cid": cid, "hidden": hidden, "official": official,
            "resident": dev_login(base, full_name="Мешканка Кешу Оксана")}


def is_public(r: requests.Response) -> bool:
    return "public" in r.headers.get("Cache-Control", "")


def max_age(r: requests.Response) -> int:
    return int(r.headers["Cache-Control"].split("max-age=")[1].split(",")[0])


def test_anonymous_reads_are_public_with_vary_and_personal_ones_never(gateway, objects):
    cid, resident = objects["cid"], objects["resident"]
    for path in (f"/consultations/{cid}", f"/api/v1/consultations/{cid}/page", f"/api/v1/consultations/{cid}",
                 f"/api/v1/consultations/{cid}/comments", "/api/v1/consultations", "/"):
        r = requests.get(gateway + path, timeout=15)
        assert r.status_code == 200 and is_public(r), (path, r.headers)
        assert 1 <= max_age(r) <= SECONDS, r.headers
        assert {"Authorization", "Cookie", "X-Api-Key"} <= {v.strip() for v in r.headers["Vary"].split(",")}
        assert "Set-Cookie" not in r.headers and r.headers.get("ETag")
        # a caller with a token, a session cookie or only the CSRF cookie: never public
        for personal in ({"headers": resident.headers()}, {"cookies": {"econsult_session": resident.token}},
                         {"cookies": {"econsult_csrf": "abc"}}):
            p = requests.get(gateway + path, timeout=15, **personal)
            assert p.status_code == 200 and not is_public(p), (path, personal, p.headers)
            assert "private" in p.headers["Cache-Control"] or "no-store" in p.headers["Cache-Control"], p.headers

    page = requests.get(f"{gateway}/api/v1/consultations/{cid}/page", timeout=15).json()
    assert page["consultation"]["id"] == cid and page["comments"]["items"] == [] and page["results"] is not None
    # the login page renders a CSRF token: personal even for an anonymous visitor
    login = requests.get(gateway + "/login", timeout=15)
    assert not is_public(login) and "econsult_csrf" in login.headers.get("Set-Cookie", "")


def test_hidden_consultation_stays_404_and_is_never_public(gateway, front, objects):
    hidden = objects["hidden"]
    for base in (gateway, front, front):
        for path in (f"/consultations/{hidden}", f"/api/v1/consultations/{hidden}/page",
                     f"/api/v1/consultations/{hidden}"):
            r = requests.get(base + path, timeout=15)
            assert r.status_code == 404 and not is_public(r), (base, path, r.headers)
            assert r.headers.get("X-Cache-Status") != "HIT"
    owner = objects["official"].get(f"/api/v1/consultations/{hidden}/page")
    assert owner.status_code == 200 and not is_public(owner)
    assert requests.get(f"{gateway}/api/v1/consultations/{hidden}/page", timeout=15).status_code == 404


def test_a_worker_answers_from_its_copy_until_max_age_and_a_304_needs_no_render(gateway, objects):
    cid, resident = objects["cid"], objects["resident"]
    url = f"{gateway}/api/v1/consultations/{cid}/results"
    first = requests.get(url, timeout=15)
    assert is_public(first)
    before = first.json()["participants"]
    alternative = requests.get(f"{gateway}/api/v1/consultations/{cid}", timeout=15).json()["alternatives"][0]["id"]
    assert resident.post(f"/api/v1/consultations/{cid}/responses", json={"alternative_id": alternative}).status_code == 200

    kept = requests.get(url, timeout=15)  # within max-age: the worker's copy, no RPC
    assert kept.json()["participants"] == before and kept.headers["ETag"] == first.headers["ETag"]
    revalidated = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=15)
    assert revalidated.status_code == 304 and revalidated.content == b"" and is_public(revalidated)
    # a client asking to revalidate gets it from the service
    assert requests.get(url, headers={"Cache-Control": "no-cache"}, timeout=15).json()["participants"] == before + 1
    assert resident.get(f"/api/v1/consultations/{cid}/results").json()["participants"] == before + 1
    time.sleep(SECONDS + 0.2)
    fresh = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=15)
    assert fresh.status_code == 200 and fresh.json()["participants"] == before + 1


def test_nginx_micro_caches_anonymous_reads_and_bypasses_sessions(front, objects):
    cid, resident = objects["cid"], objects["resident"]
    path = f"{front}/consultations/{cid}?from=nginx-test"
    statuses = [requests.get(path, timeout=15).headers.get("X-Cache-Status") for _ in range(3)]
    assert statuses[0] in ("MISS", "EXPIRED") and statuses[1:] == ["HIT", "HIT"], statuses

    with_session = requests.get(path, cookies={"econsult_session": resident.token}, timeout=15)
    assert with_session.headers["X-Cache-Status"] == "BYPASS" and not is_public(with_session)
    assert "Вийти" in with_session.text  # the logged-in view, not the cached anonymous page
    bearer = requests.get(f"{front}/api/v1/consultations/{cid}/page?from=nginx-test", headers=resident.headers(),
                          timeout=15)
    assert bearer.headers["X-Cache-Status"] == "BYPASS" and not is_public(bearer)
    # what a logged-in caller fetched was not stored: the next anonymous read is still the anonymous page
    anonymous = requests.get(path, timeout=15)
    assert anonymous.headers["X-Cache-Status"] == "HIT" and "Вийти" not in anonymous.text
    # the CSRF-bearing login page is never kept
    assert [requests.get(front + "/login", timeout=15).headers.get("X-Cache-Status") for _ in range(2)] == ["MISS", "MISS"]
