"""schemathesis as an anonymous caller on share 1 of 2 of the operations (tests/support/fuzzing.py);
the other share is tests/e2e/test_fuzz_anonymous_2.py
(a file of its own, so pytest-xdist runs the two at once)."""
import pytest

from tests.support.fuzzing import fuzz_share

pytestmark = pytest.mark.system


def test_anonymous_calls_answer_as_documented(system):
    fuzz_share(system.base_url, "anonymous", 0)
