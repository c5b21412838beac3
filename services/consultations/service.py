"""consultations: the three forms, lifecycle and timers, comments (entrypoints only)."""
from __future__ import annotations

import logging
from datetime import datetime

from nameko.rpc import rpc
from nameko.timer import timer

from chassis.consumer import claim_event, subscribe
from chassis.errors import InvalidInput, ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.workdays import local_today
from contracts.consultations import (CATEGORIES, Category, CommentIn, ConsultationIn, ConsultationPatch,
                                     AttachmentMeta, DecisionIn, Form, InitiativeDecision, NewVersionIn,
                                     ResponseIn, Status)
from contracts.identity import principal_from as _actor
from contracts.moderation import CommentApproved, CommentRejected, InitiativeApproved, InitiativeRejected
from contracts.reports import ReportPublished
from services.consultations import domain, plan, report_feed
from services.consultations.models import PERSONAL

log = logging.getLogger(__name__)
MAX_PER_PAGE = 100


def _rules() -> domain.Rules:
    s = get_settings()
    return domain.Rules(min_term_days=s.min_term_days, min_term_days_initiative=s.min_term_days_initiative,
                        public_url=s.public_url, holidays_are_days_off=s.holidays_are_days_off,
                        initiative_term=s.initiative_term, max_years_ahead=s.max_date_years_ahead,
                        max_term_days=s.max_term_days)


def _paging(page: int, per_page: int) -> tuple[int, int]:
    if not isinstance(page, int) or page < 1 or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("Некоректна сторінка", errors=[{"field": "page", "message": f"page ≥ 1, per_page 1–{MAX_PER_PAGE}"}])
    return page, per_page


def _year(year) -> int:
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise InvalidInput("Рік 2000–2100", errors=[{"field": "year", "message": "2000–2100"}])
    return year


def _limit(limit) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= report_feed.MAX_PAGE:
        raise InvalidInput("Некоректний розмір сторінки", errors=[{"field": "limit", "message": f"1–{report_feed.MAX_PAGE}"}])
    return limit


def dump(model) -> dict:
    return model.model_dump(mode="json")


