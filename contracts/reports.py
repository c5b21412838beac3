"""Contracts of the reports service: its formats and outcomes, RPC inputs/outputs, the RPC methods
(``Reports``: declaration and typed client) and the event it publishes (R-3.14, R-3.16, R-3.17)."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from chassis.events import EventData, event
from chassis.rpc_contract import RpcContract
from contracts.common import Page, PerPage, Strict, Year
from contracts.consultations import CHANNEL_LABELS, PRIVATE_PERSON, Channel
from contracts.identity import Principal
from contracts.registry import ORGANISATION_KIND_LABELS


CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
REPORT_FORMATS = ("html", "pdf", "csv", "json", "xlsx")
PROTOCOL_FORMATS = ("csv", "pdf", "json")


@event("reports", "report_published")
class ReportPublished(EventData):
    """A version of a consultation's report is published (R-3.16, R-3.17)."""

    consultation_id: uuid.UUID
    report_version: int = Field(ge=1)
    published_at: datetime
    files: dict[str, str] = Field(default_factory=dict, description="format → URL (html, pdf, csv, json, xlsx)")


# ---- consideration of proposals (R-3.16) -------------------------------------------------------

from enum import Enum  # noqa: E402

from pydantic import BaseModel, ConfigDict, field_validator  # noqa: E402
from pydantic_core import PydanticCustomError  # noqa: E402


class Outcome(str, Enum):
    accepted = "accepted"
    partly_accepted = "partly_accepted"
    not_accepted = "not_accepted"


OUTCOME_LABELS = {Outcome.accepted: "враховано", Outcome.partly_accepted: "враховано частково",
                  Outcome.not_accepted: "не враховано"}


class Consideration(Strict):
    """How one proposal was taken into account; a justification is required unless accepted."""

    outcome: Outcome
    justification: str | None = Field(None, max_length=5000, validate_default=True)

    @field_validator("justification")
    @classmethod
    def _justified(cls, value, info):
        if info.data.get("outcome") not in (None, Outcome.accepted) and not (value or "").strip():
            raise PydanticCustomError("justification_required",
                                      "обґрунтування обов'язкове, якщо пропозицію не враховано повністю")
        return value


class ConsiderationIn(Consideration):
    comment_id: uuid.UUID


class BulkConsiderationIn(Consideration):
    """One consideration for many proposals that say the same (R-3.16)."""

    comment_ids: list[uuid.UUID] = Field(min_length=1, max_length=5000)


GroupSize = Annotated[int, Field(ge=1, le=1_000_000, description="the smallest group listed")]


class SplitIn(Strict):
    """A member taken out of its group, to be considered alone (R-3.16)."""

    comment_id: uuid.UUID


class ConclusionIn(Strict):
    conclusion: str = Field(min_length=1, max_length=20000, description="the generalised conclusion (R-3.16)")


class ProposalOut(BaseModel):
    comment_id: uuid.UUID
    number: int
    author_name: str
    created_at: datetime
    channel: Channel = Field(Channel.web, description="how it was received")
    target: str = Field(description="«загалом», an alternative or a paragraph")
    body: str
    outcome: Outcome | None = None
    justification: str | None = None
    group_id: uuid.UUID | None = Field(None, description="its group of near-identical proposals (…/report/groups)")


class ProposalPage(BaseModel):
    items: list[ProposalOut]
    total: int
    considered: int
    page: int
    per_page: int


class DiffPart(BaseModel):
    op: Literal["same", "added", "removed"] = Field(description="against the group's representative text")
    text: str


class OutcomeCount(BaseModel):
    outcome: Outcome | None = Field(description="None: members not considered yet")
    justification: str | None
    count: int


class GroupOut(BaseModel):
    """Near-identical published proposals (normalised text, MinHash/LSH, verified Jaccard ≥ 0.85)."""

    group_id: uuid.UUID
    heading: str = Field(description="«N однакових/майже однакових пропозицій»")
    size: int
    considered: int
    representative: ProposalOut
    authors: list[str] = Field(description="the first authors, in order of submission")
    more_authors: int
    outcomes: list[OutcomeCount]


class GroupPage(BaseModel):
    items: list[GroupOut]
    total: int
    page: int
    per_page: int


class GroupMember(ProposalOut):
    same_text: bool = Field(description="the representative's text exactly, once normalised")
    similarity: float | None = Field(description="verified Jaccard with the member it joined; None: it founded the group")
    diff: list[DiffPart] = Field(description="what it changes in the representative's text, word by word")


