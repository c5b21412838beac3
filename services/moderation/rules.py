"""Moderation rules as pure functions (R-1.1, R-2.1, R-3.7, R-3.10): no database, no broker."""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timezone

from chassis.errors import Forbidden, InvalidInput, NotFound
from contracts.identity import Principal, Role
from contracts.moderation import (GROUNDS, NOT_MINE_REASON, CaseDecision, CaseOut, CommentApproved, CommentRejected,
                                  InitiativeApproved, InitiativeRejected, moderation_due)


def now() -> datetime:
    return datetime.now(timezone.utc)


def due_at(submitted_at: datetime, holidays_off: bool | None = None) -> datetime:
    """R-3.10: a case is due two working days after its submission (end of that day in the city): the
    one clock the consultations service shows in its deadline list too."""
    return moderation_due(submitted_at, holidays_off)


def require_moderator(actor: Principal | None) -> Principal:
    if actor is None or not actor.has(Role.moderator):
        raise Forbidden("Лише для модераторів", code="role_required")
    return actor


def initiative_text(title: str, question: str) -> str:
    """What the screening reads of an initiative."""
    return f"{title}\n{question}"


def comment_is_public(case) -> bool:
    """A comment is public when screening passed it (no case), a moderator approved it, or it was
    public and is open again only because residents reported it; held (pending) and rejected
    comments are not, so reporting them answers 404 whatever the caller knows of the id."""
    if case is None:
        return True
    if case.decision == "rejected":
        return False
    return case.decision == "approved" or case.source == "report"


def after_report(existing) -> str:
    """What a resident's report does to the comment's case: ``open`` a new one, ``append`` to an
    open one, ``reopen`` an approved one for a fresh look, or ``keep`` a rejected one as it is."""
    if existing is None:
        return "open"
    if existing.status == "open":
        return "append"
    if existing.decision == "approved":
        return "reopen"
    return "keep"


def report_match(reason: str) -> list[dict]:
    return [{"rule": "report", "text": reason[:200]}]


NOT_MINE_PRIORITY = 1000  # above any count of residents' reports


def not_mine_match(explanation: str | None) -> list[dict]:
    """The queue's reason for a comment its named author disowns, with their words if given."""
    text = NOT_MINE_REASON + (f": {explanation.strip()[:200]}" if explanation and explanation.strip() else "")
    return [{"rule": "not_mine", "text": text}]


def priority(reports: int, matches: list[dict]) -> int:
    """Most reported first; a comment disowned by the person it is signed with before all others."""
    return reports + (NOT_MINE_PRIORITY if any(m.get("rule") == "not_mine" for m in matches) else 0)


def require_named_author(seen, actor: Principal) -> None:
    """Only the person a comment is signed with may disown it; to anyone else it is as if there were
    no such comment (404), so the action tells nothing about whose comment it is."""
    if seen is None or seen.author_id != actor.person_id:
        raise NotFound("Коментар не знайдено", code="comment_not_found")


def case_out(row, at: datetime | None = None) -> CaseOut:
    """A case as the queue shows it; ``overdue`` once an open case is past its R-3.10 due time."""
    return CaseOut(**{k: getattr(row, k) for k in CaseOut.model_fields if k not in ("overdue",)},
                   overdue=row.status == "open" and (at or now()) > row.due_at)


def queue_cursor(row) -> str:
    """Where a page of the queue ends: (priority, submitted_at, id) of its last case."""
    raw = json.dumps([row.priority, row.submitted_at.isoformat(), str(row.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_queue_cursor(cursor: str) -> tuple[int, datetime, uuid.UUID]:
    try:
        priority, at, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(priority), datetime.fromisoformat(at), uuid.UUID(case_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput("Некоректний курсор сторінки", code="bad_cursor",
                           errors=[{"field": "after", "message": "значення next_after попередньої сторінки"}]) from None


def check_grounds(body: CaseDecision) -> None:
    """R-1.1, R-3.7: only known grounds, and a rejection names at least one."""
    unknown = [g for g in body.grounds if g not in GROUNDS]
    if unknown:
        raise InvalidInput("Невідома підстава", code="unknown_ground",
                           errors=[{"field": "grounds", "message": f"немає підстав {unknown}"}])
    if body.decision == "reject" and not body.grounds:
        raise InvalidInput("Відхилення без підстави неможливе (п. 1.1, 3.7)", code="ground_required",
                           errors=[{"field": "grounds", "message": "вкажіть хоча б одну підставу"}])


def check_unit(kind: str, body: CaseDecision, unit_name: str | None) -> None:
    """R-3.10: an approved initiative goes to a named structural unit."""
    if kind == "initiative" and body.decision == "approve" and (body.unit_id is None or not unit_name):
        raise InvalidInput("Вкажіть структурний підрозділ, якому передається ініціатива", code="unit_required",
                           errors=[{"field": "unit_id", "message": "обов'язково для ініціативи"}])


def decision_of(body: CaseDecision) -> str:
    return "approved" if body.decision == "approve" else "rejected"


def decision_event(kind: str, subject_id: uuid.UUID, consultation_id, body: CaseDecision,
                   moderator_id: uuid.UUID, unit_name: str | None):
    """The event a decision publishes: a comment or an initiative approved or rejected."""
    approved = decision_of(body) == "approved"
    if kind == "comment":
        if approved:
            return CommentApproved(comment_id=subject_id, consultation_id=consultation_id, moderator_id=moderator_id)
        return CommentRejected(comment_id=subject_id, consultation_id=consultation_id, grounds=body.grounds,
                               note=body.note, moderator_id=moderator_id)
    if approved:
        return InitiativeApproved(consultation_id=subject_id, unit_id=body.unit_id, unit_name=unit_name,
                                  moderator_id=moderator_id)
    return InitiativeRejected(consultation_id=subject_id, grounds=body.grounds, note=body.note,
                              moderator_id=moderator_id)


def count_grounds(grounds_per_decision) -> dict[str, int]:
    """How often each ground was cited, over the decisions' lists of grounds."""
    by_ground: dict[str, int] = {}
    for grounds in grounds_per_decision:
        for g in grounds or []:
            by_ground[g] = by_ground.get(g, 0) + 1
    return by_ground
