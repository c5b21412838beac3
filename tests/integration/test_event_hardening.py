"""Events that cannot be read are parked, never dropped, and what is logged or kept about them holds
no input values (docs/hardening.md, "Services")."""
from __future__ import annotations

import uuid

from kombu import Connection, Queue

from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.events import make_envelope
from tests.support.bus import queue_depth
from tests.support import probe
from tests.support.drills import wait_for

QUEUE = "evt-probe-item_created--probe.on_item_created"
PHONE = "+380671234567"


def _dead(conn, count: int, seconds: float = 20) -> list:
    """``count`` messages taken from the handler's dead-letter queue (raw: never decoded here)."""
    got: list = []

    def take():
        while queue_depth(conn, f"{QUEUE}.dead"):
            got.append(Queue(f"{QUEUE}.dead", channel=conn.default_channel).get(no_ack=True))
        return len(got) >= count

    wait_for(take, seconds=seconds, step=0.3)
    return got


def test_undecodable_bodies_are_parked_with_a_reason_not_dropped(env, probe_world):  # noqa: F811
    bodies = [(b"\xff\xfe{not json at all", "application/json", "utf-8"),
              (b"\x00\x01 raw bytes", "application/x-bogus", "bogus-encoding"),
              (b"\x80\x81\x82", "text/plain", "utf-8")]
    with Connection(env.amqp_uri) as conn:
        producer = conn.Producer()
        for body, content_type, encoding in bodies:
            producer.publish(body, exchange=event_exchange("probe"), routing_key="item_created",
                             content_type=content_type, content_encoding=encoding, delivery_mode=2,
                             declare=[event_exchange("probe")])
        name = f"після-{uuid.uuid4().hex[:6]}"
        item = probe_world["rpc"].probe.create_item(name)  # the queue flows on after them
        assert wait_for(lambda: any(e["name"] == name for e in probe_world["rpc"].probe.effects()))
        parked = _dead(conn, len(bodies))
    assert item and len(parked) == len(bodies), probe_world["cluster"].logs("probe")[-3000:]
    assert sorted(m.body for m in parked) == sorted(b for b, _, _ in bodies)
    for m in parked:
        assert m.headers["x-econsult-error"].startswith("undecodable body: "), m.headers
    logs = probe_world["cluster"].logs("probe")
    assert "not json at all" not in logs and "raw bytes" not in logs  # the body is never logged


def test_an_invalid_event_is_logged_and_parked_with_field_names_and_types_only(env, probe_world):  # noqa: F811
    envelope = make_envelope(probe.ItemCreated(item_id=uuid.uuid4(), name="x")).model_dump(mode="json")
    envelope["data"] = {"item_id": f"подзвоніть {PHONE}", "name": {"phone": PHONE}}
    publisher = ConfirmingPublisher(env.amqp_uri)
    publisher.publish(envelope, exchange=event_exchange("probe"), routing_key="item_created")
    publisher.close()
    with Connection(env.amqp_uri) as conn:
        parked = _dead(conn, 1, seconds=30)
    assert len(parked) == 1
    error = parked[0].headers["x-econsult-error"]
    assert "item_id: uuid_parsing" in error and "name: string_type" in error, error
    assert PHONE not in error and "подзвоніть" not in error
    logs = probe_world["cluster"].logs("probe")
    assert "uuid_parsing" in logs and PHONE not in logs, logs[-3000:]
