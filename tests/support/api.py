"""Talking to the gateway as a signed-in person: ``chassis.testing.api``, shared with the benchmarks."""
from chassis.testing.api import *  # noqa: F401,F403
