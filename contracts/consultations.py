"""Contracts of the consultations service: its categories and statuses, RPC inputs/outputs, the RPC
methods (``Consultations``: declaration and typed client) and its events."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from chassis.events import EventData, event
from chassis.rpc_contract import WIRE_PATCH, RpcContract
from chassis.text import SingleLine
from contracts.common import FEED_PAGE_MAX, Bucket, FeedLimit, Page, PerPage, Strict, Year
from contracts.identity import Principal
from contracts.screening import Screening

# The 22 subject categories of consultations, worded as in the regulation, item 1.13.
CATEGORIES: dict[int, str] = {
    1: "Проєкти нормативно-правових актів, що мають важливе значення для територіальної громади",
    2: "Програми соціально-економічного і культурного розвитку та інші програми, рішення щодо стану їх виконання",
    3: "Проєкти бюджету міста та звіти про його виконання",
    4: "Проєкти генерального плану міста та змін до нього, плани зонування, детальні плани території",
    5: "Проєкт Стратегічного плану розвитку міста та зміни до нього",
    6: "Проєкти планів і програм соціально-економічного розвитку районів, мікрорайонів, територій міста",
    7: "Проєкти актів, що можуть впливати на стан навколишнього природного середовища",
    8: "Проєкти Статуту територіальної громади та змін до нього",
    9: "Відчуження об’єктів комунальної власності, передача їх в оренду та під заставу",
    10: "Програми приватизації об’єктів комунальної власності",
    11: "Переліки об’єктів комунальної власності, які не підлягають приватизації",
    12: "Дозволи на спеціальне використання природних ресурсів місцевого значення та їх скасування",
    13: "Питання адміністративно-територіального устрою",
    14: "Символіка територіальної громади",
    15: "Правила благоустрою, чистоти і порядку, торгівлі на ринках та інші правила",
    16: "Зміни тарифів на житлово-комунальні послуги",
    17: "Зміни тарифів на проїзд у громадському транспорті",
    18: "Проєкти рішень ради про зміну місцевих податків та зборів",
    19: "Зміни (запровадження) платних послуг у лікувальних та навчальних закладах",
    20: "Порядок надання адміністративних послуг",
    21: "Присвоєння імен, назв і дат історичних подій юридичним особам та об’єктам права власності",
    22: "Інші питання, віднесені до повноважень Виконавчого комітету",
}

MODERATION_MARK = "Ваше повідомлення знаходиться на модерації"


class Category(BaseModel):
    code: int = Field(ge=1, le=22, description="item number in R-1.13")
    title: str


class Form(str, Enum):
    """R-1.9, R-3.1."""

    proposal = "proposal"
    survey = "survey"
    draft_act = "draft_act"


class Status(str, Enum):
    draft = "draft"
    submitted = "submitted"      # an initiative on moderation
    rejected = "rejected"        # moderation found an ground
    forwarded = "forwarded"      # passed to the competent unit, awaiting its conclusion
    declined = "declined"        # the unit's negative conclusion
    scheduled = "scheduled"      # published, starts later
    active = "active"
    closed = "closed"
    archived = "archived"


PUBLIC_STATUSES = (Status.scheduled, Status.active, Status.closed, Status.archived)

# the Ukrainian words people read for the statuses and forms (pages, feeds, reports)
STATUS_LABELS = {"draft": "чернетка", "submitted": "на модерації", "rejected": "відхилено",
                 "forwarded": "передано підрозділу", "declined": "відмовлено", "scheduled": "заплановано",
                 "active": "триває", "closed": "завершено", "archived": "в архіві"}
COMMENT_STATUS_LABELS = {"pending": "на модерації", "published": "оприлюднено", "rejected": "відхилено"}
FORM_LABELS = {"proposal": "пропозиції щодо рішення", "survey": "опитування", "draft_act": "проєкт акта"}


class Channel(str, Enum):
    """How a comment reached the city: written on the service, or received otherwise and registered
    by an official of the owning unit (offline and assisted participation)."""

    web = "web"
    paper = "paper"
    email = "email"
    hearing = "hearing"
    service_centre = "service_centre"


CHANNEL_LABELS = {"web": "на вебсайті", "paper": "паперовий лист", "email": "електронна пошта",
                  "hearing": "громадські слухання", "service_centre": "ЦНАП"}
OFFLINE_CHANNELS = tuple(c for c in Channel if c != Channel.web)


class Notice(Strict):
    """The information notice of R-3.13 (the question and alternatives live beside it)."""

    holder: SingleLine | None = Field(None, max_length=500, description="орган, що проводить консультацію")
    materials: str | None = Field(None, max_length=10000, description="аналітичні матеріали, розрахунки")
    stakeholders: str | None = Field(None, max_length=5000, description="соціальні групи, заінтересовані сторони")
    consequences: str | None = Field(None, max_length=5000, description="можливі наслідки для них")
    procedure: str | None = Field(None, max_length=5000, description="строк і порядок подання пропозицій")
    participation: str | None = Field(None, max_length=5000, description="як забезпечено участь цих груп")
    responsible_official: SingleLine | None = Field(None, max_length=300, description="відповідальна посадова особа")
    results_publication: str | None = Field(None, max_length=2000, description="коли і як оприлюднять результати")


NOTICE_LABELS = {
    "holder": "орган, що проводить консультацію",
    "question": "питання консультації",
    "alternatives": "альтернативні варіанти рішення",
    "questions": "питання опитування",
    "draft_text": "текст проєкту акта",
    "materials": "аналітичні документи та матеріали",
    "stakeholders": "соціальні групи та заінтересовані сторони",
    "consequences": "можливі наслідки для них",
    "procedure": "строк і порядок подання пропозицій",
    "participation": "як забезпечено участь заінтересованих груп",
    "responsible_official": "відповідальна посадова особа",
    "results_publication": "коли і як буде оприлюднено результати",
    "starts_on": "дата початку",
    "ends_on": "дата завершення",
}


class AlternativeIn(Strict):
    text: str = Field(min_length=2, max_length=4000)


class QuestionKind(str, Enum):
    single = "single"
    multiple = "multiple"
    text = "text"


class QuestionIn(Strict):
    """A survey question (R-1.9): single or multiple choice among options, or free text."""

    text: str = Field(min_length=3, max_length=2000)
    kind: QuestionKind
    options: list[str] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _options_fit_kind(self):
        if self.kind == QuestionKind.text and self.options:
            raise ValueError("a free-text question has no options")
        if self.kind != QuestionKind.text and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options")
        if any(not o.strip() or len(o) > 1000 for o in self.options):
            raise ValueError("options must be 1–1000 characters")
        return self


class OptionOut(BaseModel):
    id: uuid.UUID
    text: str


class QuestionOut(BaseModel):
    id: uuid.UUID
    position: int
    text: str
    kind: QuestionKind
    options: list[OptionOut]


class AnswerIn(Strict):
    question_id: uuid.UUID
    option_ids: list[uuid.UUID] = Field(default_factory=list, max_length=30)
    text: str | None = Field(None, max_length=5000)


class ResponseIn(Strict):
    """Survey answers and/or support of one alternative; sent again, it replaces the earlier
    answers to the same questions (changeable until the consultation closes)."""

    answers: list[AnswerIn] = Field(default_factory=list, max_length=100)
    alternative_id: uuid.UUID | None = Field(None, description="support this alternative (proposal form)")
    on_behalf_of: uuid.UUID | None = Field(None, description="answer for an institution the actor heads, once "
                                           "confirmed (R-2.2); a head answers either in their own name or for "
                                           "the institution: the last response sets it for all their answers")


class OptionTally(BaseModel):
    option_id: uuid.UUID
    text: str
    count: int


class QuestionTally(BaseModel):
    question_id: uuid.UUID
    text: str
    kind: QuestionKind
    respondents: int
    options: list[OptionTally]


class AlternativeTally(BaseModel):
    alternative_id: uuid.UUID
    text: str
    supporters: int


class Results(BaseModel):
    consultation_id: uuid.UUID
    status: "Status"
    participants: int = Field(description="distinct persons who answered or supported")
    alternatives: list[AlternativeTally]
    questions: list[QuestionTally]


class ConsultationIn(Strict):
    form: Form
    title: SingleLine = Field(min_length=5, max_length=300)
    question: str = Field(min_length=10, max_length=10000)
    category: int = Field(ge=1, le=22, description="R-1.13 category code")
    alternatives: list[AlternativeIn] = Field(default_factory=list, max_length=20)
    questions: list[QuestionIn] = Field(default_factory=list, max_length=50, description="survey form")
    draft_text: str | None = Field(None, max_length=300_000,
                                   description="draft act: paragraphs separated by blank lines")
    notice: Notice = Field(default_factory=Notice)
    starts_on: date | None = None
    ends_on: date | None = None


class ConsultationPatch(Strict):
    """Edits of a draft; omitted fields stay as they are."""

    title: SingleLine | None = Field(None, min_length=5, max_length=300)
    question: str | None = Field(None, min_length=10, max_length=10000)
    category: int | None = Field(None, ge=1, le=22)
    alternatives: list[AlternativeIn] | None = Field(None, max_length=20)
    questions: list[QuestionIn] | None = Field(None, max_length=50)
    draft_text: str | None = Field(None, max_length=300_000)
    notice: Notice | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class AlternativeOut(BaseModel):
    id: uuid.UUID
    position: int
    text: str


class ConsultationOut(BaseModel):
    id: uuid.UUID
    form: Form
    title: str
    question: str
    category: int
    status: Status
    unit_id: uuid.UUID | None = Field(None, description="the owning structural unit, as `/api/v1/units` lists it")
    unit_name: str | None
    initiator_name: str | None = Field(description="the author of an initiative, shown on the page (R-3.10)")
    alternatives: list[AlternativeOut]
    questions: list[QuestionOut]
    draft_version: int | None = Field(None, description="draft act: number of the current version")
    paragraphs: list["ParagraphOut"] = Field(default_factory=list, description="draft act, current version")
    notice: Notice
    starts_on: date | None
    ends_on: date | None
    published_at: datetime | None
    moderation_mark: str | None = Field(None, description=f"«{MODERATION_MARK}» while on moderation")
    outcome: dict | None = Field(None, description="to the initiator: grounds of a rejection or the unit's conclusion")
    missing_for_publication: list[str] | None = Field(None, description="for its owners: what R-3.13 still lacks")
    comments_published: int
    decision: DecisionOut | None = None
    attachments: list[AttachmentOut] = Field(default_factory=list, description="materials and decision files")
    timeline: list[TimelineEntry] = Field(default_factory=list, description="from publication to decision (R-2.5)")


class ConsultationSummary(BaseModel):
    id: uuid.UUID
    form: Form
    title: str
    question: str
    category: int
    status: Status
    unit_id: uuid.UUID | None = Field(None, description="the owning structural unit, as `/api/v1/units` lists it")
    unit_name: str | None
    starts_on: date | None
    ends_on: date | None
    published_at: datetime | None = None


class MyInitiative(BaseModel):
    """An initiative as its initiator sees it in the cabinet (R-3.10, R-3.11)."""

    id: uuid.UUID
    form: Form
    title: str
    category: int
    status: Status
    unit_name: str | None = Field(description="the structural unit it was passed to, once forwarded")
    created_at: datetime
    updated_at: datetime
    outcome: dict | None = Field(None, description="grounds of a rejection (`grounds`, `note`) or the "
                                 "unit's conclusion (`accepted`, `conclusion`)")


class ConsultationPage(BaseModel):
    items: list[ConsultationSummary]
    total: int
    page: int
    per_page: int


class DecisionIn(Strict):
    """The decision adopted on the basis of the consultation (R-3.18, R-2.5)."""

    number: SingleLine = Field(min_length=1, max_length=100, description="e.g. «№ 415»")
    adopted_on: date
    title: SingleLine = Field(min_length=5, max_length=500)
    text: str = Field(min_length=10, max_length=300_000)


class DecisionOut(BaseModel):
    number: str
    adopted_on: date
    title: str
    text: str
    publication_due: datetime = Field(description="R-3.18: 5 working days after adoption")
    recorded_at: datetime
    on_time: bool


class AttachmentMeta(Strict):
    """What the gateway tells the service about a file it checked and stored."""

    kind: str = Field("material", pattern="^(material|decision|scan)$",
                      description="material (R-3.13), decision (R-3.18) or scan (of a submission received offline: "
                                  "only the owning unit and moderators see it)")
    title: SingleLine = Field(min_length=1, max_length=300)
    filename: SingleLine = Field(min_length=1, max_length=255)
    content_type: SingleLine = Field(max_length=100)
    size: int = Field(ge=1)
    sha256: str = Field(pattern="^[0-9a-f]{64}$")


class AttachmentOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str = Field(description="SHA-256 of the file, to check a download")
    url: str


class TimelineEntry(BaseModel):
    status: str
    at: datetime


class ParagraphOut(BaseModel):
    id: uuid.UUID = Field(description="stable across versions while the paragraph lives")
    number: int
    text: str


class NewVersionIn(Strict):
    draft_text: str = Field(min_length=10, max_length=300_000)
    note: str | None = Field(None, max_length=2000, description="what changed and why")


class ParagraphChange(BaseModel):
    paragraph_id: uuid.UUID
    change: str = Field(description="same | changed | added | removed")
    before: str | None
    after: str | None
    comments: int = Field(description="published comments on this paragraph")


class VersionDiff(BaseModel):
    from_version: int
    to_version: int
    paragraphs: list[ParagraphChange]


def signed_as(author_name: str, organisation_name: str | None) -> str:
    """How a comment or an answer is signed wherever it is shown: the author's full name (R-3.5), or
    for an institution «Назва установи (від імені: ПІБ)» (R-2.2)."""
    return f"{organisation_name} (від імені: {author_name})" if organisation_name else author_name


PRIVATE_PERSON = "private"  # a respondent acting in their own name; institutions by contracts.registry kind
WEB_CHANNEL = "web"  # a comment or an answer given on the site
ON_BEHALF_OF = Field(None, description="the id of an institution the actor heads, once confirmed (R-2.2): "
                                       "the comment or answer is the institution's, signed "
                                       "«Назва установи (від імені: ПІБ)»")


class CommentIn(Strict):
    body: str = Field(min_length=2, max_length=5000)
    alternative_id: uuid.UUID | None = Field(None, description="comment on one alternative")
    paragraph_id: uuid.UUID | None = Field(None, description="comment on one paragraph of a draft act")
    on_behalf_of: uuid.UUID | None = ON_BEHALF_OF


class OfflineCommentIn(Strict):
    """A submission received on paper, by e-mail, at a hearing or at an administrative service centre,
    registered by an official of the owning unit; no account is needed for its author."""

    channel: Channel = Field(description="how it was received; `web` is refused here")
    received_on: date = Field(description="the day it was received: not in the future, not before the "
                                          "consultation started, not after its last day")
    author_name: SingleLine = Field(min_length=3, max_length=300, description="the author's name as written")
    body: str = Field(min_length=2, max_length=20000, description="the text, as received (transcribed)")
    alternative_id: uuid.UUID | None = Field(None, description="on one alternative")
    paragraph_id: uuid.UUID | None = Field(None, description="on one paragraph of a draft act")
    scan_id: uuid.UUID | None = Field(None, description="the scan, attached first as `kind=scan` "
                                      "(`POST …/attachments`); seen only by the owning unit and moderators")


class CommentOut(BaseModel):
    id: uuid.UUID
    consultation_id: uuid.UUID
    author_name: str = Field(description="published with the author's full name (R-3.5); for a submission "
                                         "received offline, the name as written")
    organisation_id: uuid.UUID | None = Field(None, description="the institution it was written for (R-2.2)")
    organisation_name: str | None = None
    organisation_kind: str | None = Field(None, description="the institution's kind (contracts.registry)")
    alternative_id: uuid.UUID | None
    paragraph_id: uuid.UUID | None = None
    body: str
    status: str = Field(description="pending until moderation publishes or rejects it")
    created_at: datetime
    rejection_grounds: list[str] | None = Field(None, description="to the author only (R-3.9)")
    channel: Channel = Field(Channel.web, description="how it was received (`CHANNEL_LABELS`)")
    received_on: date | None = Field(None, description="offline channels: the day it was received")
    scan_id: uuid.UUID | None = Field(None, description="offline: the scan's attachment, for the owning unit "
                                                         "and moderators only")

    @computed_field(description="the signature shown: the full name, or «Назва установи (від імені: ПІБ)»")
    @property
    def signed_as(self) -> str:
        return signed_as(self.author_name, self.organisation_name)


class InitiativeDecision(Strict):
    """The competent unit's conclusion on a forwarded initiative (R-3.10)."""

    accept: bool
    conclusion: str = Field(min_length=5, max_length=10000)


