"""Consultations, initiatives and comments (issue: Consultations; R-1.3, R-3.10, R-3.13)."""
from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from contracts.consultations import (CommentIn, CommentOut, CommentPage, ConsultationIn, ConsultationOut,
                                     ConsultationPage, ConsultationPatch, ConsultationView, DeadlineList,
                                     DecisionIn, Form,
                                     InitiativeDecision, MyInitiative, NewVersionIn, OfflineCommentIn, ResponseIn,
                                     Results,
                                     Status, VersionDiff)
from contracts.common import PerPage, Year
from contracts.identity import Role
from gateway import abuse, auth
from gateway.clients import consultations as svc
from gateway.openapi import ApiSpec


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    category: int | None = Field(None, ge=1, le=22)
    form: Form | None = None
    q: str | None = Field(None, min_length=2, max_length=200, description="full-text search")
    unit: str | None = Field(None, max_length=300, description="owning structural unit: its `id` from "
                             "`/api/v1/units` (a unit's name still works); an id of no unit: an empty list")
    year: Year | None = None
    page: int = Field(1, ge=1, le=10_000)
    per_page: PerPage = 20


class CommentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=100_000)
    per_page: PerPage = 20
    order: str = Field("newest", pattern="^(newest|oldest)$")
    alternative_id: uuid.UUID | None = None
    paragraph_id: uuid.UUID | None = None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=100_000, description="page of comments")
    per_page: PerPage = 20
    order: str = Field("newest", pattern="^(newest|oldest)$")


def actor():
    """The acting person, passed to the services as it is (a ``Principal``, or None)."""
    return auth.current_principal()


# ---- rules shared by the API views and the web pages (gateway/web) -------------------------------

def create(body: ConsultationIn) -> ConsultationOut:
    """An official's draft, or an initiative from an eligible resident or institution head."""
    principal = auth.require_consent()
    if not principal.has(Role.official):
        auth.require_eligible()  # says why when not
    return svc.create(actor(), body)


def add_comment(consultation_id: uuid.UUID, body: CommentIn) -> CommentOut:
    """The write limits are counted in the transaction that writes the comment (gateway.abuse)."""
    auth.require_eligible()
    return svc.add_comment(actor(), consultation_id, body, abuse.buckets_to_count())


def add_offline_comment(consultation_id: uuid.UUID, body: OfflineCommentIn) -> CommentOut:
    """A submission received offline, registered by an official of the owning unit (the service
    checks the unit: 404 where the consultation is hidden, 403 where it is public)."""
    auth.require_role(Role.official)
    return svc.add_offline_comment(actor(), consultation_id, body)


def respond(consultation_id: uuid.UUID, body: ResponseIn) -> Results:
    auth.require_eligible()
    return svc.respond(actor(), consultation_id, body)


def page_view(consultation_id: uuid.UUID, query: PageQuery) -> ConsultationView:
    """A consultation's page in one RPC (the web page and ``GET …/page``)."""
    return svc.page(actor(), consultation_id, query.page, query.per_page, query.order == "newest")


