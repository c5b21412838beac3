"""schemathesis as a signed-in resident on every operation but those ending the resident's own session
(tests/support/fuzzing.py)."""
from __future__ import annotations

import pytest

from tests.support.api import dev_login
from tests.support.fuzzing import SELF_ENDING, fuzz

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def resident(system) -> dict:
    return dev_login(system.base_url, full_name="Фазер Тестовий Резидент").headers()


def test_resident_calls_answer_as_documented(system, resident):
    failures = fuzz(system.base_url, resident, SELF_ENDING)
    assert not failures, "\n\n".join(failures)