class CommentPage(BaseModel):
    items: list[CommentOut]
    total: int
    page: int
    per_page: int


class ConsultationView(BaseModel):
    """What a consultation's page shows, read in one call: the consultation, a page of its comments,
    the comments on the draft act's paragraphs (the first 100, oldest first) and the live tallies
    (public consultations only)."""
    consultation: ConsultationOut
    comments: CommentPage
    paragraph_comments: list[CommentOut] = Field(default_factory=list)
    results: Results | None = None


# ---- the annual indicative plan (R-3.3) ---------------------------------------------------------

class PlanStatus(str, Enum):
    proposed = "proposed"    # a proposal waiting for an official
    planned = "planned"
    held = "held"            # the consultation took place (linked)
    cancelled = "cancelled"
    declined = "declined"    # a proposal not taken into the plan


PLAN_STATUS_LABELS = {"proposed": "запропоновано", "planned": "заплановано", "held": "проведено",
                      "cancelled": "скасовано", "declined": "не включено до плану"}
PUBLIC_PLAN_STATUSES = (PlanStatus.planned, PlanStatus.held, PlanStatus.cancelled)


class PlanEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: SingleLine = Field(min_length=5, max_length=500)
    category: int = Field(ge=1, le=22)
    planned_quarter: int | None = Field(None, ge=1, le=4)
    note: str | None = Field(None, max_length=5000)


class PlanEntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: PlanStatus | None = None
    planned_quarter: int | None = Field(None, ge=1, le=4)
    consultation_id: uuid.UUID | None = None


class PlanEntryOut(BaseModel):
    id: uuid.UUID
    year: int
    title: str
    category: int
    unit_name: str | None
    planned_quarter: int | None
    status: PlanStatus
    consultation_id: uuid.UUID | None
    proposer_name: str | None
    note: str | None


class Plan(BaseModel):
    year: int
    items: list[PlanEntryOut]


# ---- events -------------------------------------------------------------------------------------

@event("consultations", "consultation_submitted")
class ConsultationSubmitted(EventData):
    """A resident or an institution head submitted an initiative; it goes to moderation (R-3.10)."""

    consultation_id: uuid.UUID
    title: str
    question: str
    category: int
    initiator_id: uuid.UUID
    submitted_at: datetime


@event("consultations", "consultation_published")
class ConsultationPublished(EventData):
    """A consultation starts today (R-1.10, R-3.4): interested persons are to be e-mailed."""

    consultation_id: uuid.UUID
    title: str
    question: str = Field("", description="the question, shortened to 500 characters")
    category: int
    form: Form
    starts_on: date
    ends_on: date
    url: str
    initiator_id: uuid.UUID | None = None


