"""schemathesis against /openapi.json of a running test system: bounded, seeded and derandomized, each
operation its own hypothesis run; zero 5xx and every response as documented (tests/e2e/test_fuzz*.py)."""
from __future__ import annotations

import zlib

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.support.api import dev_login

MAX_EXAMPLES = 16  # per operation and caller: the suite's time budget (docs/testing.md)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
# ending the fuzzing resident's own session would turn the rest of the run anonymous (the matrix covers them)
SELF_ENDING = {("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/me")}


def share(part: int, parts: int):
    """Paths split into ``parts`` fixed shares (by a hash of the path), so that several test files, each
    on its own pytest-xdist worker, fuzz every operation once between them."""
    return lambda path: zlib.crc32(path.encode()) % parts == part


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


def fuzz_share(base_url: str, who: str, part: int, parts: int = 2) -> None:
    """One share of the operations as ``who`` ("anonymous", or "resident": signed in, the operations
    ending the resident's own session left out); fails listing every operation that failed."""
    if who == "resident":
        headers, skip = dev_login(base_url, full_name="Фазер Тестовий Резидент").headers(), SELF_ENDING
    else:
        headers, skip = {}, frozenset()
    failures = fuzz(base_url, headers, skip, only=share(part, parts))
    assert not failures, "\n\n".join(failures)
