"""Outbox, relay and consumers over the real bus and database (issue: Foundation, acceptance)."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from kombu import Connection, Queue

import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.db import Db, make_engine
from chassis.events import Envelope, binding_keys, make_envelope
from chassis.outbox import unpublished_count
from tests.support import probe
from tests.support.drills import wait_for
from tests.support.bus import Tap, queue_depth


def test_event_committed_while_broker_unreachable_goes_out_when_it_returns(env, probe_world):
    tap = Tap(env.amqp_uri, "probe", "item_created")
    engine, proxy = probe_world["engine"], probe_world["proxy"]
    proxy.stop()
    try:
        with Db(engine).transaction() as session:
            item_id = probe.create_item(session, "під час розриву")
        time.sleep(2.0)
        assert unpublished_count(engine) == 1, "the event must wait in the outbox"
        assert tap.drain(0.5) == []
    finally:
        proxy.start()
    bodies = tap.drain(30, until=1)
    assert len(bodies) == 1, probe_world["cluster"].logs("probe")[-2000:]
    env_ = Envelope.model_validate(bodies[0])
    assert env_.type == "item_created" and env_.data["item_id"] == str(item_id)
    assert wait_for(lambda: unpublished_count(engine) == 0)
    tap.close()


def test_redelivered_event_has_effect_once(env, probe_world):
    rpc = probe_world["rpc"]
    before = len(rpc.probe.effects())
    envelope = make_envelope(probe.ItemCreated(item_id=uuid.uuid4(), name="двічі")).model_dump(mode="json")
    publisher = ConfirmingPublisher(env.amqp_uri)
    for _ in range(2):
        publisher.publish(envelope, exchange=event_exchange("probe"), routing_key="item_created")
    publisher.close()
    assert wait_for(lambda: len(rpc.probe.effects()) > before)
    time.sleep(1.0)  # give the second copy every chance to be (wrongly) applied
    mine = [e for e in rpc.probe.effects() if e["event_id"] == envelope["event_id"]]
    assert len(mine) == 1


def test_a_type_in_two_versions_goes_out_once_per_version_and_each_consumer_takes_its_own(env, probe_world):
    """docs/events.md, "A new version": the publisher names version 2; the outbox carries the fact in
    version 1 too (two envelopes, two ids); a handler subscribed to version 1 sees only the v1 one
    and a handler of version 2 only the v2 one, each once."""
    tap = Tap(env.amqp_uri, "probe", "item_renamed.*")
    rpc = probe_world["rpc"]
    rpc.probe.rename_item("Сквер")
    bodies = tap.drain(15, until=2)
    assert sorted((b["version"], sorted(b["data"])) for b in bodies) == [
        (1, ["item_id", "name"]), (2, ["display_name", "item_id", "slug"])]
    assert len({b["event_id"] for b in bodies}) == 2 and len({b["data"]["item_id"] for b in bodies}) == 1
    ids = {b["version"]: b["event_id"] for b in bodies}
    assert wait_for(lambda: {e["event_id"] for e in rpc.probe.effects()} >= set(ids.values()))
    time.sleep(1.0)  # a handler that took the other version too would have written it by now
    mine = sorted((e["event_id"], e["name"]) for e in rpc.probe.effects() if e["event_id"] in ids.values())
    assert mine == sorted([(ids[1], "v1:Сквер"), (ids[2], "v2:сквер")])
    tap.close()


def test_while_a_type_has_two_versions_each_consumer_queue_receives_only_its_own_and_a_plain_key_reaches_all(
        env, probe_world):
    """docs/events.md, "A new version": each version goes out under its own routing key
    (``item_renamed.v1``, ``….v2``), so a queue bound as a handler of one version is handed only
    that version (no delivery of the other to acknowledge unhandled), and one bound for every
    version both. An envelope under the plain type (a publisher from before, during an upgrade)
    still reaches all of them."""
    taps = {v: Tap(env.amqp_uri, "probe", binding_keys("item_renamed", v)) for v in (1, 2, None)}
    probe_world["rpc"].probe.rename_item("Парк")
    for version, want in ((1, [1]), (2, [2]), (None, [1, 2])):
        got = taps[version].drain(15, until=len(want))
        taps[version].drain(0.5)  # a wrongly routed envelope would land by now
        assert sorted(b["version"] for b in taps[version].drain(0)) == want, f"bound for version {version}"
        assert [m.delivery_info["routing_key"] for _, m in taps[version].messages] == [
            f"item_renamed.v{b['version']}" for b in got]
    older = make_envelope(probe.ItemRenamed(item_id=uuid.uuid4(), name="Сад")).model_dump(mode="json")
    publisher = ConfirmingPublisher(env.amqp_uri)
    publisher.publish(older, exchange=event_exchange("probe"), routing_key="item_renamed")
    publisher.close()
    for tap in taps.values():
        assert older["event_id"] in [b["event_id"] for b in tap.drain(15, where=lambda b: b["event_id"] == older["event_id"],
                                                                       until=1)]
        tap.close()


def test_plain_kombu_consumer_receives_and_parses_a_service_event(env, probe_world):
    tap = Tap(env.amqp_uri, "probe", "item_created")
    item_id = probe_world["rpc"].probe.create_item("через RPC")
    bodies = tap.drain(10, until=1)
    assert len(bodies) == 1
    body, message = tap.messages[0]
    assert message.content_type == "application/json"
    assert message.delivery_info["exchange"] == "probe.events"
    assert message.delivery_info["routing_key"] == "item_created"
    assert message.properties.get("delivery_mode") == 2
    envelope = Envelope.model_validate(body)
    data = probe.ItemCreated.model_validate(envelope.data)
    assert str(data.item_id) == item_id and data.name == "через RPC"
    assert set(json.loads(message.body)) == {"event_id", "type", "occurred_at", "version", "data"}
    tap.close()


def test_rolled_back_transaction_publishes_nothing(env, probe_world):
    tap = Tap(env.amqp_uri, "probe", "item_created")
    rpc, engine = probe_world["rpc"], probe_world["engine"]
    with pytest.raises(Exception):
        rpc.probe.create_item("відкочено", fail_after_write=True)
    with pytest.raises(RuntimeError):
        with Db(engine).transaction() as session:
            probe.create_item(session, "теж відкочено")
            raise RuntimeError("boom")
    rpc.probe.create_item("після відкату")  # proves the tap was listening
    tap.drain(10, until=1)
    tap.drain(1.0)
    names = [body["data"]["name"] for body, _ in tap.messages]
    assert names == ["після відкату"]
    tap.close()


def test_failing_handler_is_dead_lettered_and_others_flow_on(env, probe_world):
    poison_queue = "evt-probe-poison--probe.on_poison.dead"
    envelope = make_envelope(probe.Poison(note="отрута")).model_dump(mode="json")
    publisher = ConfirmingPublisher(env.amqp_uri)
    publisher.publish(envelope, exchange=event_exchange("probe"), routing_key="poison")
    publisher.close()
    item_id = probe_world["rpc"].probe.create_item("тече далі")
    assert wait_for(lambda: any(e["name"] == "тече далі" for e in probe_world["rpc"].probe.effects()))

    with Connection(env.amqp_uri) as conn:
        def dead_message():
            # a plain get: declaring it again without the topology's arguments (a quorum queue) is refused
            return Queue(poison_queue)(conn.default_channel).get(no_ack=True) if queue_depth(conn, poison_queue) else None
        msg = wait_for(dead_message, seconds=20, step=0.3)
        assert msg is not None, "the poison event must be parked in the dead-letter queue"
        assert msg.payload["event_id"] == envelope["event_id"]
        assert int(msg.headers["x-econsult-attempts"]) == 3
        assert "ValueError" in msg.headers["x-econsult-error"]
    assert item_id


def test_the_relays_line_carries_the_request_id_of_the_change(env, probe_world):
    """At DEBUG (the probe runs with LOG_LEVEL=DEBUG) the relay logs each event it published."""
    from chassis.log import set_request_id

    engine = probe_world["engine"]
    rid = f"rid-{uuid.uuid4().hex[:12]}"
    set_request_id(rid)
    try:
        with Db(engine).transaction() as session:
            probe.create_item(session, "з ідентифікатором запиту")
    finally:
        set_request_id(None)

    def published_line():
        for line in probe_world["cluster"].logs("probe").splitlines():
            if '"event published"' in line and rid in line:
                return json.loads(line)
        return None

    assert wait_for(lambda: published_line() is not None), probe_world["cluster"].logs("probe")[-2000:]
    assert published_line()["request_id"] == rid


def test_the_relay_publishes_a_commit_at_once_one_statement_and_one_confirm_wait_per_batch(env, probe_world):
    """The events of a committed transaction go out from the relay's own engine with one claiming
    statement and one wait for the broker's confirms, however many there are; a rolled-back
    transaction hands it nothing."""
    from sqlalchemy import event

    from chassis.outbox import OutboxRelay

    settings = env.settings()
    relay_engine = make_engine("probe", settings, relay=True)
    relay = OutboxRelay(relay_engine, env.amqp_uri, "probe", poll_seconds=60)
    statements, waits = [], []
    event.listen(relay_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    publish_many = relay.publisher.publish_many
    relay.publisher.publish_many = lambda messages: (waits.append(len(messages)), publish_many(messages))[1]
    tap = Tap(env.amqp_uri, "probe", "item_created")
    try:
        db = Db(probe_world["engine"], relay)
        with pytest.raises(RuntimeError):
            with db.transaction() as session:
                probe.create_item(session, "відкочено до релею")
                raise RuntimeError("rolled back")
        assert not relay.fresh
        with db.transaction() as session:
            names = [f"партія {i}" for i in range(3)]
            for name in names:
                probe.create_item(session, name)
        assert len(relay.fresh) == 3
        assert relay._step(poll_due=False) == 3  # noqa: SLF001
        assert len(statements) == 1 and statements[0].lstrip().startswith("UPDATE outbox"), statements
        assert waits == [3]
        got = tap.drain(10, until=3, where=lambda b: b["data"]["name"].startswith("партія"))
        assert sorted(b["data"]["name"] for b in got) == names
    finally:
        relay.stop()
        relay_engine.dispose()
        tap.close()


def test_the_facts_of_one_change_go_into_the_outbox_in_one_statement_every_version_in_order(env, probe_world):
    """``add_events``: a change's facts, each in every version still published, are one INSERT;
    each fact's own envelope comes back, and the rows keep the order they were given in."""
    from sqlalchemy import event, text

    from chassis.outbox import add_events

    engine, statements = probe_world["engine"], []

    def count(conn, cursor, statement, *_):
        statements.append(statement)

    item = uuid.uuid4()
    event.listen(engine, "before_cursor_execute", count)
    try:
        with Db(engine).transaction() as session:
            own = add_events(session, [probe.ItemCreated(item_id=item, name="Сквер"),
                                       probe.ItemRenamedV2(item_id=item, display_name="Парк", slug="park")])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s.split()[:3] for s in statements if "outbox" in s] == [["INSERT", "INTO", "outbox"]]
    assert [(e.type, e.version) for e in own] == [("item_created", 1), ("item_renamed", 2)]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, envelope->>'version', envelope->'data' FROM outbox "
                                 "WHERE envelope->'data'->>'item_id' = :i ORDER BY id"), {"i": str(item)}).all()
    assert [(t, int(v)) for t, v, _ in rows] == [("item_created", 1), ("item_renamed", 2), ("item_renamed", 1)]
    assert rows[2][2] == {"item_id": str(item), "name": "Парк"}