@event("consultations", "consultation_closed")
class ConsultationClosed(EventData):
    """The last day of a consultation has ended (Europe/Kyiv)."""

    consultation_id: uuid.UUID
    closed_at: datetime
    report_due: datetime = Field(description="R-3.17: 15 calendar days after closing")
    comments: dict[str, int] | None = Field(
        None, description="submitted comments by moderation status (pending, published, rejected) at closing: "
                          "the reports service checks its read model against them")
    respondents: int | None = Field(None, description="persons who answered the survey or supported an "
                                                      "alternative, at closing")


@event("consultations", "comment_submitted")
class CommentSubmittedV1(EventData):
    """A comment waits for moderation (R-3.7) before it is published. Deprecated by version 2 (a
    submission received offline has no account: `author_id` may be null there); published beside it
    for comments written on the service only."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str
    organisation_id: uuid.UUID | None = Field(None, description="written for this institution (R-2.2)")
    organisation_name: str | None = None
    organisation_kind: str | None = None
    alternative_id: uuid.UUID | None = None
    paragraph_id: uuid.UUID | None = None
    body: str
    submitted_at: datetime
    screening: Screening | None = Field(
        None, description="R-3.7: the moderation rules' outcome where the comment was written; `pass` means "
                          "it was published in the same transaction (comment_published follows), `hold` that it "
                          "waits for a moderator. Absent: moderation screens it on receipt")


def _v1_when_it_has_an_author(data: EventData, version: int):
    """A fact about a comment in version 1 of its type, which requires an author's account: None (not
    published in version 1) for a submission received offline."""
    if version == 1 and data.author_id is None:
        return None
    return EventData.as_version(data, version)


@event("consultations", "comment_submitted", version=2)
class CommentSubmitted(EventData):
    """A comment waits for moderation (R-3.7) before it is published: written on the service, or
    received offline and registered by an official of the owning unit (`channel`, `received_on`,
    `entered_by`; no account behind it: `author_id` null)."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    author_id: uuid.UUID | None = Field(description="null for a submission received offline (no account)")
    author_name: str = Field(description="the verified full name, or the name as written on a submission "
                                         "received offline")
    organisation_id: uuid.UUID | None = Field(None, description="written for this institution (R-2.2)")
    organisation_name: str | None = None
    organisation_kind: str | None = None
    alternative_id: uuid.UUID | None = None
    paragraph_id: uuid.UUID | None = None
    body: str
    submitted_at: datetime = Field(description="when it was written, or registered (offline)")
    screening: Screening | None = Field(
        None, description="R-3.7: the moderation rules' outcome where the comment was written; `pass` means "
                          "it was published in the same transaction (comment_published follows), `hold` that it "
                          "waits for a moderator. Absent: moderation screens it on receipt")
    channel: Channel = Field(Channel.web, description="how it was received")
    received_on: date | None = Field(None, description="offline channels: the day it was received")
    entered_by: uuid.UUID | None = Field(None, description="offline channels: the official who registered it")

    as_version = _v1_when_it_has_an_author


