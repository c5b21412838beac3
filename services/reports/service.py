"""reports: the R-3.16 report, the R-3.14 protocol, the R-1.11 archive bundle, statistics
(entrypoints only; rules live in domain.py and rules.py)."""
from __future__ import annotations

import logging
from functools import lru_cache

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from chassis.consumer import claim_event, subscribe
from chassis.errors import InvalidInput, ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.files import store_from
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.workdays import local_today
from contracts.consultations import ConsultationArchived, ConsultationClosed, DecisionPublished
from contracts.identity import principal_from as _actor
from contracts.reports import BulkConsiderationIn, ConclusionIn, ConsiderationIn
from services.reports import domain, render
from services.reports.models import PERSONAL

log = logging.getLogger(__name__)
MAX_PER_PAGE = 100


@lru_cache(maxsize=1)
def _store():
    return store_from(get_settings().file_store)


def dump(model) -> dict:
    return model.model_dump(mode="json")


def _fmt(fmt, allowed) -> str:
    if fmt not in allowed:
        raise InvalidInput("Непідтримуваний формат", errors=[{"field": "format", "message": ", ".join(allowed)}])
    return fmt


class ReportsService(BaseService):
    name = "reports"
    personal_data = PERSONAL  # its export
    consultations = RpcProxy("consultations")
    registry = RpcProxy("registry")

    def _sources(self) -> domain.Sources:
        c, r = self.consultations, self.registry
        return domain.Sources(source=c.report_source, comments=c.report_comments,
                              participants=c.report_participants, profiles=r.participant_profiles,
                              year_counts=c.year_counts)

    # ---- events -------------------------------------------------------------------------------------
    @subscribe("consultations", "consultation_closed")
    def on_consultation_closed(self, payload):
        """Snapshot everything the report needs (pages of 1,000); a redelivery changes nothing."""
        env, data = open_envelope(payload, ConsultationClosed)
        with self.db.transaction() as session:
            if claim_event(session, "reports.on_consultation_closed", env.event_id):
                domain.take_snapshot(session, self._sources(), data.consultation_id, store=_store())

    @subscribe("consultations", "decision_published")
    def on_decision_published(self, payload):
        env, data = open_envelope(payload, DecisionPublished)
        with self.db.transaction() as session:
            if claim_event(session, "reports.on_decision_published", env.event_id):
                domain.on_decision(session, data.consultation_id)

    @subscribe("consultations", "consultation_archived")
    def on_consultation_archived(self, payload):
        env, data = open_envelope(payload, ConsultationArchived)
        with self.db.transaction() as session:
            if claim_event(session, "reports.on_consultation_archived", env.event_id):
                domain.archive(session, self._sources(), _store(), data.consultation_id, data.archived_at,
                               data.decision_adopted_on)

    # ---- the report -------------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def get_report(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.report_view(session, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    def list_versions(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.versions(session, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    def report_file(self, actor: dict | None, consultation_id, fmt: str, version: int | None = None) -> dict:
        if version is not None and (not isinstance(version, int) or version < 1):
            raise InvalidInput("Номер версії — ціле від 1", errors=[{"field": "version", "message": "≥ 1"}])
        with self.db.transaction() as session:
            return domain.file_of(session, _actor(actor), _uuid(consultation_id, "id"),
                                  _fmt(fmt, render.REPORT_FORMATS), version)

    @rpc(expected_exceptions=ServiceError)
    def take_snapshot(self, actor: dict, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.retake(session, _actor(actor), self._sources(), _store(),
                                     _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    def proposals(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 50,
                  missing_only: bool = False) -> dict:
        if not isinstance(page, int) or page < 1 or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidInput("Некоректна сторінка", errors=[{"field": "page", "message": f"per_page 1–{MAX_PER_PAGE}"}])
        with self.db.transaction() as session:
            return dump(domain.proposals(session, _actor(actor), _uuid(consultation_id, "id"), page, per_page,
                                         bool(missing_only)))

    @rpc(expected_exceptions=ServiceError)
    def consider(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ConsiderationIn, body)
        with self.db.transaction() as session:
            n = domain.consider(session, _actor(actor), _uuid(consultation_id, "id"), [data.comment_id], data)
        return {"updated": n}

    @rpc(expected_exceptions=ServiceError)
    def consider_bulk(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(BulkConsiderationIn, body)
        with self.db.transaction() as session:
            n = domain.consider(session, _actor(actor), _uuid(consultation_id, "id"), data.comment_ids, data)
        return {"updated": n}

    @rpc(expected_exceptions=ServiceError)
    def set_conclusion(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ConclusionIn, body)
        with self.db.transaction() as session:
            return dump(domain.set_conclusion(session, _actor(actor), _uuid(consultation_id, "id"), data.conclusion))

    @rpc(expected_exceptions=ServiceError)
    def publish(self, actor: dict, consultation_id) -> dict:
        with self.db.transaction() as session:
            return domain.publish(session, _actor(actor), self._sources(), _uuid(consultation_id, "id"))

    @timer(interval=get_settings().timer_interval_seconds)
    def publish_queued(self):
        """Render and store the versions asked for (R-3.16); the request returned at once."""
        with self.db.transaction() as session:
            made = domain.publish_due(session, self._sources(), _store(), get_settings().public_url)
        if made:
            log.info("published %d report versions", made)

    @rpc(expected_exceptions=ServiceError)
    def delete_report(self, actor: dict, consultation_id) -> None:
        with self.db.transaction() as session:
            domain.delete_report(session, _actor(actor), _uuid(consultation_id, "id"), local_today())

    # ---- protocol, archive, statistics -----------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def protocol_file(self, actor: dict | None, consultation_id, fmt: str) -> dict:
        with self.db.transaction() as session:
            return domain.protocol_file(session, _actor(actor), _store(), _uuid(consultation_id, "id"),
                                        _fmt(fmt, render.PROTOCOL_FORMATS))

    @rpc(expected_exceptions=ServiceError)
    def bundle(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return domain.bundle(session, _actor(actor), _uuid(consultation_id, "id"))

    @rpc(expected_exceptions=ServiceError)
    def stats(self, year: int) -> dict:
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            raise InvalidInput("Рік 2000–2100", errors=[{"field": "year", "message": "2000–2100"}])
        with self.db.transaction() as session:
            return dump(domain.stats(session, self._sources(), year, domain.now()))
