"""consultations: the three forms, lifecycle and timers, comments (entrypoints only: units of work
in handlers/, rules in rules.py, SQL in store.py)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from nameko.rpc import rpc
from nameko.timer import timer

from chassis.consumer import once_per_event, subscribe
from chassis.errors import InvalidInput, ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from chassis.workdays import local_today
from contracts.consultations import (CATEGORIES, Category, Consultations, CommentIn, ConsultationIn,
                                     ConsultationPatch, AttachmentMeta, DecisionIn, Form, InitiativeDecision,
                                     NewVersionIn, OfflineCommentIn, PlanEntryIn, PlanEntryPatch, ResponseIn, Status)
from contracts.common import Bucket
from contracts.identity import principal_from as _actor
from contracts.moderation import CommentApproved, CommentRejected, InitiativeApproved, InitiativeRejected
from contracts.reports import ReportPublished
from services.consultations import rules
from services.consultations.handlers import comments, decisions, drafting, outcomes, reading, surveys, timers
from services.consultations.handlers import page as consultation_page
from services.consultations.handlers import plan, report_feed
from services.consultations.models import PERSONAL
from services.consultations.store import Store

log = logging.getLogger(__name__)


def _rules() -> rules.Rules:
    s = get_settings()
    return rules.Rules(min_term_days=s.min_term_days, min_term_days_initiative=s.min_term_days_initiative,
                       public_url=s.public_url, initiative_term=s.initiative_term,
                       max_years_ahead=s.max_date_years_ahead, max_term_days=s.max_term_days)


def dump(model) -> dict:
    return model.model_dump(mode="json")


class ConsultationsService(BaseService):
    name = "consultations"
    personal_data = PERSONAL  # its export

    @property
    def uow(self) -> UnitOfWork[Store]:
        return UnitOfWork(self.db, Store)

    @rpc
    @Consultations.serves
    def list_categories(self) -> list[dict]:
        """The 22 categories of R-1.13."""
        return [Category(code=c, title=t).model_dump() for c, t in CATEGORIES.items()]

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def create(self, actor: dict, body: dict) -> dict:
        data = parse(ConsultationIn, body)
        return dump(drafting.create(self.uow, _actor(actor), data, local_today(), _rules()))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def update_draft(self, actor: dict, consultation_id, body: dict) -> dict:
        patch = parse(ConsultationPatch, body)
        return dump(drafting.update_draft(self.uow, _actor(actor), _uuid(consultation_id, "id"), patch, local_today(),
                                          _rules()))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def publish(self, actor: dict, consultation_id) -> dict:
        return dump(drafting.publish(self.uow, _actor(actor), _uuid(consultation_id, "id"),
                                     local_today(), _rules()))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def get(self, actor: dict | None, consultation_id) -> dict:
        return dump(reading.read(self.uow, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def list(self, status: str | None = None, category: int | None = None, form: str | None = None,
             page: int = 1, per_page: int = 20, q: str | None = None, unit: str | None = None,
             year: int | None = None) -> dict:
        try:
            st = Status(status) if status else None
            fm = Form(form) if form else None
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[{"field": "status" if status and not fm else "form",
                                                  "message": str(exc)}]) from None
        return dump(reading.listing(self.uow, st, category, fm, page, per_page, q, unit, year))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def deadlines(self, actor: dict, only_overdue: bool = False) -> dict:
        return dump(decisions.deadlines(self.uow, _actor(actor), rules.now(), bool(only_overdue)))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def archive(self, actor: dict, consultation_id) -> dict:
        return dump(decisions.archive(self.uow, _actor(actor), _uuid(consultation_id, "id")))

    # ---- the annual plan (R-3.3) ----------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def plan(self, actor: dict | None, year: int) -> dict:
        return dump(plan.for_year(self.uow, _actor(actor), year))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def plan_add(self, actor: dict, year: int, body: dict) -> dict:
        return dump(plan.add(self.uow, _actor(actor), year, parse(PlanEntryIn, body)))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def plan_change(self, actor: dict, entry_id, body: dict) -> dict:
        return dump(plan.change(self.uow, _actor(actor), _uuid(entry_id, "entry_id"), parse(PlanEntryPatch, body)))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def public_catalogue(self) -> list[dict]:
        """Every public consultation, for feeds and open data (R-1.4, R-1.7)."""
        return [dump(c) for c in reading.catalogue(self.uow)]

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def add_attachment(self, actor: dict, consultation_id, meta: dict) -> dict:
        data = parse(AttachmentMeta, meta)
        return dump(decisions.add_attachment(self.uow, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def get_attachment(self, actor: dict | None, consultation_id, attachment_id) -> dict:
        return dump(reading.get_attachment(self.uow, _actor(actor), _uuid(consultation_id, "id"),
                                           _uuid(attachment_id, "attachment_id")))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def record_decision(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(DecisionIn, body)
        return dump(decisions.record_decision(self.uow, _actor(actor), _uuid(consultation_id, "id"), data,
                                              local_today(), _rules()))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def add_comment(self, actor: dict, consultation_id, body: dict, buckets: list[Bucket] | None = None) -> dict:
        data = parse(CommentIn, body)
        return dump(comments.add_comment(self.uow, _actor(actor), _uuid(consultation_id, "id"), data, buckets or ()))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def rate_hit(self, buckets: list[Bucket]) -> int:
        return comments.rate_hit(self.uow, buckets, datetime.now(timezone.utc))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def add_offline_comment(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(OfflineCommentIn, body)
        return dump(comments.add_offline_comment(self.uow, _actor(actor), _uuid(consultation_id, "id"), data,
                                                 local_today()))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def list_comments(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 20,
                      newest_first: bool = True, alternative_id=None, paragraph_id=None) -> dict:
        return dump(comments.list_comments(
            self.uow, _actor(actor), _uuid(consultation_id, "id"), page, per_page, bool(newest_first),
            _uuid(alternative_id, "alternative_id") if alternative_id else None,
            _uuid(paragraph_id, "paragraph_id") if paragraph_id else None))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def page(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 20,
             newest_first: bool = True) -> dict:
        return dump(consultation_page.page_view(self.uow, _actor(actor), _uuid(consultation_id, "id"), page,
                                                per_page, bool(newest_first)))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def new_version(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(NewVersionIn, body)
        return dump(drafting.new_version(self.uow, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def version_diff(self, actor: dict | None, consultation_id, a: int, b: int) -> dict:
        if not all(isinstance(n, int) and n >= 1 for n in (a, b)):
            raise InvalidInput("Номер редакції — ціле число від 1", errors=[{"field": "version", "message": "≥ 1"}])
        return dump(drafting.version_diff(self.uow, _actor(actor), _uuid(consultation_id, "id"), a, b))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def respond(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ResponseIn, body)
        return dump(surveys.respond(self.uow, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def results(self, actor: dict | None, consultation_id) -> dict:
        return dump(surveys.results(self.uow, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def decide_initiative(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(InitiativeDecision, body)
        return dump(outcomes.decide_initiative(self.uow, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def my_comments(self, actor: dict) -> list[dict]:
        return [dump(c) for c in comments.my_comments(self.uow, _actor(actor))]

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def my_initiatives(self, actor: dict) -> list[dict]:
        return [dump(i) for i in comments.my_initiatives(self.uow, _actor(actor))]

    # ---- what the reports service reads (R-3.14, R-3.16; not exposed by the gateway) --------------
    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def report_source(self, consultation_id) -> dict:
        return report_feed.source(self.uow, _uuid(consultation_id, "id"))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def report_comments(self, consultation_id, after=None, limit: int = 1000, everything: bool = False) -> dict:
        """One keyset page of comments, oldest first; ``after`` is the previous page's ``next_after``."""
        cursor = None
        if after is not None:
            try:
                cursor = (datetime.fromisoformat(after[0]), _uuid(after[1], "after"))
            except (TypeError, ValueError, IndexError):
                raise InvalidInput("Некоректний курсор", errors=[{"field": "after", "message": "[time, id]"}]) from None
        return report_feed.comment_page(self.uow, _uuid(consultation_id, "id"), cursor, limit, bool(everything))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def report_respondents(self, consultation_id, after=None, limit: int = 1000) -> dict:
        return report_feed.respondent_page(self.uow, _uuid(consultation_id, "id"),
                                           _uuid(after, "after") if after else None, limit)

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def report_returning(self, consultation_id, person_ids: list) -> list[str]:
        """Of up to FEED_PAGE_MAX persons, those who took part in a consultation opened earlier."""
        return report_feed.returning(self.uow, _uuid(consultation_id, "id"), person_ids)

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def respondent_breakdown(self, consultation_id) -> dict:
        return dump(report_feed.respondent_breakdown(self.uow, _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Consultations.serves
    def year_counts(self, year: int) -> list[dict]:
        return report_feed.year_counts(self.uow, year)

    # ---- what moderation and reports decided (each event applied once) ---------------------------
    @subscribe("moderation", "comment_approved")
    @once_per_event(CommentApproved)
    def on_comment_approved(self, store, data):
        outcomes.comment_approved(store, data.comment_id)

    @subscribe("moderation", "comment_rejected")
    @once_per_event(CommentRejected)
    def on_comment_rejected(self, store, data):
        outcomes.comment_rejected(store, data.comment_id, data.grounds, data.note)

    @subscribe("moderation", "initiative_approved")
    @once_per_event(InitiativeApproved)
    def on_initiative_approved(self, store, data):
        outcomes.initiative_approved(store, data.consultation_id, data.unit_id, data.unit_name, data.moderator_id)

    @subscribe("moderation", "initiative_rejected")
    @once_per_event(InitiativeRejected)
    def on_initiative_rejected(self, store, data):
        outcomes.initiative_rejected(store, data.consultation_id, data.grounds, data.note, data.moderator_id)

    @subscribe("reports", "report_published")
    @once_per_event(ReportPublished)
    def on_report_published(self, store, data):
        outcomes.report_published(store, data.consultation_id, data.published_at)

    @timer(interval=get_settings().timer_interval_seconds)
    def move_on_dates(self):
        """Open consultations on their start date and close them after their last day (Kyiv)."""
        opened, closed = timers.move_on_dates(self.uow, local_today(), _rules())
        if opened or closed:
            log.info("timer: opened %d, closed %d consultations", opened, closed)
