"""schemathesis against /openapi.json of the running test system (issue 8 item 3): bounded, seeded
and derandomized, anonymous and as a resident; zero 5xx and every response as documented."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

from tests.support.api import dev_login

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


def fuzz(base_url: str, headers: dict, skip: set = frozenset()) -> list[str]:
    """Every operation of the live document, each with its own bounded, derandomized hypothesis run;
    returns the failures (operation and the check that failed), so one run reports them all."""
    api = schemathesis.openapi.from_url(base_url + "/openapi.json")
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in skip:
            continue

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=15)

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
