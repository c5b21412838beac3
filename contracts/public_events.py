"""Which events leave the platform over webhooks and the HTTP feed, and what of them (docs/events.md).

Every event of the catalogue is classified here, once: public ones with the fields a partner gets
(what the public pages already show: ids, titles, dates, URLs), the others with the reason they stay
inside. A new event type that is neither fails ``tests/unit/test_webhooks_rules.py``. Nothing about
a person (ids of authors or initiators, names, contacts, birth dates, comment texts) is public.

The wire form is a CloudEvents 1.0 event in structured JSON mode; the feed's cursor rides in the
``sequence`` extension attribute.
"""
from __future__ import annotations

from datetime import datetime

from chassis.events import Envelope

CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "ua.econsult."

# (source, type) → the data fields published, in this order
PUBLIC: dict[tuple[str, str], tuple[str, ...]] = {
    ("consultations", "consultation_published"): ("consultation_id", "title", "question", "category", "form",
                                                  "starts_on", "ends_on", "url"),
    ("consultations", "consultation_closed"): ("consultation_id", "closed_at", "report_due"),
    ("consultations", "comment_published"): ("comment_id", "consultation_id"),
    ("consultations", "decision_published"): ("consultation_id", "number", "adopted_on", "title", "url",
                                              "on_time"),
    ("consultations", "consultation_archived"): ("consultation_id", "archived_at", "decision_adopted_on"),
    ("reports", "report_published"): ("consultation_id", "report_version", "published_at", "files"),
}

# (source, type) → why it is not published
PRIVATE: dict[tuple[str, str], str] = {
    ("consultations", "consultation_submitted"): "an initiative on moderation is hidden until approved",
    ("consultations", "comment_submitted"): "a pending comment, its author and text are not public",
    ("consultations", "comment_rejected"): "a rejected comment is never public",
    ("consultations", "survey_answered"): "who answered a survey is about a person",
    ("consultations", "initiative_status_changed"): "addressed to the initiator",
    ("moderation", "comment_approved"): "internal step; comment_published is the public fact",
    ("moderation", "comment_rejected"): "a rejected comment is never public",
    ("moderation", "initiative_approved"): "internal step of moderation",
    ("moderation", "initiative_rejected"): "a rejected initiative is never public",
    ("notifications", "notification_batch_completed"): "operational figures of e-mail sending",
    ("registry", "person_registered"): "about a person",
    ("registry", "person_updated"): "about a person",
    ("registry", "person_erased"): "about a person",
    ("registry", "role_granted"): "about a person",
    ("registry", "role_revoked"): "about a person",
    ("registry", "session_revoked"): "about a person's session",
    ("registry", "consent_given"): "about a person",
}

# (source, type, version) → the data fields published of a version after the first (docs/events.md,
# "A new version"): while both are published, each is its own CloudEvents type (``….v1``, ``….v2``);
# a version not listed here stays inside, so a new version never leaks a field by default
LATER_VERSIONS: dict[tuple[str, str, int], tuple[str, ...]] = {
    ("consultations", "comment_published", 2): ("comment_id", "consultation_id"),  # offline ones too
}

PUBLIC_TYPES = sorted({t for _, t in PUBLIC})


def fields_of(source: str, event_type: str, version: int = 1) -> tuple[str, ...] | None:
    return PUBLIC.get((source, event_type)) if version == 1 else LATER_VERSIONS.get((source, event_type, version))


def project(source: str, event_type: str, data: dict, version: int = 1) -> dict | None:
    """The public part of an event's data; None for an event (or a version of it) that stays inside."""
    fields = fields_of(source, event_type, version)
    if fields is None:
        return None
    return {f: data.get(f) for f in fields}


def selectors() -> list[str]:
    """What a subscription or a feed query may name: ``<type>`` (version 1) or ``<type>.v<N>``."""
    named = {t: [1] for t in PUBLIC_TYPES}
    for _, t, v in LATER_VERSIONS:
        named.setdefault(t, []).append(v)
    return sorted([*named, *(f"{t}.v{v}" for t, vs in named.items() for v in vs)])


def subject_of(data: dict) -> str | None:
    """CloudEvents ``subject``: the consultation an event is about (the unit of best-effort order)."""
    cid = data.get("consultation_id")
    return f"consultations/{cid}" if cid else None


def cloud_type(event_type: str, version: int) -> str:
    return f"{TYPE_PREFIX}{event_type}.v{version}"


def cloudevent(*, event_id, source: str, event_type: str, version: int, occurred_at: datetime,
               subject: str | None, data: dict, sequence: int | None = None) -> dict:
    """A CloudEvents 1.0 structured-mode event (the same shape on webhooks and the feed)."""
    out = {"specversion": "1.0", "id": str(event_id), "source": f"/econsult/{source}",
           "type": cloud_type(event_type, version), "time": occurred_at.isoformat().replace("+00:00", "Z"),
           "datacontenttype": "application/json"}
    if subject:
        out["subject"] = subject
    if sequence is not None:
        out["sequence"] = str(sequence)
    out["data"] = data
    return out


def from_envelope(source: str, env: Envelope) -> dict | None:
    """Row values for ``public_events`` from a received envelope, or None if it stays inside."""
    data = project(source, env.type, env.data, env.version)
    if data is None:
        return None
    return {"event_id": env.event_id, "source": source, "type": env.type, "version": env.version,
            "occurred_at": env.occurred_at, "subject": subject_of(data), "data": data}
