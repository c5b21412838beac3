"""schemathesis as a signed-in resident on share 2 of 2 of the operations (tests/support/fuzzing.py), but
those ending the resident's own session; the other share is tests/e2e/test_fuzz_resident_1.py
(a file of its own, so pytest-xdist runs the two at once)."""
import pytest

from tests.support.fuzzing import fuzz_share

pytestmark = pytest.mark.system


def test_resident_calls_answer_as_documented(system):
    fuzz_share(system.base_url, "resident", 1)
