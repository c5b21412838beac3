"""Consultations, initiatives and comments (issue: Consultations; R-1.3, R-3.10, R-3.13)."""
from __future__ import annotations

import uuid

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field

from contracts.consultations import (CommentIn, CommentOut, CommentPage, ConsultationIn, ConsultationOut,
                                     ConsultationPage, ConsultationPatch, DeadlineList, DecisionIn, Form,
                                     InitiativeDecision, MyInitiative, NewVersionIn, ResponseIn, Results,
                                     Status, VersionDiff)
from contracts.identity import Role
from gateway import auth
from gateway.openapi import ApiSpec


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    category: int | None = Field(None, ge=1, le=22)
    form: Form | None = None
    q: str | None = Field(None, min_length=2, max_length=200, description="full-text search")
    unit: str | None = Field(None, max_length=300, description="owning structural unit: its `id` from "
                             "`/api/v1/units` (a unit's name still works); an id of no unit: an empty list")
    year: int | None = Field(None, ge=2000, le=2100)
    page: int = Field(1, ge=1, le=10_000)
    per_page: int = Field(20, ge=1, le=100)


class CommentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=100)
    order: str = Field("newest", pattern="^(newest|oldest)$")
    alternative_id: uuid.UUID | None = None
    paragraph_id: uuid.UUID | None = None


def rpc(method: str, *args, **kwargs):
    return current_app.extensions["rpc"].call("consultations", method, *args, **kwargs)


def actor() -> dict | None:
    principal = auth.current_principal()
    return principal.model_dump(mode="json") if principal else None


# ---- rules shared by the API views and the web pages (gateway/web) -------------------------------

def create(body: ConsultationIn) -> ConsultationOut:
    """An official's draft, or an initiative from an eligible resident or institution head."""
    principal = auth.require_consent()
    if not principal.has(Role.official):
        auth.require_eligible()  # says why when not
    return ConsultationOut(**rpc("create", actor(), body.model_dump(mode="json")))


def add_comment(consultation_id: uuid.UUID, body: CommentIn) -> CommentOut:
    auth.require_eligible()
    return CommentOut(**rpc("add_comment", actor(), str(consultation_id), body.model_dump(mode="json")))


def respond(consultation_id: uuid.UUID, body: ResponseIn) -> Results:
    auth.require_eligible()
    return Results(**rpc("respond", actor(), str(consultation_id), body.model_dump(mode="json")))


