"""The event envelope and the catalogue of every event the services publish.

An event is ``{event_id, type, occurred_at, version, data}`` (docs/events.md), published to
the exchange ``<service>.events`` with routing key ``type``. Each event's ``data`` is a pydantic
model registered here with :func:`event`; ``docs/asyncapi.yaml`` is generated from the catalogue.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chassis.errors import InvalidEvent, error_summary


class EventData(BaseModel):
    """Base of every event payload. Consumers ignore fields they do not know (forward-compatible)."""

    model_config = ConfigDict(extra="ignore")

    source: ClassVar[str]
    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    def as_version(self, version: int) -> "EventData | None":
        """This fact in another published version of its type (a newer model overrides this when
        the older one cannot be read from its fields, and answers None for a fact the older version
        cannot state at all: it then goes out in the newer version only)."""
        return VERSIONS[(self.source, self.event_type, version)].model_validate(self.model_dump(mode="json"))


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(description="unique per event; consumers dedupe on it")
    type: str = Field(description="the event type, also the routing key")
    occurred_at: datetime = Field(description="when the change was committed (UTC)")
    version: int = Field(1, description="version of the data schema of this type")
    data: dict = Field(description="the event's payload, see the per-type schema")


CATALOGUE: dict[tuple[str, str], type[EventData]] = {}  # the newest version of each type
# every version still published: during a deprecation window (docs/events.md) version N and N+1 of a
# type are both registered, each its own model, and the publisher writes both envelopes
VERSIONS: dict[tuple[str, str, int], type[EventData]] = {}


def event(source: str, event_type: str, version: int = 1):
    """Class decorator: register an :class:`EventData` model as version ``version`` of ``source``'s
    ``event_type`` (another version of the same type may be registered beside it)."""

    def register(cls: type[EventData]) -> type[EventData]:
        key = (source, event_type)
        known = VERSIONS.get((*key, version))
        if known is not None and known is not cls and key in CATALOGUE:
            raise ValueError(f"event {source}.{event_type} version {version} registered twice")
        cls.source, cls.event_type, cls.version = source, event_type, version
        VERSIONS[(*key, version)] = cls
        if key not in CATALOGUE or CATALOGUE[key].version <= version:
            CATALOGUE[key] = cls
        return cls

    return register


def versions_of(source: str, event_type: str) -> list[type[EventData]]:
    """The published versions of a type, oldest first (only while the type is in the catalogue)."""
    if (source, event_type) not in CATALOGUE:
        return []
    return [VERSIONS[k] for k in sorted(k for k in VERSIONS if k[:2] == (source, event_type))]


def routing_key(source: str, event_type: str, version: int) -> str:
    """The routing key an envelope is published with: the type; while the type is published in
    several versions, the type and the version (``comment_submitted.v2``), so that each consumer's
    queue, bound to its own version (:func:`binding_keys`), receives only that one."""
    return f"{event_type}.v{version}" if len(versions_of(source, event_type)) > 1 else event_type


def binding_keys(event_type: str, version: int | None) -> list[str]:
    """What a consumer of one ``version`` of a type (None: every version) binds its queue with: the
    type's versioned key, and the plain type, which a publisher uses while only one version is
    published (and an older instance during an upgrade, for every version: the consumer takes its
    own version from the envelope and acknowledges the others unhandled)."""
    return [event_type, f"{event_type}.v{version}" if version is not None else f"{event_type}.*"]


def every_version(data: EventData) -> list[EventData]:
    """The fact ``data`` states, in every version of its type still published (``data`` first): during
    a deprecation window a publisher's one change goes out as version N and N+1 (docs/events.md).
    The newer model converts itself with ``as_version(n)``; by default the older model validates
    the newer one's fields (enough when the older fields are all still there)."""
    out = [data]
    for model in versions_of(type(data).source, type(data).event_type):
        if model is not type(data):
            older = data.as_version(model.version)
            if older is not None:
                out.append(older)
    return out


def make_envelope(data: EventData) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), type=type(data).event_type,
                    occurred_at=datetime.now(timezone.utc), version=type(data).version,
                    data=data.model_dump(mode="json"))


def open_envelope(payload: dict, model: type[EventData]) -> tuple[Envelope, EventData]:
    """Validate a received envelope and its data; raises :class:`chassis.errors.InvalidEvent`
    naming the fields and error types, never the values (they end up in logs and dead letters)."""
    try:
        env = Envelope.model_validate(payload)
        return env, model.model_validate(env.data)
    except ValidationError as exc:
        raise InvalidEvent(error_summary(exc)) from None
