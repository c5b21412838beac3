"""Waiting on a condition: ``chassis.testing.waiting``, shared with the benchmarks."""
from chassis.testing.waiting import *  # noqa: F401,F403