def register(spec: ApiSpec):
    api = spec.blueprint("consultations", "/api/v1")

    @api.route("/consultations", summary="Published consultations; filters by status, category, form",
               query=ListQuery, response=ConsultationPage, tags=["consultations"])
    def consultations_list(query: ListQuery):
        return ConsultationPage(**rpc("list", query.status.value if query.status else None, query.category,
                                      query.form.value if query.form else None, query.page, query.per_page,
                                      query.q, query.unit, query.year))

    @api.route("/consultations", "POST", summary="An official drafts a consultation; a resident or an "
               "institution head submits an initiative, which goes to moderation (R-3.10)",
               body=ConsultationIn, response=ConsultationOut, status=201, tags=["consultations"],
               auth="consent", errors=(403,))
    def consultations_create(body: ConsultationIn):
        return create(body), 201

    @api.route("/consultations/<uuid:consultation_id>", summary="One consultation (404 when the caller "
               "may not see it)", response=ConsultationOut, tags=["consultations"], errors=(404,))
    def consultations_get(consultation_id: uuid.UUID):
        return ConsultationOut(**rpc("get", actor(), str(consultation_id)))

    @api.route("/consultations/<uuid:consultation_id>", "PATCH", summary="Edit a draft (owning unit)",
               body=ConsultationPatch, response=ConsultationOut, tags=["consultations"],
               auth=(Role.official,), errors=(404, 409))
    def consultations_patch(consultation_id: uuid.UUID, body: ConsultationPatch):
        return ConsultationOut(**rpc("update_draft", actor(), str(consultation_id),
                                     body.model_dump(mode="json", exclude_unset=True)))

    @api.route("/consultations/<uuid:consultation_id>/publish", "POST", summary="Publish a draft: "
               "refused while an R-3.13 field is missing or the term is too short, naming what",
               response=ConsultationOut, tags=["consultations"], auth=(Role.official,), errors=(404, 409))
    def consultations_publish(consultation_id: uuid.UUID):
        return ConsultationOut(**rpc("publish", actor(), str(consultation_id)))

    @api.route("/consultations/<uuid:consultation_id>/comments", summary="Published comments with "
               "their authors' full names, and the caller's own pending ones", query=CommentQuery,
               response=CommentPage, tags=["comments"], errors=(404,))
    def comments_list(consultation_id: uuid.UUID, query: CommentQuery):
        return CommentPage(**rpc("list_comments", actor(), str(consultation_id), query.page, query.per_page,
                                 query.order == "newest",
                                 str(query.alternative_id) if query.alternative_id else None,
                                 str(query.paragraph_id) if query.paragraph_id else None))

    @api.route("/consultations/<uuid:consultation_id>/comments", "POST", summary="Comment (eligible "
               "persons, while active); pending until moderation", body=CommentIn, response=CommentOut,
               status=201, tags=["comments"], auth="consent", errors=(403, 404, 409))
    def comments_create(consultation_id: uuid.UUID, body: CommentIn):
        return add_comment(consultation_id, body), 201

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
        return Results(**rpc("results", actor(), str(consultation_id)))

    @api.route("/consultations/<uuid:consultation_id>/initiative-decision", "POST", summary="The unit an "
               "initiative was passed to accepts it (it becomes the unit's draft, the author shown) or "
               "declines it with a conclusion (R-3.10)", body=InitiativeDecision, response=ConsultationOut,
               tags=["consultations"], auth=(Role.official,), errors=(404, 409))
    def initiative_decision(consultation_id: uuid.UUID, body: InitiativeDecision):
        return ConsultationOut(**rpc("decide_initiative", actor(), str(consultation_id), body.model_dump()))

    @api.route("/consultations/<uuid:consultation_id>/versions", "POST", summary="A new version of a "
               "draft act; paragraph ids carry over where the paragraph survives", body=NewVersionIn,
               response=ConsultationOut, status=201, tags=["consultations"], auth=(Role.official,),
               errors=(404, 409))
    def versions_create(consultation_id: uuid.UUID, body: NewVersionIn):
        return ConsultationOut(**rpc("new_version", actor(), str(consultation_id), body.model_dump())), 201

    @api.route("/consultations/<uuid:consultation_id>/versions/<int:a>/diff/<int:b>", summary="Paragraph-"
               "by-paragraph changes between two versions of a draft act, with the comments on each",
               response=VersionDiff, tags=["consultations"], errors=(404,))
    def versions_diff(consultation_id: uuid.UUID, a: int, b: int):
        return VersionDiff(**rpc("version_diff", actor(), str(consultation_id), a, b))

    @api.route("/consultations/<uuid:consultation_id>/decision", "POST", summary="Record the decision "
               "adopted on the basis of the consultation (R-3.18); public at once, its 5-working-day "
               "publication deadline kept", body=DecisionIn, response=ConsultationOut, status=201,
               tags=["consultations"], auth=(Role.official,), errors=(404, 409))
    def decision_create(consultation_id: uuid.UUID, body: DecisionIn):
        return ConsultationOut(**rpc("record_decision", actor(), str(consultation_id), body.model_dump(mode="json"))), 201

    class DeadlineQuery(BaseModel):
        model_config = ConfigDict(extra="forbid")
        overdue: bool = False

    @api.route("/deadlines", summary="Moderation (R-3.10), report (R-3.17) and decision (R-3.18) deadlines "
               "due and overdue, for officials of the owning unit and moderators", query=DeadlineQuery,
               response=DeadlineList, tags=["consultations"], auth=(Role.official, Role.moderator, Role.admin))
    def deadlines(query: DeadlineQuery):
        return DeadlineList(**rpc("deadlines", actor(), query.overdue))

    @api.route("/consultations/<uuid:consultation_id>/archive", "POST", summary="Archive a closed "
               "consultation: read-only from then on (R-1.11)", response=ConsultationOut,
               tags=["consultations"], auth=(Role.official, Role.admin), errors=(404, 409))
    def consultations_archive(consultation_id: uuid.UUID):
        return ConsultationOut(**rpc("archive", actor(), str(consultation_id)))

    class MyComments(BaseModel):
        items: list[CommentOut]

    @api.route("/me/comments", summary="My comments with their status and, when rejected, the grounds "
               "(R-3.9)", response=MyComments, tags=["cabinet"], auth="login")
    def my_comments():
        auth.require_login()
        return MyComments(items=rpc("my_comments", actor()))

    class MyInitiatives(BaseModel):
        items: list[MyInitiative]

    @api.route("/me/initiatives", summary="My initiatives with their status and the moderators' grounds "
               "or the unit's conclusion (R-3.10, R-3.11)", response=MyInitiatives, tags=["cabinet"],
               auth="login")
    def my_initiatives():
        auth.require_login()
        return MyInitiatives(items=rpc("my_initiatives", actor()))

    return api