@event("consultations", "survey_answered")
class SurveyAnswered(EventData):
    """A person answered the survey or supported an alternative (R-1.9, R-3.12): a participant of the
    consultation, for the report's participants (R-3.16). Sending again replaces the answers, so
    the same person may be announced more than once."""

    consultation_id: uuid.UUID
    person_id: uuid.UUID
    answered_at: datetime


@event("consultations", "comment_published")
class CommentPublishedV1(EventData):
    """Deprecated by version 2 (`author_id` may be null); published beside it for comments written
    on the service only."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    author_id: uuid.UUID


@event("consultations", "comment_published", version=2)
class CommentPublished(EventData):
    """A comment is public: written on the service, or received offline (`author_id` null)."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    author_id: uuid.UUID | None = Field(description="null for a submission received offline")

    as_version = _v1_when_it_has_an_author


@event("consultations", "comment_rejected")
class CommentWasRejectedV1(EventData):
    """A comment is not (or no longer) public; its author sees the grounds in the cabinet (R-3.9).
    Deprecated by version 2 (`author_id` may be null); published beside it for comments written on
    the service only."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    author_id: uuid.UUID
    grounds: list[str]


@event("consultations", "comment_rejected", version=2)
class CommentWasRejected(EventData):
    """A comment is not (or no longer) public; its author sees the grounds in the cabinet (R-3.9);
    a submission received offline (`author_id` null) has no cabinet to tell."""

    comment_id: uuid.UUID
    consultation_id: uuid.UUID
    author_id: uuid.UUID | None = Field(description="null for a submission received offline")
    grounds: list[str]

    as_version = _v1_when_it_has_an_author


@event("consultations", "initiative_status_changed")
class InitiativeStatusChanged(EventData):
    """For the initiator's cabinet (R-3.11): forwarded, accepted, declined, rejected."""

    consultation_id: uuid.UUID
    initiator_id: uuid.UUID
    status: str
    title: str


