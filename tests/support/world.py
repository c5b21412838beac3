"""One isolated world: ``chassis.testing.world``, shared with the benchmarks."""
from chassis.testing.world import *  # noqa: F401,F403
