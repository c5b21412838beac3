"""Where the tests find RabbitMQ and PostgreSQL: ``chassis.testing.infra``, shared with the benchmarks."""
from chassis.testing.infra import *  # noqa: F401,F403