class GroupDetail(BaseModel):
    group: GroupOut
    editable: bool = Field(description="the report is neither published nor archived: considerations may change")
    title: str = Field("", description="the consultation's title (as it closed)")
    owner: bool = Field(False, description="the caller is an official of the owning unit, who prepares the report")
    members: list[GroupMember]
    total: int
    page: int
    per_page: int


class VersionOut(BaseModel):
    version: int
    reason: str = Field(description="publish | decision")
    published_at: datetime
    content_sha256: str
    files: dict[str, dict]


class ReportOut(BaseModel):
    consultation_id: uuid.UUID
    title: str
    unit_name: str | None
    status: str = Field(description="draft | published")
    closed_at: datetime | None
    report_due: datetime | None
    overdue: bool = Field(description="R-3.17: not published within 15 calendar days of closing")
    proposals: int
    considered: int
    participants: int
    representativeness: dict = Field(description="`age_bands`, `first_time`, `returning`, `total` of the "
                                                 "participants with an account; `by_channel`: published proposals "
                                                 "and distinct authors per channel (web, paper, email, hearing, "
                                                 "service_centre)")
    conclusion: str | None
    versions: list[VersionOut]
    archived: bool
    retain_until: date | None


class PublishQueued(BaseModel):
    consultation_id: uuid.UUID
    status: str = Field(description="queued: the files are being rendered; the version appears in …/report/versions")
    next_version: int


class VersionList(BaseModel):
    items: list[VersionOut]


class ReportStats(BaseModel):
    year: int
    consultations_by_category: list[dict]
    consultations_by_status: list[dict]
    closed: int
    participants: int
    comments: int
    proposals_considered_share: float
    reports_published: int
    deadlines_met: int
    deadlines_missed: int
    per_consultation: list[dict]


class Updated(BaseModel):
    updated: int


AuthorsPerPage = Annotated[int, Field(ge=1, le=5000, description="authors per page, 1–5000")]


class Contribution(BaseModel):
    """One published comment of a published report and how it was taken into account (R-3.16)."""

    comment_id: uuid.UUID
    number: int = Field(description="its number in the report")
    target: str = Field(description="«загалом», an alternative or a paragraph")
    excerpt: str = Field(description="the comment's first 300 characters, for its author to recognise it")
    outcome: Outcome
    justification: str | None = None


class AuthorContributions(BaseModel):
    author_id: uuid.UUID
    comments: list[Contribution]


class DecisionRef(BaseModel):
    """The decision a report version carries (R-3.18)."""

    number: str
    adopted_on: date
    title: str


class ContributionPage(BaseModel):
    """A page of a published report's contributors, authors in id order (the "you said, we did"
    messages read it; service-to-service)."""

    consultation_id: uuid.UUID
    title: str
    report_version: int = Field(description="the newest published version")
    decision: DecisionRef | None = None
    items: list[AuthorContributions]
    next_after: uuid.UUID | None = Field(None, description="pass as ``after`` for the next page; null: the last")


class StoredFile(BaseModel):
    """A file in the file store, served by its SHA-256 (the gateway reads it from the store)."""

    model_config = ConfigDict(extra="allow")
    sha256: str
    filename: str
    content_type: str


class Bundle(StoredFile):
    """The archive bundle (R-1.11) and its manifest."""

    manifest: str
    retain_until: date | None = None


# ---- who took part, by type and channel; who is missing while it runs (R-3.12, R-3.16) -------------

AGE_BAND_LABELS = {"14–17": "14–17 років", "18–35": "18–35 років", "36–60": "36–60 років", "60+": "понад 60 років",
                   "unknown": "вік невідомий"}
VISIT_LABELS = {"first_time": "уперше", "returning": "брали участь раніше"}
RESPONDENT_TYPE_LABELS = {PRIVATE_PERSON: "приватна особа", **ORGANISATION_KIND_LABELS}
DIMENSIONS = {"age_band": ("За віком", AGE_BAND_LABELS), "visits": ("Уперше чи повторно", VISIT_LABELS),
              "channel": ("За каналом подання", CHANNEL_LABELS),
              "respondent_type": ("За типом учасника", RESPONDENT_TYPE_LABELS)}


class ParticipationCell(BaseModel):
    key: str
    label: str
    count: int | None = Field(description="null: fewer than `min_cell` (suppressed), or withheld because it "
                                          "could be worked out from the others and the total")
    share: float | None = Field(description="of the dimension's total; null when the count is withheld")
    community_share: float | None = Field(description="the community's share (COMMUNITY_SHARES), if set")
    gap: float | None = Field(description="share minus the community's share: below zero, under-represented")


