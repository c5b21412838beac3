"""The AsyncAPI 3 catalogue of every event, generated from the pydantic models.

``python -m chassis.asyncapi`` prints it (``make asyncapi`` writes ``docs/asyncapi.yaml``);
``python -m chassis.asyncapi --check docs/asyncapi.yaml`` fails when the file is stale.
Other city systems subscribe from this document alone: bind a queue to ``<source>.events`` with
the event type as routing key.
"""
from __future__ import annotations

import yaml

from chassis.app import load_contracts as load_all_events  # every service's contract module
from chassis.events import CATALOGUE, Envelope, EventData, versions_of
from chassis.settings import SERVICES

DOC_VERSION = "1.0.0"
AMQP_BINDING_VERSION = "0.3.0"
REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Events of the e-consultations platform («Електронні консультації з громадськістю»).
Each service publishes its events to the durable topic exchange `<service>.events` with the event
type as routing key, as persistent JSON messages (content type `application/json`) with publisher
confirms. Every message is an envelope `{event_id, type, occurred_at, version, data}`; `data`
follows the schema of its type, and consumers must ignore fields they do not know. Delivery is at
least once: the same event may arrive twice, so deduplicate on `event_id`. To subscribe with any
AMQP 0-9-1 client (pika, kombu, Java, Node), declare your own durable queue, bind it to the
exchange `<service>.events` with the event type as binding key (or `#` for all of that service's
events), and acknowledge each message after you have processed it. While a type is published in
two versions, each version goes out under the routing key `<type>.v<N>`: bind `<type>.v<N>` for the
one version you read, or `<type>.*` for every version, beside the plain `<type>`.
"""


def _add_schema(model: type[EventData], schemas: dict) -> dict:
    """Put ``model``'s schema (and its hoisted ``$defs``) into ``schemas``; return a ``$ref``."""
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    for name, sub in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, sub) != sub:
            raise ValueError(f"two different schemas are both named {name!r}: rename one model")
    return {"$ref": REF.format(model=model.__name__)}


def _envelope_payload(model: type[EventData], data_ref: dict) -> dict:
    """The envelope's schema with ``data`` pointing at this event's schema."""
    payload = Envelope.model_json_schema(mode="serialization")
    props = payload["properties"]
    props["type"] = {**props["type"], "const": model.event_type}
    props["version"] = {**props["version"], "const": model.version}
    props["data"] = data_ref
    payload["required"] = list(props)  # the publisher always sends every field (``model_dump``)
    payload["title"] = f"{model.__name__} envelope"
    return payload


def build_document() -> dict:
    load_all_events()
    schemas: dict = {}
    channels: dict = {}
    operations: dict = {}
    messages: dict = {}
    ours = {key: model for key, model in CATALOGUE.items() if key[0] in SERVICES}  # not test probes
    for (source, event_type), latest in sorted(ours.items()):
        channel = f"{source}.{event_type}"
        names = []
        for model in versions_of(source, event_type) or [latest]:
            # the newest version keeps the plain name; older ones still published carry their version
            message = f"{source}_{event_type}" if model is latest else f"{source}_{event_type}_v{model.version}"
            names.append(message)
            summary = {"summary": " ".join(model.__doc__.split())} if model.__doc__ else {}
            messages[message] = {
                "name": event_type, "title": model.__name__, **summary, "contentType": "application/json",
                "payload": _envelope_payload(model, _add_schema(model, schemas)),
                "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}},
                **({"x-deprecated": True} if model is not latest else {})}
        channels[channel] = {
            "address": event_type,
            "description": f"`{event_type}` events of the {source} service." + (
                f" Published in {len(names)} versions, each under its own routing key "
                f"({', '.join(f'`{event_type}.v{m.version}`' for m in versions_of(source, event_type))})."
                if len(names) > 1 else ""),
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in names},
            "bindings": {"amqp": {"is": "routingKey", "exchange": {
                "name": f"{source}.events", "type": "topic", "durable": True, "autoDelete": False,
                "vhost": "/"}, "bindingVersion": AMQP_BINDING_VERSION}}}
        operations[f"receive_{source}_{event_type}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Receive `{event_type}` from {source}.",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in names],
            # deliveryMode belongs to the AMQP operation binding (the message binding forbids it)
            "bindings": {"amqp": {"deliveryMode": 2, "ack": True, "bindingVersion": AMQP_BINDING_VERSION}}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Електронні консультації — події / events", "version": DOC_VERSION,
                 "description": " ".join(DESCRIPTION.split())},
        "defaultContentType": "application/json",
        "servers": {"amqp": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                             "description": "RabbitMQ of a local `make run` (use your deployment's host)"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return yaml.safe_dump(build_document(), allow_unicode=True, sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> None:
    from chassis.generated_doc import cli

    cli("python -m chassis.asyncapi", __doc__.splitlines()[0], render, "asyncapi", argv)


if __name__ == "__main__":
    main()