def register(spec: ApiSpec):
    api = spec.blueprint("consultations", "/api/v1")

    @api.route("/consultations", summary="Published consultations; filters by status, category, form",
               query=ListQuery, response=ConsultationPage, tags=["consultations"])
    def consultations_list(query: ListQuery):
        return svc.list(query.status, query.category, query.form, query.page, query.per_page, query.q, query.unit,
                        query.year)

    @api.route("/consultations", "POST", summary="An official drafts a consultation; a resident or an "
               "institution head submits an initiative, which goes to moderation (R-3.10)",
               body=ConsultationIn, response=ConsultationOut, status=201, tags=["consultations"],
               auth="consent", errors=(403,))
    def consultations_create(body: ConsultationIn):
        return create(body), 201

    @api.route("/consultations/<uuid:consultation_id>", summary="One consultation (404 when the caller "
               "may not see it)", response=ConsultationOut, tags=["consultations"], errors=(404,))
    def consultations_get(consultation_id: uuid.UUID):
        return svc.get(actor(), consultation_id)

    @api.route("/consultations/<uuid:consultation_id>/page", summary="What a consultation's page shows, "
               "in one call: the consultation, a page of its comments, the comments on its paragraphs, the "
               "live tallies (404 when the caller may not see it)", query=PageQuery, response=ConsultationView,
               tags=["consultations"], errors=(404,))
    def consultations_page(consultation_id: uuid.UUID, query: PageQuery):
        return page_view(consultation_id, query)

    @api.route("/consultations/<uuid:consultation_id>", "PATCH", summary="Edit a draft (owning unit)",
               body=ConsultationPatch, response=ConsultationOut, tags=["consultations"],
               auth=(Role.official,), errors=(404, 409))
    def consultations_patch(consultation_id: uuid.UUID, body: ConsultationPatch):
        return svc.update_draft(actor(), consultation_id, body)

    @api.route("/consultations/<uuid:consultation_id>/publish", "POST", summary="Publish a draft: "
               "refused while an R-3.13 field is missing or the term is too short, naming what",
               response=ConsultationOut, tags=["consultations"], auth=(Role.official,), errors=(404, 409))
    def consultations_publish(consultation_id: uuid.UUID):
        return svc.publish(actor(), consultation_id)

    @api.route("/consultations/<uuid:consultation_id>/comments", summary="Published comments with "
               "their authors' full names, and the caller's own pending ones", query=CommentQuery,
               response=CommentPage, tags=["comments"], errors=(404,))
    def comments_list(consultation_id: uuid.UUID, query: CommentQuery):
        return svc.list_comments(actor(), consultation_id, query.page, query.per_page, query.order == "newest",
                                 query.alternative_id, query.paragraph_id)

    @api.route("/consultations/<uuid:consultation_id>/comments", "POST", summary="Comment (eligible "
               "persons, while active); pending until moderation", body=CommentIn, response=CommentOut,
               status=201, tags=["comments"], auth="consent", errors=(403, 404, 409))
    def comments_create(consultation_id: uuid.UUID, body: CommentIn):
        return add_comment(consultation_id, body), 201

    @api.route("/consultations/<uuid:consultation_id>/offline-comments", "POST", summary="Register a "
               "submission received on paper, by e-mail, at a hearing or at an administrative service centre "
               "(officials of the owning unit; the author needs no account): `channel`, `received_on` (not in "
               "the future, not before the start, not after the last day), the name as written, the text, the "
               "target and an optional scan (`POST …/attachments` with `kind=scan` first). Screened and moderated "
               "like any comment; while active, and after closing until the report is published",
               body=OfflineCommentIn, response=CommentOut, status=201, tags=["comments"], auth=(Role.official,),
               errors=(403, 404, 409))
    def offline_comments_create(consultation_id: uuid.UUID, body: OfflineCommentIn):
        return add_offline_comment(consultation_id, body), 201

    @api.route("/consultations/<uuid:consultation_id>/responses", "POST", summary="Answer the survey "
               "and/or support one alternative; sending again replaces the earlier answers until close",
               body=ResponseIn, response=Results, tags=["participation"], auth="consent",
               errors=(403, 404, 409))
    def responses_create(consultation_id: uuid.UUID, body: ResponseIn):
        return respond(consultation_id, body)

    @api.route("/consultations/<uuid:consultation_id>/results", summary="Live tallies: supporters of "
               "each alternative, answers to each survey question (R-3.12)", response=Results,
               tags=["participation"], errors=(404,))
    def results_get(consultation_id: uuid.UUID):
        return svc.results(actor(), consultation_id)

    @api.route("/consultations/<uuid:consultation_id>/initiative-decision", "POST", summary="The unit an "
               "initiative was passed to accepts it (it becomes the unit's draft, the author shown) or "
               "declines it with a conclusion (R-3.10)", body=InitiativeDecision, response=ConsultationOut,
               tags=["consultations"], auth=(Role.official,), errors=(404, 409))
    def initiative_decision(consultation_id: uuid.UUID, body: InitiativeDecision):
        return svc.decide_initiative(actor(), consultation_id, body)

    @api.route("/consultations/<uuid:consultation_id>/versions", "POST", summary="A new version of a "
               "draft act; paragraph ids carry over where the paragraph survives", body=NewVersionIn,
               response=ConsultationOut, status=201, tags=["consultations"], auth=(Role.official,),
               errors=(404, 409))
    def versions_create(consultation_id: uuid.UUID, body: NewVersionIn):
        return svc.new_version(actor(), consultation_id, body), 201

    @api.route("/consultations/<uuid:consultation_id>/versions/<int:a>/diff/<int:b>", summary="Paragraph-"
               "by-paragraph changes between two versions of a draft act, with the comments on each",
               response=VersionDiff, tags=["consultations"], errors=(404,))
    def versions_diff(consultation_id: uuid.UUID, a: int, b: int):
        return svc.version_diff(actor(), consultation_id, a, b)

    @api.route("/consultations/<uuid:consultation_id>/decision", "POST", summary="Record the decision "
               "adopted on the basis of the consultation (R-3.18); public at once, its 5-working-day "
               "publication deadline kept", body=DecisionIn, response=ConsultationOut, status=201,
               tags=["consultations"], auth=(Role.official,), errors=(404, 409))
    def decision_create(consultation_id: uuid.UUID, body: DecisionIn):
        return svc.record_decision(actor(), consultation_id, body), 201

    class DeadlineQuery(BaseModel):
        model_config = ConfigDict(extra="forbid")
        overdue: bool = False

    @api.route("/deadlines", summary="Moderation (R-3.10), report (R-3.17) and decision (R-3.18) deadlines "
               "due and overdue, for officials of the owning unit and moderators", query=DeadlineQuery,
               response=DeadlineList, tags=["consultations"], auth=(Role.official, Role.moderator, Role.admin))
    def deadlines(query: DeadlineQuery):
        return svc.deadlines(actor(), query.overdue)

    @api.route("/consultations/<uuid:consultation_id>/archive", "POST", summary="Archive a closed "
               "consultation: read-only from then on (R-1.11)", response=ConsultationOut,
               tags=["consultations"], auth=(Role.official, Role.admin), errors=(404, 409))
    def consultations_archive(consultation_id: uuid.UUID):
        return svc.archive(actor(), consultation_id)

    class MyComments(BaseModel):
        items: list[CommentOut]

    @api.route("/me/comments", summary="My comments with their status and, when rejected, the grounds "
               "(R-3.9)", response=MyComments, tags=["cabinet"], auth="login")
    def my_comments():
        auth.require_login()
        return MyComments(items=svc.my_comments(actor()))

    class MyInitiatives(BaseModel):
        items: list[MyInitiative]

    @api.route("/me/initiatives", summary="My initiatives with their status and the moderators' grounds "
               "or the unit's conclusion (R-3.10, R-3.11)", response=MyInitiatives, tags=["cabinet"],
               auth="login")
    def my_initiatives():
        auth.require_login()
        return MyInitiatives(items=svc.my_initiatives(actor()))

    return api
