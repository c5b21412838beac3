"""Contracts of the reports service: the events it publishes (R-3.16, R-3.17).

The report itself arrives with the reports issue; consultations already consumes this event to
mark the R-3.17 deadline met.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from chassis.events import EventData, event


@event("reports", "report_published")
class ReportPublished(EventData):
    """A version of a consultation's report is published (R-3.16, R-3.17)."""

    consultation_id: uuid.UUID
    report_version: int = Field(ge=1)
    published_at: datetime
    files: dict[str, str] = Field(default_factory=dict, description="format → URL (html, pdf, csv, json, xlsx)")
