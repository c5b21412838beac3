"""Contracts of the registry service: RPC inputs/outputs and its events."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from chassis.events import EventData, event


class PersonIn(BaseModel):
    """A person as the identity provider describes them (R-2.3, R-3.5)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: str = Field(min_length=1, max_length=200, description="identity-provider subject")
    full_name: str = Field(min_length=1, max_length=300, description="ПІБ")
    birth_date: date | None = None
    community_member: bool = False


class PersonRef(BaseModel):
    id: uuid.UUID
    created: bool


@event("registry", "person_registered")
class PersonRegistered(EventData):
    """A person logged in for the first time and now has a record in the register."""

    person_id: uuid.UUID
    registered_at: datetime