ConsultationOut.model_rebuild()


@event("consultations", "decision_published")
class DecisionPublished(EventData):
    """The decision adopted on the basis of a consultation is published (R-3.18)."""

    consultation_id: uuid.UUID
    number: str
    adopted_on: date
    title: str
    url: str
    on_time: bool


class Deadline(BaseModel):
    consultation_id: uuid.UUID
    title: str
    unit_name: str | None
    kind: str = Field(description="moderation (R-3.10) | report (R-3.17) | decision (R-3.18)")
    due: datetime
    done_at: datetime | None
    overdue: bool = Field(description="missed: not done by the due time, or done late")


class DeadlineList(BaseModel):
    items: list[Deadline]


@event("consultations", "consultation_archived")
class ConsultationArchived(EventData):
    """The consultation is archived: read-only, kept at least five years after the decision (R-1.11)."""

    consultation_id: uuid.UUID
    archived_at: datetime
    decision_adopted_on: date | None = None


# ---- what the reports service reads (R-3.14, R-3.16; the gateway exposes none of it) ----------------

class ClosingCounts(BaseModel):
    comments: dict[str, int] = Field(description="submitted comments by moderation status")
    respondents: int = Field(description="persons who answered the survey or supported an alternative")


class ReportSource(BaseModel):
    """The consultation as the public sees it, its tallies, and what the report service decides by."""

    consultation: ConsultationOut
    results: Results
    unit_id: uuid.UUID | None
    status: Status
    opened_at: datetime | None
    closed_at: datetime | None
    report_due: datetime | None
    archived_at: datetime | None
    counts: ClosingCounts = Field(description="the counts as they are now")