class ParticipationDimension(BaseModel):
    key: str = Field(description="age_band | visits | channel | respondent_type")
    label: str
    total: int
    cells: list[ParticipationCell]


class Participation(BaseModel):
    """Who has taken part so far, against the community's shares: for the owning unit, while the
    consultation runs, so outreach can be aimed before it closes. Persons (age band, first time or
    returning) and respondents (an institution counts once, however many of its heads acted)."""

    consultation_id: uuid.UUID
    as_of: datetime
    persons: int
    respondents: int
    min_cell: int = Field(description="counts from 1 to this minus one are withheld")
    dimensions: list[ParticipationDimension]


# ---- RPC ------------------------------------------------------------------------------------------

class Reports(RpcContract, service="reports"):
    """The reports service's RPC methods; an instance is its typed client."""

    def get_report(self, actor: Principal | None, consultation_id: uuid.UUID) -> ReportOut:
        """The R-3.16 report as ``actor`` may see it."""

    def list_versions(self, actor: Principal | None, consultation_id: uuid.UUID) -> VersionList:
        """Published versions of the report."""

    def report_file(self, actor: Principal | None, consultation_id: uuid.UUID, fmt: str,
                    version: int | None = None) -> StoredFile:
        """A published version's file in one of ``REPORT_FORMATS`` (the newest by default)."""

    def take_snapshot(self, actor: Principal | None, consultation_id: uuid.UUID) -> ReportOut:
        """Take the report's snapshot again (refused once published)."""

    def proposals(self, actor: Principal | None, consultation_id: uuid.UUID, page: Page = 1, per_page: PerPage = 50,
                  missing_only: bool = False) -> ProposalPage:
        """Every proposal with its consideration."""

    def consider(self, actor: Principal | None, consultation_id: uuid.UUID, body: ConsiderationIn) -> Updated:
        """Consider one proposal."""

    def consider_bulk(self, actor: Principal | None, consultation_id: uuid.UUID, body: BulkConsiderationIn) -> Updated:
        """One consideration for many proposals."""

    def groups(self, actor: Principal | None, consultation_id: uuid.UUID, page: Page = 1, per_page: PerPage = 20,
               min_size: GroupSize = 2) -> GroupPage:
        """Groups of near-identical proposals, the largest first."""

    def group(self, actor: Principal | None, consultation_id: uuid.UUID, group_id: uuid.UUID, page: Page = 1,
              per_page: PerPage = 50) -> GroupDetail:
        """One group: its representative, authors and members with their differences."""

    def consider_group(self, actor: Principal | None, consultation_id: uuid.UUID, group_id: uuid.UUID,
                       body: Consideration) -> Updated:
        """One consideration for every member of a group (stored per proposal)."""

    def split_group(self, actor: Principal | None, consultation_id: uuid.UUID, group_id: uuid.UUID,
                    body: SplitIn) -> Updated:
        """Take one member out of its group, to be considered alone."""

    def set_conclusion(self, actor: Principal | None, consultation_id: uuid.UUID, body: ConclusionIn) -> ReportOut:
        """The generalised conclusion of the report."""

    def publish(self, actor: Principal | None, consultation_id: uuid.UUID) -> PublishQueued:
        """Queue a version for rendering once everything is considered."""

    def delete_report(self, actor: Principal | None, consultation_id: uuid.UUID) -> None:
        """Drop an unpublished draft report (administrators)."""

    def protocol_file(self, actor: Principal | None, consultation_id: uuid.UUID, fmt: str) -> StoredFile:
        """The R-3.14 protocol in one of ``PROTOCOL_FORMATS``: full for insiders, public otherwise."""

    def bundle(self, actor: Principal | None, consultation_id: uuid.UUID) -> Bundle:
        """The archive bundle: full for insiders, public otherwise."""

    def stats(self, year: Year) -> ReportStats:
        """Statistics of a year."""

    def participation(self, actor: Principal | None, consultation_id: uuid.UUID) -> Participation:
        """Who has taken part so far against the community's shares, small counts withheld: the owning
        unit, while the consultation is active (others: not found)."""

    def consultation_pack(self, actor: Principal | None, consultation_id: uuid.UUID) -> StoredFile:
        """The printable pack (PDF): the notice, the question and alternatives or the draft with its
        paragraph numbers, and a form to fill in by hand; for whoever may see the consultation."""

    def contributions(self, consultation_id: uuid.UUID, after: uuid.UUID | None = None,
                      limit: AuthorsPerPage = 1000) -> ContributionPage:
        """Every published comment of a published report with its consideration, grouped by author,
        ``limit`` authors after ``after`` (service-to-service; not found before publication)."""
