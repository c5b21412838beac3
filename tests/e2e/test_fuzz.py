"""schemathesis against /openapi.json of the running test system: bounded, seeded
and derandomized, anonymous and as a resident; zero 5xx and every response as documented."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

from tests.support.consultations import close_now, open_consultation
from tests.support.waiting import eventually
from tests.support.api import Caller, dev_login

pytestmark = pytest.mark.system

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
# ending the fuzzing resident's own session would turn the rest of the run anonymous (the matrix covers them)
SELF_ENDING = {("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/me")}


@pytest.fixture(scope="module")
def resident(system) -> dict:
    return dev_login(system.base_url, full_name="Фазер Тестовий Резидент").headers()


FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


def fuzz(base_url: str, headers: dict, skip: set = frozenset(), only=None, path: dict | None = None,
         seen: dict | None = None) -> list[str]:
    """Every operation of the live document (or those ``only`` accepts), each with its own bounded,
    derandomized hypothesis run; ``path`` pins path parameters to real objects, ``seen`` collects the
    status codes per operation. Returns the failures
    (operation and the check that failed), so one run reports them all."""
    api = schemathesis.openapi.from_url(base_url + "/openapi.json")
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in skip or (only and not only(operation.path)):
            continue

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            if path:
                case.path_parameters = {**(case.path_parameters or {}), **{
                    k: v for k, v in path.items() if "{" + k + "}" in operation.path}}
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=15)
            if seen is not None:
                seen.setdefault(f"{operation.method.upper()} {operation.path}", set()).add(response.status_code)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected and reported together
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    return failures


def test_anonymous_calls_answer_as_documented(system):
    failures = fuzz(system.base_url, {})
    assert not failures, "\n\n".join(failures)


def test_resident_calls_answer_as_documented(system, resident):
    failures = fuzz(system.base_url, resident, SELF_ENDING)
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module")
def archived_report(env, system) -> tuple[str, dict]:
    """A consultation closed, its one proposal considered, its report published, then archived: the
    reports routes answer 200 with real bodies and files (random ids only reach their 404s)."""
    base = system.base_url
    official = dev_login(base, ["official"], unit="Відділ фазингу звітів", full_name="Фазер Звітів Посадовий")
    cid = open_consultation(official, title="Фазинг звітів")["id"]
    author = dev_login(base, full_name="Автор Фазингу Звітів")
    comment = author.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Пропоную освітлення доріжки"})
    assert comment.status_code == 201, comment.text
    assert eventually(lambda: Caller(base).get(f"/api/v1/consultations/{cid}/comments").json()["items"], seconds=15)
    close_now(env, cid)
    report = f"/api/v1/consultations/{cid}/report"
    assert eventually(lambda: official.get(report).status_code == 200, seconds=20)
    assert official.put(report + "/considerations", json={"comment_id": comment.json()["id"], "outcome": "accepted"}).ok
    assert official.put(report + "/conclusion", json={"conclusion": "Громада підтримує."}).ok
    assert official.post(report + "/publish").status_code == 202
    assert eventually(lambda: official.get(report + "/versions").json()["items"], seconds=20)
    assert official.post(f"/api/v1/consultations/{cid}/archive").status_code == 200
    assert eventually(lambda: Caller(base).get(f"/api/v1/consultations/{cid}/archive/manifest.sha256").ok, seconds=20)
    return cid, official.headers()


def test_reports_routes_on_a_real_report_answer_as_documented(system, archived_report):
    """Clause R-3.16."""
    cid, official = archived_report
    mine = lambda p: p.startswith("/api/v1/consultations/{consultation_id}/") and (  # noqa: E731
        "/report" in p or "/protocol" in p or "/archive/" in p)
    seen: dict[str, set[int]] = {}
    failures = [f"anonymous {f}" for f in fuzz(system.base_url, {}, only=mine, path={"consultation_id": cid})]
    failures += [f"owner {f}" for f in fuzz(system.base_url, official, only=mine, path={"consultation_id": cid},
                                            seen=seen)]
    assert not failures, "\n\n".join(failures)
    # the pinned id reached the real report: every read answered 200 at least once, writes 409 (archived)
    assert len(seen) == 19, seen
    assert all(200 in codes for op, codes in seen.items() if op.startswith("GET ")), seen
    assert all(409 in codes for op, codes in seen.items() if op.startswith(("PUT ", "POST "))), seen