class ConsultationsService(BaseService):
    name = "consultations"
    personal_data = PERSONAL  # its export

    @rpc
    def list_categories(self) -> list[dict]:
        """The 22 categories of R-1.13."""
        return [Category(code=c, title=t).model_dump() for c, t in CATEGORIES.items()]

    @rpc(expected_exceptions=ServiceError)
    def create(self, actor: dict, body: dict) -> dict:
        data = parse(ConsultationIn, body)
        with self.db.transaction() as session:
            return dump(domain.create(session, _actor(actor), data, local_today(), _rules()))

    @rpc(expected_exceptions=ServiceError)
    def update_draft(self, actor: dict, consultation_id, body: dict) -> dict:
        patch = parse(ConsultationPatch, body)
        with self.db.transaction() as session:
            return dump(domain.update_draft(session, _actor(actor), _uuid(consultation_id, "id"), patch, local_today(),
                                            _rules()))

    @rpc(expected_exceptions=ServiceError)
    def publish(self, actor: dict, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.publish(session, _actor(actor), _uuid(consultation_id, "id"),
                                       local_today(), _rules()))

    @rpc(expected_exceptions=ServiceError)
    def get(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.view(session, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    def list(self, status: str | None = None, category: int | None = None, form: str | None = None,
             page: int = 1, per_page: int = 20, q: str | None = None, unit: str | None = None,
             year: int | None = None) -> dict:
        page, per_page = _paging(page, per_page)
        try:
            st = Status(status) if status else None
            fm = Form(form) if form else None
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[{"field": "status" if status and not fm else "form",
                                                  "message": str(exc)}]) from None
        with self.db.reading() as session:  # a public list may lag (DATABASE_READ_URL)
            return dump(domain.listing(session, st, category, fm, page, per_page, q, unit, year))

    @rpc(expected_exceptions=ServiceError)
    def deadlines(self, actor: dict, only_overdue: bool = False) -> dict:
        with self.db.transaction() as session:
            return dump(domain.deadlines(session, _actor(actor), domain.now(), bool(only_overdue)))

    @rpc(expected_exceptions=ServiceError)
    def archive(self, actor: dict, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.archive(session, _actor(actor), _uuid(consultation_id, "id")))

    # ---- the annual plan (R-3.3) ----------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def plan(self, actor: dict | None, year: int) -> dict:
        with self.db.transaction() as session:
            return dump(plan.for_year(session, _actor(actor), _year(year)))

    @rpc(expected_exceptions=ServiceError)
    def plan_add(self, actor: dict, year: int, body: dict) -> dict:
        data = parse(plan.PlanEntryIn, body)
        with self.db.transaction() as session:
            return dump(plan.add(session, _actor(actor), _year(year), data))

    @rpc(expected_exceptions=ServiceError)
    def plan_change(self, actor: dict, entry_id, body: dict) -> dict:
        data = parse(plan.PlanEntryPatch, body)
        with self.db.transaction() as session:
            return dump(plan.change(session, _actor(actor), _uuid(entry_id, "entry_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def public_catalogue(self) -> list[dict]:
        """Every public consultation, for feeds and open data (R-1.4, R-1.7)."""
        with self.db.reading() as session:  # feeds and open data may lag (DATABASE_READ_URL)
            return [dump(c) for c in domain.catalogue(session)]

    @rpc(expected_exceptions=ServiceError)
    def add_attachment(self, actor: dict, consultation_id, meta: dict) -> dict:
        data = parse(AttachmentMeta, meta)
        with self.db.transaction() as session:
            return dump(domain.add_attachment(session, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    def get_attachment(self, actor: dict | None, consultation_id, attachment_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.get_attachment(session, _actor(actor), _uuid(consultation_id, "id"),
                                              _uuid(attachment_id, "attachment_id")))

    @rpc(expected_exceptions=ServiceError)
    def record_decision(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(DecisionIn, body)
        with self.db.transaction() as session:
            return dump(domain.record_decision(session, _actor(actor), _uuid(consultation_id, "id"), data,
                                               local_today(), _rules()))

    @rpc(expected_exceptions=ServiceError)
    def add_comment(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(CommentIn, body)
        with self.db.transaction() as session:
            return dump(domain.add_comment(session, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    def list_comments(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 20,
                      newest_first: bool = True, alternative_id=None, paragraph_id=None) -> dict:
        page, per_page = _paging(page, per_page)
        with self.db.transaction() as session:
            return dump(domain.list_comments(
                session, _actor(actor), _uuid(consultation_id, "id"), page, per_page, bool(newest_first),
                _uuid(alternative_id, "alternative_id") if alternative_id else None,
                _uuid(paragraph_id, "paragraph_id") if paragraph_id else None))

    @rpc(expected_exceptions=ServiceError)
    def new_version(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(NewVersionIn, body)
        with self.db.transaction() as session:
            return dump(domain.new_version(session, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    def version_diff(self, actor: dict | None, consultation_id, a: int, b: int) -> dict:
        if not all(isinstance(n, int) and n >= 1 for n in (a, b)):
            raise InvalidInput("Номер редакції — ціле число від 1", errors=[{"field": "version", "message": "≥ 1"}])
        with self.db.transaction() as session:
            return dump(domain.version_diff(session, _actor(actor), _uuid(consultation_id, "id"), a, b))

    @rpc(expected_exceptions=ServiceError)
    def respond(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ResponseIn, body)
        with self.db.transaction() as session:
            return dump(domain.respond(session, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    def results(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.results(session, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    def decide_initiative(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(InitiativeDecision, body)
        with self.db.transaction() as session:
            return dump(domain.decide_initiative(session, _actor(actor), _uuid(consultation_id, "id"), data))

    @rpc(expected_exceptions=ServiceError)
    def my_comments(self, actor: dict) -> list[dict]:
        with self.db.transaction() as session:
            return [dump(c) for c in domain.my_comments(session, _actor(actor))]

    @rpc(expected_exceptions=ServiceError)
    def my_initiatives(self, actor: dict) -> list[dict]:
        with self.db.transaction() as session:
            return [dump(i) for i in domain.my_initiatives(session, _actor(actor))]

    # ---- what the reports service reads (R-3.14, R-3.16; not exposed by the gateway) --------------
    @rpc(expected_exceptions=ServiceError)
    def report_source(self, consultation_id) -> dict:
        with self.db.transaction() as session:
            return report_feed.source(session, _uuid(consultation_id, "id"))

    @rpc(expected_exceptions=ServiceError)
    def report_comments(self, consultation_id, after=None, limit: int = 1000, everything: bool = False) -> dict:
        """One keyset page of comments, oldest first; ``after`` is the previous page's ``next_after``."""
        cursor = None
        if after is not None:
            try:
                cursor = (datetime.fromisoformat(after[0]), _uuid(after[1], "after"))
            except (TypeError, ValueError, IndexError):
                raise InvalidInput("Некоректний курсор", errors=[{"field": "after", "message": "[time, id]"}]) from None
        with self.db.transaction() as session:
            return report_feed.comment_page(session, _uuid(consultation_id, "id"), cursor,
                                            _limit(limit), bool(everything))

    @rpc(expected_exceptions=ServiceError)
    def report_respondents(self, consultation_id, after=None, limit: int = 1000) -> dict:
        with self.db.transaction() as session:
            return report_feed.respondent_page(session, _uuid(consultation_id, "id"),
                                               _uuid(after, "after") if after else None, _limit(limit))

    @rpc(expected_exceptions=ServiceError)
    def report_returning(self, consultation_id, person_ids: list) -> list[str]:
        """Of up to MAX_PAGE persons, those who took part in a consultation opened earlier."""
        if not isinstance(person_ids, list) or len(person_ids) > report_feed.MAX_PAGE:
            raise InvalidInput("Некоректний список осіб", errors=[{"field": "person_ids",
                                                                  "message": f"до {report_feed.MAX_PAGE}"}])
        ids = [_uuid(p, "person_ids") for p in person_ids]
        with self.db.transaction() as session:
            return report_feed.returning(session, _uuid(consultation_id, "id"), ids)

    @rpc(expected_exceptions=ServiceError)
    def year_counts(self, year: int) -> list[dict]:
        with self.db.transaction() as session:
            return report_feed.year_counts(session, _year(year))

    # ---- outcomes of moderation (each event applied once: claim_event) -------------------------
    def _once(self, handler: str, payload: dict, model, apply) -> None:
        env, data = open_envelope(payload, model)
        with self.db.transaction() as session:
            if claim_event(session, f"consultations.{handler}", env.event_id):
                apply(session, data)

    @subscribe("moderation", "comment_approved")
    def on_comment_approved(self, payload):
        self._once("on_comment_approved", payload, CommentApproved,
                   lambda s, d: domain.comment_approved(s, d.comment_id))

    @subscribe("moderation", "comment_rejected")
    def on_comment_rejected(self, payload):
        self._once("on_comment_rejected", payload, CommentRejected,
                   lambda s, d: domain.comment_rejected(s, d.comment_id, d.grounds, d.note))

    @subscribe("moderation", "initiative_approved")
    def on_initiative_approved(self, payload):
        self._once("on_initiative_approved", payload, InitiativeApproved,
                   lambda s, d: domain.initiative_approved(s, d.consultation_id, d.unit_id, d.unit_name,
                                                           d.moderator_id))

    @subscribe("moderation", "initiative_rejected")
    def on_initiative_rejected(self, payload):
        self._once("on_initiative_rejected", payload, InitiativeRejected,
                   lambda s, d: domain.initiative_rejected(s, d.consultation_id, d.grounds, d.note,
                                                           d.moderator_id))

    @subscribe("reports", "report_published")
    def on_report_published(self, payload):
        self._once("on_report_published", payload, ReportPublished,
                   lambda s, d: domain.report_published(s, d.consultation_id, d.published_at))

    @timer(interval=get_settings().timer_interval_seconds)
    def move_on_dates(self):
        """Open consultations on their start date and close them after their last day (Kyiv)."""
        today = local_today()
        with self.db.transaction() as session:
            opened = domain.open_due(session, today, _rules())
            closed = domain.close_due(session, today)
        if opened or closed:
            log.info("timer: opened %d, closed %d consultations", opened, closed)
