"""The system's processes: ``chassis.testing.cluster``, shared with the benchmarks."""
from chassis.testing.cluster import *  # noqa: F401,F403
