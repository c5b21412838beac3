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


@event("probe", "item_renamed")
class ItemRenamed(EventData):
    """Version 1: the new name."""
    item_id: uuid.UUID
    name: str


@event("probe", "item_renamed", version=2)
class ItemRenamedV2(EventData):
    """Version 2, a breaking change: ``name`` became ``display_name`` and ``slug``."""
    item_id: uuid.UUID
    display_name: str
    slug: str

    def as_version(self, version: int) -> EventData:
        if version == 1:
            return ItemRenamed(item_id=self.item_id, name=self.display_name)
        return super().as_version(version)


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
    def rename_item(self, name: str) -> str:
        """One change, published in both versions of ``item_renamed`` (the publisher names only v2)."""
        with self.db.transaction() as session:
            env = add_event(session, ItemRenamedV2(item_id=uuid.uuid4(), display_name=name, slug=name.lower()))
        return str(env.event_id)

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

    @subscribe("probe", "item_renamed")  # version 1, the default
    def on_item_renamed_v1(self, payload):
        env, data = open_envelope(payload, ItemRenamed)
        with self.db.transaction() as session:
            if claim_event(session, "probe.on_item_renamed_v1", env.event_id):
                session.execute(effects.insert().values(event_id=env.event_id, name=f"v1:{data.name}"))

    @subscribe("probe", "item_renamed", version=2)
    def on_item_renamed_v2(self, payload):
        env, data = open_envelope(payload, ItemRenamedV2)
        with self.db.transaction() as session:
            if claim_event(session, "probe.on_item_renamed_v2", env.event_id):
                session.execute(effects.insert().values(event_id=env.event_id, name=f"v2:{data.slug}"))

    @subscribe("probe", "poison")
    def on_poison(self, payload):
        raise ValueError("this handler always fails")


def create_schema(engine) -> None:
    from chassis.outbox import chassis_metadata

    chassis_metadata.create_all(engine)
    metadata.create_all(engine)
