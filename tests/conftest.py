"""Test set-up: real RabbitMQ and PostgreSQL (local, or testcontainers where Docker exists),
isolated per run (own vhost, own database prefix), and the whole system started once per session
for the integration and end-to-end tests."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import chassis  # noqa: F401  (first: silences eventlet's import-time deprecation warning)
import chassis.rpcerrors  # noqa: F401  (RPC calls made by tests raise the typed errors)

from tests.support.fake_idp import FakeIdentityProvider
from tests.support.infra import Infra, discover
from tests.support.longest import longest_first
from tests.support.world import Env, destroy_world, make_world, start_system

# The deployment test (containers; minutes) is not part of `make test`: .ci/run runs it afterwards with
# DEPLOY_TEST=1 (`pytest tests/deploy -s`).
collect_ignore = [] if os.environ.get("DEPLOY_TEST") == "1" else ["deploy"]


COMMUNITY_CODE = "UA-TEST-COMMUNITY"
DRILLS = Path(__file__).resolve().parent / "drills"


def pytest_collection_modifyitems(items):
    """Every test under tests/drills/ is a fault drill: `make drills` runs them (`-m drill`), `make test`
    leaves them out (`-m "not drill"`); naming a drill's file on the command line runs it as well.
    The files that take longest come first (tests/support/longest.py)."""
    for item in items:
        if DRILLS in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.drill)
    longest_first(items)


@pytest.fixture(scope="session")
def infra():
    infra: Infra = discover()
    infra.sweep_stale()
    yield infra
    infra.stop()


@pytest.fixture(scope="session")
def make_env(infra):
    """Factory of isolated environments; everything it made is removed at the end of the session."""
    made: list[Env] = []

    def make(**extra) -> Env:
        made.append(make_world(infra, **extra))
        return made[-1]

    yield make
    for world in made:
        destroy_world(infra, world)


@pytest.fixture(scope="session")
def idp():
    """The fake national identity provider on loopback (the one outside party we cannot reach)."""
    provider = FakeIdentityProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def env(make_env, idp) -> Env:
    """The session's environment; the test process's own settings point at it too."""
    e = make_env(**idp.settings(), COMMUNITY_CODE=COMMUNITY_CODE)
    keys = ("AMQP_URI", "DATABASE_URL", "DB_PREFIX", "SMTP_PORT", "GATEWAY_PORT", "PUBLIC_URL")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: e.vars[k] for k in keys})
    from chassis.settings import get_settings

    get_settings.cache_clear()
    yield e
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def system(env):
    """Five services, the gateway and the SMTP catcher, started like `make run` does."""
    cluster = start_system(env)
    try:
        yield cluster
    finally:
        cluster.stop_all()
