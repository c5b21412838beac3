"""The chassis-only probe service (chassis/testing/probe.py), under the name the tests start it by."""
from chassis.testing.probe import *  # noqa: F401,F403
from chassis.testing.probe import metadata  # noqa: F401