class ReportComment(BaseModel):
    """A submitted comment with its moderation outcome (the protocol lists every one)."""

    id: uuid.UUID
    author_id: uuid.UUID | None
    author_name: str
    organisation_name: str | None = Field(None, description="written for this institution (R-2.2)")
    body: str
    created_at: datetime
    alternative_id: uuid.UUID | None
    paragraph_id: uuid.UUID | None
    channel: Channel = Channel.web
    status: str = Field(description="published, pending or rejected")
    decided_at: datetime | None
    rejection_grounds: list[str] = Field(description="codes of R-3.7 / R-1.5 grounds; empty unless rejected")
    rejection_note: str | None


class ReportCommentPage(BaseModel):
    items: list[ReportComment]
    next_after: list[str] | None = Field(description="`[created_at, id]` of the last item: pass as `after`; "
                                         "null at the end")


class ReportRespondentPage(BaseModel):
    """Persons who answered the survey or supported an alternative, by id."""

    items: list[uuid.UUID]
    next_after: uuid.UUID | None


class RespondentBreakdown(BaseModel):
    """Who has taken part so far, counted by respondent (a person acting in their own name, or an
    institution however many of its heads acted): authors of published comments, survey respondents
    and supporters of an alternative."""

    status: Status
    unit_id: uuid.UUID | None
    opened_at: datetime | None
    by_type: dict[str, int] = Field(description=f"`{PRIVATE_PERSON}` and each institution kind → respondents")
    by_channel: dict[str, int] = Field(description="channel → respondents that used it (`web` for the site)")


class YearCount(BaseModel):
    category: int
    status: Status
    count: int


# ---- RPC ------------------------------------------------------------------------------------------