def test_the_relay_skips_an_event_another_relay_holds_and_never_sends_it_twice(env, probe_world):
    """A row another instance's poller has claimed (locked) or sent is not published again."""
    from sqlalchemy import func

    from chassis.outbox import OutboxRelay, outbox

    engine = probe_world["engine"]
    relay_engine = make_engine("probe", env.settings(), relay=True)
    relay = OutboxRelay(relay_engine, env.amqp_uri, "probe", poll_seconds=60)
    tap = Tap(env.amqp_uri, "probe", "item_created")
    try:
        with Db(engine, relay).transaction() as session:
            probe.create_item(session, "у чужих руках")
        row = relay.fresh[0]
        with engine.begin() as other:  # another relay claims the row, publishes it, marks it sent
            other.execute(outbox.select().where(outbox.c.event_id == row.event_id).with_for_update())
            assert relay._step(poll_due=False) == 0  # noqa: SLF001  (locked: skipped, no wait)
            other.execute(outbox.update().where(outbox.c.event_id == row.event_id)
                          .values(published_at=func.now()))
        relay.submit([row])
        assert relay._step(poll_due=False) == 0  # noqa: SLF001  (sent already)
        assert tap.drain(1.5, where=lambda b: b["data"]["name"] == "у чужих руках") == []
    finally:
        relay.stop()
        relay_engine.dispose()
        tap.close()
