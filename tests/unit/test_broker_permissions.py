"""The broker users' permission patterns (chassis.brokerusers) against the names the code really
declares: each service reaches its own queues and exchanges and no one else's (docs/kubernetes.md,
"Broker users"). The broker itself enforces them in tests/integration/test_broker_users.py."""
from __future__ import annotations

import re
import uuid

import pytest

from chassis import brokerusers
from chassis.app import all_service_classes
from chassis.settings import SERVICES
from chassis.topology import subscriptions_of

QUEUES = {cls.name: [q for b in subscriptions_of(cls) for q in (b.queue, f"{b.queue}.retry", f"{b.queue}.dead")]
          for cls in all_service_classes()}


def allowed(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ matches permissions unanchored, like re.search


def own_queues(service: str) -> list[str]:
    return [f"rpc-{service}", f"rpc.reply-{service}-{uuid.uuid4()}", *QUEUES[service]]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reaches_its_own_queues_and_exchanges(service):
    g = brokerusers.service_grant(service)
    for name in own_queues(service):
        assert allowed(g.configure, name) and allowed(g.write, name) and allowed(g.read, name), name
    for exchange in ("nameko-rpc", f"{service}.events", f"{service}.retry"):
        assert allowed(g.write, exchange), exchange
    for source in brokerusers.sources_of(service):
        assert allowed(g.read, f"{source}.events") and allowed(g.configure, f"{source}.events")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reaches_nothing_of_another(service):
    g = brokerusers.service_grant(service)
    assert not allowed(g.write, "amq.default"), "the default exchange reaches every queue by name"
    for other in SERVICES:
        if other == service:
            continue
        assert not allowed(g.write, f"{other}.events"), f"{service} may not publish {other}'s events"
        assert not allowed(g.write, f"{other}.retry")
        for name in own_queues(other):
            assert not (allowed(g.configure, name) or allowed(g.write, name) or allowed(g.read, name)), \
                f"{service} reaches {other}'s {name}"


def test_the_city_system_template_reads_events_only_through_its_own_queues():
    g = brokerusers.city_grant("opendata")
    assert allowed(g.configure, "city-opendata.feed") and allowed(g.write, "city-opendata.feed")
    assert allowed(g.read, "consultations.events") and allowed(g.read, "city-opendata.feed")
    for name in ("consultations.events", "nameko-rpc", "amq.default", "city-other.feed", "rpc-registry",
                 *QUEUES["notifications"]):
        assert not allowed(g.write, name) and not allowed(g.configure, name), name
    for name in ("nameko-rpc", "rpc-registry", "city-other.feed", *QUEUES["notifications"]):
        assert not allowed(g.read, name), name
    with pytest.raises(ValueError):
        brokerusers.city_grant(".*")


def test_the_gateway_calls_rpc_and_only_listens_to_the_registrys_events():
    g = brokerusers.gateway_grant()
    assert allowed(g.write, "nameko-rpc") and allowed(g.read, f"rpc.reply-standalone_rpc_proxy-{uuid.uuid4()}")
    for s in SERVICES:
        assert not allowed(g.write, f"{s}.events") and not allowed(g.read, f"rpc-{s}")
        assert not allowed(g.configure, f"{s}.events")
        assert allowed(g.read, f"{s}.events") == (s == "registry")  # the session cache's invalidations
    own = f"gateway-sessions-{uuid.uuid4()}"
    assert allowed(g.configure, own) and allowed(g.write, own) and allowed(g.read, own)
    assert not allowed(g.configure, "gateway-sessions-x") and not allowed(g.read, "evt-registry-person_erased--x.y")
