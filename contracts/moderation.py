"""Contracts of the moderation service: the grounds of rejection, the outcomes it publishes, its
RPC inputs/outputs (R-1.1, R-1.5, R-3.7, R-3.10)."""
from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from chassis.events import EventData, event
from chassis.rpc_contract import WIRE_NO_NONE, RpcContract
from chassis.workdays import working_deadline
from contracts.common import Strict
from contracts.identity import Principal


# The grounds on which a comment or an initiative is not published, coded, with the
# regulation's wording, so that every rejection names its grounds.
class Ground(BaseModel):
    code: str
    title: str
    clause: str


GROUNDS: dict[str, Ground] = {g.code: g for g in [
    Ground(code="separatism", clause="3.7", title="Заклики до ліквідації незалежності України"),
    Ground(code="violent_change", clause="3.7", title="Заклики до зміни конституційного ладу насильницьким шляхом"),
    Ground(code="sovereignty", clause="3.7", title="Заклики до порушення суверенітету і територіальної цілісності держави"),
    Ground(code="security", clause="3.7", title="Заклики до підриву безпеки держави"),
    Ground(code="seizure_of_power", clause="3.7", title="Заклики до незаконного захоплення державної влади"),
    Ground(code="war_propaganda", clause="3.7", title="Пропаганда війни"),
    Ground(code="violence", clause="3.7", title="Пропаганда насильства"),
    Ground(code="hatred", clause="3.7", title="Розпалювання міжетнічної, расової, релігійної ворожнечі"),
    Ground(code="rights_and_health", clause="3.7", title="Посягання на права і свободи людини, здоров'я населення"),
    Ground(code="anonymous", clause="3.7", title="Анонімна пропозиція"),
    Ground(code="obscene", clause="3.7", title="Ненормативна лексика"),
    Ground(code="off_topic", clause="3.7", title="Не стосується питання консультації"),
    Ground(code="political_campaigning", clause="1.5", title="Політична, зокрема передвиборча, агітація"),
]}


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


# ---- RPC and HTTP contracts -------------------------------------------------------------------------

from datetime import date, datetime  # noqa: E402

from typing import Literal  # noqa: E402

from pydantic import ConfigDict  # noqa: E402


class CaseOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="comment | initiative")
    subject_id: uuid.UUID
    consultation_id: uuid.UUID | None
    author_name: str | None
    text: str | None
    matches: list[dict] = Field(description="what the automatic screening found")
    source: str = Field(description="screening | report")
    reports: int
    priority: int
    submitted_at: datetime
    channel: str = Field("web", description="comment: how it was received (web, paper, email, hearing, "
                                            "service_centre)")
    due_at: datetime = Field(description="R-3.10: 2 working days after submission")
    overdue: bool
    status: str
    decision: str | None = None
    grounds: list[str] | None = None


class Queue(BaseModel):
    items: list[CaseOut]
    total: int = Field(description="open cases matching the filters, on every page")
    next_after: str | None = Field(None, description="cursor of the next page (pass as `after`); null on the last")


QUEUE_RULES = ("obscene", "link", "email", "phone", "messenger", "empty", "only_punctuation", "duplicate", "report",
               "not_mine")

# A person says a comment published under their name is not theirs (somebody else used their login,
# or signed for an institution in their name): the case goes to the top of the queue with this reason.
NOT_MINE_REASON = "Особа, від імені якої опубліковано коментар, заявляє, що не подавала його"


class QueueQuery(Strict):
    """One page of the open cases (most reported first, then oldest first), optionally filtered."""

    after: str | None = Field(None, max_length=200, description="`next_after` of the page before")
    limit: int = Field(100, ge=1, le=200)
    consultation_id: uuid.UUID | None = None
    kind: Literal["comment", "initiative"] | None = None
    rule: Literal[QUEUE_RULES] | None = Field(None, description="what the screening matched, or `report`")


class CaseDecision(Strict):
    decision: str = Field(pattern="^(approve|reject)$")
    grounds: list[str] = Field(default_factory=list, max_length=13, description="required to reject")
    note: str | None = Field(None, max_length=2000)
    unit_id: uuid.UUID | None = Field(None, description="approving an initiative: the competent unit")


class ReportIn(Strict):
    reason: str = Field(min_length=3, max_length=1000)


class NotMineIn(Strict):
    """The person named as a comment's author says it is not theirs."""

    explanation: str | None = Field(None, max_length=1000, description="what happened, in their words (optional)")


class AuditItem(BaseModel):
    at: datetime
    kind: str = Field(description="screening | decision")
    subject_id: uuid.UUID | None
    consultation_id: uuid.UUID | None
    outcome: str
    matches: list[dict] | None = None
    grounds: list[str] | None = None
    moderator_id: uuid.UUID | None = None
    note: str | None = None
    channel: str | None = Field(None, description="screening: how the comment was received (web, paper, email, "
                                                   "hearing, service_centre)")
    entered_by: uuid.UUID | None = Field(None, description="screening of a comment received offline: the official "
                                                           "who registered it")
    entered_at: datetime | None = Field(None, description="screening of a comment received offline: when it was "
                                                          "registered")
    received_on: date | None = Field(None, description="screening of a comment received offline: the day received")


class Audit(BaseModel):
    items: list[AuditItem]


class Stats(BaseModel):
    open: int
    overdue: int
    decided: int
    by_moderator: dict[str, int]
    by_ground: dict[str, int]
    screened: int
    held_by_screening: int


# ---- the clock, shared by consultations (deadlines) and moderation (its queue) ------------------

MODERATION_WORKING_DAYS = 2


def moderation_due(submitted_at: datetime, holidays_are_days_off: bool | None = None) -> datetime:
    """R-3.10: a comment or an initiative is moderated within two working days of its submission (to
    the end of that day in the city); whether holidays count is ``HOLIDAYS_ARE_DAYS_OFF`` unless given."""
    return working_deadline(submitted_at, MODERATION_WORKING_DAYS, holidays_are_days_off)


# ---- RPC ------------------------------------------------------------------------------------------

class Moderation(RpcContract, service="moderation"):
    """The moderation service's RPC methods; an instance is its typed client."""

    def grounds(self) -> list[Ground]:
        """The coded grounds of R-3.7 and R-1.5."""

    def queue(self, actor: Principal | None, query: Annotated[QueueQuery | None, WIRE_NO_NONE] = None) -> Queue:
        """One page of the open cases."""

    def decide(self, actor: Principal | None, case_id: uuid.UUID, body: CaseDecision, unit_name: str | None = None) -> CaseOut:
        """A moderator approves or rejects (naming the grounds) a comment or an initiative."""

    def report_comment(self, actor: Principal | None, comment_id: uuid.UUID, body: ReportIn) -> CaseOut:
        """A person reports a published comment; it goes back to the queue."""

    def disown_comment(self, actor: Principal | None, comment_id: uuid.UUID, body: NotMineIn) -> CaseOut:
        """The person a published comment is signed with says it is not theirs; it goes to the top of
        the queue with that reason, decided as any other case."""

    def audit(self, actor: Principal | None, consultation_id: uuid.UUID | None = None,
              moderator_id: uuid.UUID | None = None) -> Audit:
        """Screening results and decisions, newest first."""

    def stats(self, actor: Principal | None) -> Stats:
        """Open, overdue and decided cases; decisions by moderator and by ground."""
