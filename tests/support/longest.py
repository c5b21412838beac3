"""The order `make test` hands test files to its pytest-xdist workers: the longest first.

`--dist loadfile` keeps each file on one worker and, with `--no-loadscope-reorder` (the Makefile),
hands the files out in collection order as workers free up. By default pytest-xdist orders them by
their number of tests, which puts the one-test files that run longest (the authorization matrix,
the schemathesis runs) last, so one worker ran them while the other two had nothing left to do.
Starting with the longest files (longest processing time first) leaves the short ones to fill in
at the end. The list holds the files that took longest in a whole run (per file, setup and teardown
included: `make test PYTEST_ARGS="--durations=0"`, summed by file, docs/testing.md); a file not
listed keeps its collection order after them. A listed file that no longer exists fails
`tests/unit/test_longest_first.py`.
"""
from __future__ import annotations

from pathlib import Path

LONGEST_FIRST = (
    "tests/e2e/test_authz_matrix.py",
    "tests/e2e/test_fuzz.py",
    "tests/e2e/test_fuzz_resident_1.py",
    "tests/e2e/test_web_pages.py",
    "tests/integration/test_observability.py",
    "tests/integration/test_lifecycle.py",
    "tests/e2e/test_hardening.py",
    "tests/integration/test_pgbouncer_replica.py",
    "tests/e2e/test_fuzz_resident_2.py",
    "tests/e2e/test_fuzz_anonymous_2.py",
    "tests/e2e/test_fuzz_anonymous_1.py",
    "tests/e2e/test_notifications.py",
    "tests/integration/test_webhooks.py",
    "tests/e2e/test_hardening_gateway.py",
    "tests/e2e/test_web_keyboard.py",
    "tests/e2e/test_you_said_we_did.py",
    "tests/e2e/test_registry.py",
    "tests/integration/test_ops_http.py",
    "tests/integration/test_broker_users.py",
    "tests/integration/test_demo.py",
    "tests/e2e/test_make_run.py",
    "tests/reports/test_groups.py",
    "tests/e2e/test_consultation_page.py",
)

ROOT = Path(__file__).resolve().parents[2]


def longest_first(items: list) -> None:
    """Sort the collected ``items`` in place: the listed files first, in the list's order; within a
    file, and among the files not listed, the collection order stays (the sort is stable)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.path)).resolve().relative_to(ROOT).as_posix(), len(rank)))
