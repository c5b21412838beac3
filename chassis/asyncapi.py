"""The AsyncAPI 3 catalogue of every event, generated from the pydantic models.

``python -m chassis.asyncapi`` prints it (``make asyncapi`` writes ``docs/asyncapi.yaml``);
``python -m chassis.asyncapi --check docs/asyncapi.yaml`` fails when the file is stale.
Other city systems subscribe from this document alone: bind a queue to ``<source>.events`` with
the event type as routing key.
"""
from __future__ import annotations

import importlib
import sys

import yaml

from chassis.events import CATALOGUE, Envelope
from chassis.settings import SERVICES

DOC_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Events of the e-consultations platform («Електронні консультації з громадськістю»).
Each service publishes its events to the durable topic exchange `<service>.events`, routing key =
event type, as persistent JSON messages with publisher confirms. Every message is an envelope
`{event_id, type, occurred_at, version, data}`; `data` follows the schema of its type.
Delivery is at least once: deduplicate on `event_id`. To subscribe with any AMQP 0-9-1 client,
declare your own durable queue and bind it to the exchange with the event type (or `#`).
"""


def load_all_events() -> None:
    """Import every service's ``schemas`` module so the catalogue is complete."""
    for service in SERVICES:
        name = f"services.{service}.schemas"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def _schema(model, schemas: dict) -> dict:
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def build_document() -> dict:
    load_all_events()
    schemas: dict = {}
    channels: dict = {}
    operations: dict = {}
    messages: dict = {}
    _schema(Envelope, schemas)
    ours = {key: model for key, model in CATALOGUE.items() if key[0] in SERVICES}  # not test probes
    for (source, event_type), model in sorted(ours.items()):
        key = f"{source}.{event_type}"
        msg_name = f"{source}_{event_type}"
        payload = {
            "allOf": [{"$ref": REF.format(model="Envelope")},
                      {"type": "object", "properties": {
                          "type": {"const": event_type},
                          "version": {"const": model.version},
                          "data": _schema(model, schemas)}}]}
        messages[msg_name] = {
            "name": event_type, "title": model.__name__, "summary": (model.__doc__ or "").strip(),
            "contentType": "application/json", "payload": payload,
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}}}
        channels[key] = {
            "address": event_type,
            "description": f"Events `{event_type}` from the {source} service.",
            "messages": {msg_name: {"$ref": f"#/components/messages/{msg_name}"}},
            "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0", "exchange": {
                "name": f"{source}.events", "type": "topic", "durable": True, "autoDelete": False,
                "vhost": "/"}}}}
        operations[f"receive_{msg_name}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Receive {event_type} from {source}.",
            "messages": [{"$ref": f"#/channels/{key}/messages/{msg_name}"}]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Електронні консультації — події / events", "version": DOC_VERSION,
                 "description": _one_paragraph(DESCRIPTION)},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                              "description": "RabbitMQ of a local `make run`"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())


def render() -> str:
    return yaml.safe_dump(build_document(), allow_unicode=True, sort_keys=False, width=100)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--check"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as fh:
            if fh.read() != render():
                sys.exit(f"{argv[1]} is stale: run `make asyncapi`")
        return
    sys.stdout.write(render())


if __name__ == "__main__":
    main(sys.argv[1:])
