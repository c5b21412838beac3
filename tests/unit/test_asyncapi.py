"""docs/asyncapi.yaml is generated from the event models and kept in sync (Foundation, item 3)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import yaml

from chassis import asyncapi
from chassis.events import CATALOGUE, EventData, event, make_envelope
from chassis.settings import SERVICES

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_document_on_disk_is_what_the_models_generate():
    assert DOC.read_text(encoding="utf-8") == asyncapi.render(), "docs/asyncapi.yaml is stale: run `make asyncapi`"


def test_every_event_has_a_channel_and_every_channel_an_event():
    doc = asyncapi.build_document()
    assert doc["asyncapi"] == "3.0.0"
    ours = [(s, t) for s, t in CATALOGUE if s in SERVICES]
    assert ours, "no service events found"
    assert set(doc["channels"]) == {f"{s}.{t}" for s, t in ours}
    for (source, event_type) in ours:
        channel = doc["channels"][f"{source}.{event_type}"]
        assert channel["address"] == event_type
        assert channel["bindings"]["amqp"]["exchange"]["name"] == f"{source}.events"
        assert f"receive_{source}_{event_type}" in doc["operations"]


def _resolve(doc: dict) -> dict:
    """The document's components as a JSON Schema registry root."""
    return {"components": doc["components"]}


def test_real_envelopes_validate_against_the_published_schemas():
    doc = asyncapi.build_document()
    samples = {("registry", "person_registered"): {"person_id": str(uuid.uuid4()),
                                                   "registered_at": datetime.now(timezone.utc).isoformat()}}
    for key, data in samples.items():
        model = CATALOGUE[key]
        envelope = make_envelope(model.model_validate(data)).model_dump(mode="json")
        schema = {**doc["components"]["messages"][f"{key[0]}_{key[1]}"]["payload"], **_resolve(doc)}
        jsonschema.validate(envelope, schema)
        broken = {**envelope, "data": {}}
        try:
            jsonschema.validate(broken, schema)
        except jsonschema.ValidationError:
            pass
        else:
            raise AssertionError("an envelope without its data fields must not validate")


def test_a_new_event_appears_in_the_document_without_other_changes():
    @event("registry", "something_happened")
    class SomethingHappened(EventData):
        """Something happened."""
        what: str

    try:
        doc = asyncapi.build_document()
        assert "registry.something_happened" in doc["channels"]
        assert doc["components"]["schemas"]["SomethingHappened"]["required"] == ["what"]
        yaml.safe_load(asyncapi.render())
    finally:
        del CATALOGUE[("registry", "something_happened")]
