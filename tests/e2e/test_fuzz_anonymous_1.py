"""schemathesis as an anonymous caller on share 1 of 2 of the operations (tests/support/fuzzing.py);
the other share is tests/e2e/test_fuzz_anonymous_2.py, a file of its own so pytest-xdist runs the two at once."""
from __future__ import annotations

import pytest

from tests.support.fuzzing import fuzz, share

pytestmark = pytest.mark.system


def test_anonymous_calls_answer_as_documented(system):
    failures = fuzz(system.base_url, {}, only=share(0, 2))
    assert not failures, "\n\n".join(failures)