class Consultations(RpcContract, service="consultations"):
    """The consultations service's RPC methods; an instance is its typed client."""

    def list_categories(self) -> list[Category]:
        """The 22 categories of R-1.13."""

    def create(self, actor: Principal | None, body: ConsultationIn) -> ConsultationOut:
        """An official's draft, or an initiative that goes to moderation (R-3.10)."""

    def update_draft(self, actor: Principal | None, consultation_id: uuid.UUID,
                     body: Annotated[ConsultationPatch, WIRE_PATCH]) -> ConsultationOut:
        """Edit a draft; omitted fields stay as they are."""

    def publish(self, actor: Principal | None, consultation_id: uuid.UUID) -> ConsultationOut:
        """Publish a draft (R-3.13 fields complete, term long enough)."""

    def get(self, actor: Principal | None, consultation_id: uuid.UUID) -> ConsultationOut:
        """One consultation as ``actor`` may see it."""

    def list(self, status: Status | None = None, category: int | None = None, form: Form | None = None,
             page: Page = 1, per_page: PerPage = 20, q: str | None = None, unit: str | None = None,
             year: Year | None = None) -> ConsultationPage:
        """Published consultations, filtered; may lag behind writes (read replica)."""

    def deadlines(self, actor: Principal | None, only_overdue: bool = False) -> DeadlineList:
        """The R-3.10, R-3.17 and R-3.18 deadlines the actor answers for."""

    def archive(self, actor: Principal | None, consultation_id: uuid.UUID) -> ConsultationOut:
        """Archive a consultation whose decision is recorded (R-3.18)."""

    def plan(self, actor: Principal | None, year: Year) -> Plan:
        """The annual indicative plan (R-3.3)."""

    def plan_add(self, actor: Principal | None, year: Year, body: PlanEntryIn) -> PlanEntryOut:
        """An official's entry for their unit, or an eligible person's proposal."""

    def plan_change(self, actor: Principal | None, entry_id: uuid.UUID,
                    body: Annotated[PlanEntryPatch, WIRE_PATCH]) -> PlanEntryOut:
        """An official takes a proposal into the plan, declines it, or moves an entry on."""

    def public_catalogue(self) -> list[ConsultationSummary]:
        """Every public consultation, for feeds and open data (R-1.4, R-1.7)."""

    def add_attachment(self, actor: Principal | None, consultation_id: uuid.UUID, meta: AttachmentMeta) -> AttachmentOut:
        """Record a stored file as a material or the decision's file."""

    def get_attachment(self, actor: Principal | None, consultation_id: uuid.UUID,
                       attachment_id: uuid.UUID) -> AttachmentOut:
        """An attachment's metadata, if ``actor`` may see the consultation."""

    def record_decision(self, actor: Principal | None, consultation_id: uuid.UUID, body: DecisionIn) -> ConsultationOut:
        """The adopted decision (R-3.18)."""

    def add_comment(self, actor: Principal | None, consultation_id: uuid.UUID, body: CommentIn,
                    buckets: list[Bucket] | None = None) -> CommentOut:
        """A comment, pending until moderation (R-3.10, R-3.12). ``buckets``: the gateway's write
        limits, counted in the transaction that writes the comment (refused: 429 ``rate_limited``,
        nothing written)."""

    def rate_hit(self, buckets: list[Bucket]) -> int:
        """The gateway's write limits (OWASP API4): count one request per bucket; seconds to wait, or 0.
        Every write counts here (a comment in its own transaction, ``add_comment``), so each limit
        is one counter whatever the route, the gateway worker or the instance."""

    def add_offline_comment(self, actor: Principal | None, consultation_id: uuid.UUID,
                            body: OfflineCommentIn) -> CommentOut:
        """A submission received offline, registered by an official of the owning unit; screened and
        moderated like any comment."""

    def list_comments(self, actor: Principal | None, consultation_id: uuid.UUID, page: Page = 1,
                      per_page: PerPage = 20, newest_first: bool = True, alternative_id: uuid.UUID | None = None,
                      paragraph_id: uuid.UUID | None = None) -> CommentPage:
        """Published comments, and the actor's own pending ones."""

    def page(self, actor: Principal | None, consultation_id: uuid.UUID, page: Page = 1, per_page: PerPage = 20,
             newest_first: bool = True) -> ConsultationView:
        """A consultation's page in one call: the consultation, a page of its comments, the comments on
        its paragraphs and the live tallies (what ``get``, ``list_comments`` and ``results`` answer)."""

    def new_version(self, actor: Principal | None, consultation_id: uuid.UUID, body: NewVersionIn) -> ConsultationOut:
        """A new version of a draft act."""

    def version_diff(self, actor: Principal | None, consultation_id: uuid.UUID, a: int, b: int) -> VersionDiff:
        """What changed between two versions of a draft act."""

    def respond(self, actor: Principal | None, consultation_id: uuid.UUID, body: ResponseIn) -> Results:
        """Survey answers and/or support of one alternative."""

    def results(self, actor: Principal | None, consultation_id: uuid.UUID) -> Results:
        """Tallies of a survey or of the alternatives."""

    def decide_initiative(self, actor: Principal | None, consultation_id: uuid.UUID,
                          body: InitiativeDecision) -> ConsultationOut:
        """The competent unit's conclusion on an initiative (R-3.10)."""

    def my_comments(self, actor: Principal | None) -> list[CommentOut]:
        """The actor's comments with their moderation status."""

    def my_initiatives(self, actor: Principal | None) -> list[MyInitiative]:
        """The actor's initiatives with their status."""

    def report_source(self, consultation_id: uuid.UUID) -> ReportSource:
        """What the report is made from (reports service)."""

    def report_comments(self, consultation_id: uuid.UUID, after: list[str] | None = None, limit: FeedLimit = 1000,
                        everything: bool = False) -> ReportCommentPage:
        """One keyset page of comments, oldest first: published ones, or every one (``everything``)."""

    def report_respondents(self, consultation_id: uuid.UUID, after: uuid.UUID | None = None,
                           limit: FeedLimit = 1000) -> ReportRespondentPage:
        """One keyset page of the persons who answered or supported an alternative."""

    def report_returning(self, consultation_id: uuid.UUID,
                         person_ids: Annotated[list[uuid.UUID], Field(max_length=FEED_PAGE_MAX)]) -> list[uuid.UUID]:
        """Of these persons, those who took part in a consultation opened before this one."""

    def respondent_breakdown(self, consultation_id: uuid.UUID) -> RespondentBreakdown:
        """Respondents so far by type and by channel, with the status and owning unit (reports)."""

    def year_counts(self, year: Year) -> list[YearCount]:
        """Consultations that started in ``year``, by category and status."""
