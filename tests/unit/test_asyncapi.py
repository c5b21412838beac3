"""docs/asyncapi.yaml is generated from the event models and kept in sync.

Needs neither RabbitMQ nor PostgreSQL, and no fixture from conftest.py.
"""
from __future__ import annotations

import enum
import subprocess
import sys
import types
import typing
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from chassis import asyncapi
from chassis.events import CATALOGUE, EventData, event, make_envelope
from chassis.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "asyncapi.yaml"


def service_events() -> dict:
    asyncapi.load_all_events()
    return {key: model for key, model in CATALOGUE.items() if key[0] in SERVICES}


def test_document_on_disk_is_what_the_models_generate():
    assert DOC.read_text(encoding="utf-8") == asyncapi.render(), "docs/asyncapi.yaml is stale: run `make asyncapi`"
    assert yaml.safe_load(DOC.read_text(encoding="utf-8")) == asyncapi.build_document()


def test_check_mode_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "chassis.asyncapi", "--check", str(stale)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "make asyncapi" in run.stderr


def test_every_event_has_a_channel_and_every_channel_an_event():
    doc = asyncapi.build_document()
    assert doc["asyncapi"] == "3.0.0"
    events = service_events()
    assert {source for source, _ in events} >= {"registry"}, "service events were not loaded"
    assert set(doc["channels"]) == {f"{s}.{t}" for s, t in events}
    assert set(doc["operations"]) == {f"receive_{s}_{t}" for s, t in events}
    assert list(doc["channels"]) == sorted(doc["channels"]), "channels must be in a stable order"
    for (source, event_type), model in events.items():
        channel = doc["channels"][f"{source}.{event_type}"]
        assert channel["address"] == event_type
        assert channel["bindings"]["amqp"]["is"] == "routingKey"
        assert channel["bindings"]["amqp"]["exchange"] == {
            "name": f"{source}.events", "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}
        operation = doc["operations"][f"receive_{source}_{event_type}"]
        assert operation["action"] == "receive"
        assert operation["channel"] == {"$ref": f"#/channels/{source}.{event_type}"}
        message = doc["components"]["messages"][f"{source}_{event_type}"]
        assert message["contentType"] == "application/json"
        assert message["payload"]["properties"]["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}


def test_every_reference_in_the_document_resolves():
    doc = asyncapi.build_document()

    def refs(node):
        if isinstance(node, dict):
            yield from ([node["$ref"]] if isinstance(node.get("$ref"), str) else [])
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in set(refs(doc)):
        assert ref.startswith("#/"), ref
        target = doc
        for part in ref[2:].split("/"):
            assert isinstance(target, dict) and part in target, f"dangling $ref {ref}"
            target = target[part]


def sample(annotation, field_name: str = "value"):
    """A plain JSON-able value of ``annotation``, good enough for the model to validate."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)), field_name)  # the non-null arm
    if origin is typing.Literal:
        return args[0]
    if origin in (list, set, frozenset, tuple):
        return [sample(args[0], field_name)] if args else []
    if origin is dict or annotation is dict:
        return {sample(args[0]): sample(args[1])} if args else {}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: sample(f.annotation, name) for name, f in annotation.model_fields.items()}
    simple = {uuid.UUID: str(uuid.uuid4()), datetime: datetime.now(timezone.utc).isoformat(),
              date: date.today().isoformat(), bool: True, int: 1, float: 1.0, str: f"sample {field_name}"}
    if annotation in simple:
        return simple[annotation]
    pytest.fail(f"no sample for {annotation!r} (field {field_name}): teach tests/unit/test_asyncapi.py::sample")


def test_real_envelopes_validate_against_the_published_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    doc = asyncapi.build_document()
    for (source, event_type), model in sorted(service_events().items()):
        data = model.model_validate(sample(model))
        envelope = make_envelope(data).model_dump(mode="json")
        schema = {**doc["components"]["messages"][f"{source}_{event_type}"]["payload"],
                  "components": doc["components"]}  # so that "#/components/schemas/…" resolves
        validator = jsonschema.Draft7Validator(schema)  # AsyncAPI's default schema format is a draft-07 superset
        errors = [e.message for e in validator.iter_errors(envelope)]
        assert not errors, f"{source}.{event_type}: {errors}"
        if model.model_json_schema().get("required"):
            assert not validator.is_valid({**envelope, "data": {}}), f"{source}.{event_type}: empty data accepted"
        assert not validator.is_valid({**envelope, "type": "something_else"}), f"{source}.{event_type}: wrong type"


class Colour(str, enum.Enum):
    red = "red"


class Detail(BaseModel):
    colour: Colour


def test_a_new_event_appears_in_the_document_without_other_changes():
    key = ("registry", f"probe_happened_{uuid.uuid4().hex[:8]}")  # a real source: only those are listed

    @event(*key, version=2)
    class ProbeHappened(EventData):
        """Something happened."""
        what: str
        detail: Detail

    try:
        doc = asyncapi.build_document()
        channel = doc["channels"][f"registry.{key[1]}"]
        assert channel["address"] == key[1]
        assert f"receive_registry_{key[1]}" in doc["operations"]
        schemas = doc["components"]["schemas"]
        assert schemas["ProbeHappened"]["required"] == ["what", "detail"]
        assert {"Detail", "Colour"} <= set(schemas), "nested $defs must be hoisted into components/schemas"
        assert "$defs" not in schemas["ProbeHappened"]
        payload = doc["components"]["messages"][f"registry_{key[1]}"]["payload"]
        assert payload["properties"]["version"]["const"] == 2
        assert yaml.safe_load(asyncapi.render()) == doc
    finally:
        CATALOGUE.pop(key, None)
    assert f"registry.{key[1]}" not in asyncapi.build_document()["channels"]


def test_events_of_sources_that_are_not_services_are_left_out():
    key = ("not_a_service", "probe_happened")

    @event(*key)
    class OutsiderHappened(EventData):
        what: str

    try:
        assert "not_a_service.probe_happened" not in asyncapi.build_document()["channels"]
    finally:
        CATALOGUE.pop(key, None)


def test_two_different_schemas_with_one_name_are_refused():
    key = ("registry", "role_granted_clash")

    @event(*key)
    class RoleGrantedClash(EventData):
        role: str

    RoleGrantedClash.__name__ = "RoleGranted"  # clashes with the real registry event's schema
    try:
        with pytest.raises(ValueError, match="RoleGranted"):
            asyncapi.build_document()
    finally:
        CATALOGUE.pop(key, None)
