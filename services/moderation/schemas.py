"""Contracts of the moderation service: the outcomes it publishes (R-3.7, R-3.10).

The screening, queue and decisions arrive with the moderation issue; these event models are the
contract the consultations service already consumes.
"""
from __future__ import annotations

import uuid

from pydantic import Field

from chassis.events import EventData, event


@event("moderation", "comment_approved")
class CommentApproved(EventData):
    """A comment passed screening or a moderator: it is published."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    moderator_id: uuid.UUID | None = Field(None, description="null when the automatic screening passed it")


@event("moderation", "comment_rejected")
class CommentRejected(EventData):
    """A comment is not published (or removed if it was): the R-3.7 / R-1.5 grounds are recorded."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    grounds: list[str] = Field(min_length=1, description="codes of R-3.7 / R-1.5 grounds")
    note: str | None = None
    moderator_id: uuid.UUID


@event("moderation", "initiative_approved")
class InitiativeApproved(EventData):
    """An initiative complies with R-3.7 and is passed to the competent structural unit (R-3.10)."""

    consultation_id: uuid.UUID
    unit_id: uuid.UUID
    unit_name: str
    moderator_id: uuid.UUID


@event("moderation", "initiative_rejected")
class InitiativeRejected(EventData):
    consultation_id: uuid.UUID
    grounds: list[str] = Field(min_length=1)
    note: str | None = None
    moderator_id: uuid.UUID
