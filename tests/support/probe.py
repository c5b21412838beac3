"""A test-only service built on the chassis alone, to prove the outbox, the relay, idempotent
consumption and dead-lettering without any domain code."""
from __future__ import annotations

import uuid

from nameko.rpc import rpc
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, select

from chassis.consumer import claim_event, subscribe
from chassis.events import EventData, event, open_envelope
from chassis.outbox import add_event
from chassis.service import BaseService

metadata = MetaData()
items = Table("probe_items", metadata, Column("id", Uuid, primary_key=True),
              Column("name", String(100), nullable=False))
effects = Table("probe_effects", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("event_id", Uuid, nullable=False), Column("name", String(100)))


@event("probe", "item_created")
class ItemCreated(EventData):
    item_id: uuid.UUID
    name: str


@event("probe", "poison")
class Poison(EventData):
    note: str


def create_item(session, name: str) -> uuid.UUID:
    item_id = uuid.uuid4()
    session.execute(items.insert().values(id=item_id, name=name))
    add_event(session, ItemCreated(item_id=item_id, name=name))
    return item_id


class ProbeService(BaseService):
    name = "probe"

    @rpc
    def create_item(self, name: str, fail_after_write: bool = False) -> str:
        with self.db.transaction() as session:
            item_id = create_item(session, name)
            if fail_after_write:
                raise RuntimeError("failing on purpose after the write: nothing may be published")
        return str(item_id)

    @rpc
    def effects(self) -> list[dict]:
        with self.db.transaction() as session:
            return [{"event_id": str(r.event_id), "name": r.name}
                    for r in session.execute(select(effects))]

    @subscribe("probe", "item_created")
    def on_item_created(self, payload):
        env, data = open_envelope(payload, ItemCreated)
        with self.db.transaction() as session:
            if claim_event(session, "probe.on_item_created", env.event_id):
                session.execute(effects.insert().values(event_id=env.event_id, name=data.name))

    @subscribe("probe", "poison")
    def on_poison(self, payload):
        raise ValueError("this handler always fails")


def create_schema(engine) -> None:
    from chassis.outbox import chassis_metadata

    chassis_metadata.create_all(engine)
    metadata.create_all(engine)
