"""reports: the R-3.16 report, the R-3.14 protocol, the R-1.11 archive bundle, statistics
(entrypoints only: the use cases are in handlers.py, SQL in store.py, rules in rules.py)."""
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
from chassis.rpc_contract import Method
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.workdays import local_today
from contracts.consultations import (CommentPublished, CommentSubmitted, CommentWasRejected, ConsultationArchived,
                                     ConsultationClosed, Consultations, DecisionPublished, SurveyAnswered)
from contracts.identity import principal_from as _actor
from contracts.registry import Registry
from contracts.reports import BulkConsiderationIn, ConclusionIn, ConsiderationIn, Reports
from services.reports import handlers, render, store
from services.reports.models import PERSONAL

log = logging.getLogger(__name__)
PERSONS_A_CALL = 5000  # what consultations' and the registry's person lookups take at once


@lru_cache(maxsize=1)
def _files():
    return store_from(get_settings().file_store)


def dump(model) -> dict:
    return model.model_dump(mode="json")


def _fmt(fmt, allowed) -> str:
    if fmt not in allowed:
        raise InvalidInput("Непідтримуваний формат", errors=[{"field": "format", "message": ", ".join(allowed)}])
    return fmt


def _fan_out(proxy, method: Method, chunks_args: list[tuple]) -> list:
    """Call a declared RPC method once per argument tuple, all at once, and gather the typed answers
    in order."""
    replies = [getattr(proxy, method.name).call_async(*method.encode(args, {})) for args in chunks_args]
    return [method.decode_result(r.result()) for r in replies]


class ReportsService(BaseService):
    name = "reports"
    personal_data = PERSONAL  # its export
    consultations = RpcProxy("consultations")
    registry = RpcProxy("registry")

    def _sources(self) -> handlers.Sources:
        c, r = self.consultations, self.registry

        def chunks(ids):
            return [ids[i:i + PERSONS_A_CALL] for i in range(0, len(ids), PERSONS_A_CALL)]

        def returning(cid, ids):
            calls = [(cid, ch) for ch in chunks(ids)]
            return [p for part in _fan_out(c, Consultations.methods["report_returning"], calls) for p in part]

        def profiles(ids, on):
            calls = [(ch, on) for ch in chunks(ids)]
            return [p for part in _fan_out(r, Registry.methods["participant_profiles"], calls) for p in part]

        return handlers.Sources(source=c.report_source, comments=c.report_comments, respondents=c.report_respondents,
                                returning=returning, profiles=profiles, year_counts=c.year_counts)

    def _once(self, handler: str, payload: dict, model, apply) -> None:
        env, data = open_envelope(payload, model)
        with self.db.transaction() as session:
            if claim_event(session, f"reports.{handler}", env.event_id):
                apply(session, data, env.occurred_at)

    # ---- the read model: consultations' events as they happen ----------------------------------------
    @subscribe("consultations", "comment_submitted")
    def on_comment_submitted(self, payload):
        self._once("on_comment_submitted", payload, CommentSubmitted, handlers.comment_submitted)

    @subscribe("consultations", "comment_published")
    def on_comment_published(self, payload):
        self._once("on_comment_published", payload, CommentPublished, handlers.comment_published)

    @subscribe("consultations", "comment_rejected")
    def on_comment_rejected(self, payload):
        self._once("on_comment_rejected", payload, CommentWasRejected, handlers.comment_rejected)

    @subscribe("consultations", "survey_answered")
    def on_survey_answered(self, payload):
        self._once("on_survey_answered", payload, SurveyAnswered, lambda s, d, at: handlers.survey_answered(s, d))

    # ---- closing, decision, archive -------------------------------------------------------------------
    @subscribe("consultations", "consultation_closed")
    def on_consultation_closed(self, payload):
        """Snapshot the read model (checked against the event's counts, completed from consultations
        if short); other services are asked before our transaction opens. A redelivery changes nothing."""
        env, data = open_envelope(payload, ConsultationClosed)
        with self.db.transaction() as session:
            if store.snapshot(session, data.consultation_id) is not None:
                claim_event(session, "reports.on_consultation_closed", env.event_id)
                return
        expected = {"comments": data.comments, "respondents": data.respondents}
        got = handlers.gather(self.db.transaction, self._sources(), data.consultation_id, expected)
        with self.db.transaction() as session:
            if claim_event(session, "reports.on_consultation_closed", env.event_id):
                handlers.take_snapshot(session, data.consultation_id, got)

    @subscribe("consultations", "decision_published")
    def on_decision_published(self, payload):
        self._once("on_decision_published", payload, DecisionPublished,
                   lambda s, d, at: handlers.on_decision(s, d.consultation_id))

    @subscribe("consultations", "consultation_archived")
    def on_consultation_archived(self, payload):
        env, data = open_envelope(payload, ConsultationArchived)
        cid = data.consultation_id
        with self.db.transaction() as session:
            missing = store.snapshot(session, cid) is None
        got = handlers.gather(self.db.transaction, self._sources(), cid) if missing else None
        page = got.data["consultation"] if got else self.consultations.report_source(str(cid))["consultation"]
        with self.db.transaction() as session:
            if claim_event(session, "reports.on_consultation_archived", env.event_id):
                if got is not None:
                    handlers.take_snapshot(session, cid, got)
                handlers.archive(session, _files(), cid, page, data.archived_at, data.decision_adopted_on)

    # ---- the report -------------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def get_report(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(handlers.report_view(session, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def list_versions(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return dump(handlers.versions(session, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def report_file(self, actor: dict | None, consultation_id, fmt: str, version: int | None = None) -> dict:
        if version is not None and (not isinstance(version, int) or version < 1):
            raise InvalidInput("Номер версії — ціле від 1", errors=[{"field": "version", "message": "≥ 1"}])
        with self.db.transaction() as session:
            return handlers.file_of(session, _actor(actor), _uuid(consultation_id, "id"),
                                    _fmt(fmt, render.REPORT_FORMATS), version)

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def take_snapshot(self, actor: dict, consultation_id) -> dict:
        who, cid = _actor(actor), _uuid(consultation_id, "id")
        with self.db.transaction() as session:
            allowed = handlers.may_retake(session, who, cid)
        src = self._sources()
        if not allowed:
            handlers.check_owner(who, src.source(str(cid)))
        got = handlers.gather(self.db.transaction, src, cid)
        with self.db.transaction() as session:
            return dump(handlers.retake(session, who, cid, got))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def proposals(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 50,
                  missing_only: bool = False) -> dict:
        with self.db.transaction() as session:
            return dump(handlers.proposals(session, _actor(actor), _uuid(consultation_id, "id"), page, per_page,
                                           bool(missing_only)))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def consider(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ConsiderationIn, body)
        with self.db.transaction() as session:
            n = handlers.consider(session, _actor(actor), _uuid(consultation_id, "id"), [data.comment_id], data)
        return {"updated": n}

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def consider_bulk(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(BulkConsiderationIn, body)
        with self.db.transaction() as session:
            n = handlers.consider(session, _actor(actor), _uuid(consultation_id, "id"), data.comment_ids, data)
        return {"updated": n}

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def set_conclusion(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ConclusionIn, body)
        with self.db.transaction() as session:
            return dump(handlers.set_conclusion(session, _actor(actor), _uuid(consultation_id, "id"), data.conclusion))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def publish(self, actor: dict, consultation_id) -> dict:
        who, cid = _actor(actor), _uuid(consultation_id, "id")
        with self.db.transaction() as session:
            again = handlers.publish_check(session, who, cid)
        page = self.consultations.report_source(str(cid))["consultation"] if again else None
        with self.db.transaction() as session:
            return handlers.publish(session, who, cid, page)

    @timer(interval=get_settings().timer_interval_seconds)
    def publish_queued(self):
        """Render and store the versions asked for (R-3.16); the request returned at once. The
        consultation's page is read before the transaction that renders."""
        with self.db.transaction() as session:
            due = store.publish_candidates(session)
        made = 0
        for cid in due:
            page = self.consultations.report_source(str(cid))["consultation"]
            with self.db.transaction() as session:
                made += handlers.publish_one(session, _files(), cid, page, get_settings().public_url)
        if made:
            log.info("published %d report versions", made)

    @timer(interval=get_settings().timer_interval_seconds)
    def render_protocols(self):
        """The protocol's files of each new snapshot (R-3.14)."""
        with self.db.transaction() as session:
            handlers.render_protocols(session, _files())

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def delete_report(self, actor: dict, consultation_id) -> None:
        with self.db.transaction() as session:
            handlers.delete_report(session, _actor(actor), _uuid(consultation_id, "id"), local_today())

    # ---- protocol, archive, statistics -----------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def protocol_file(self, actor: dict | None, consultation_id, fmt: str) -> dict:
        with self.db.transaction() as session:
            return handlers.protocol_file(session, _actor(actor), _files(), _uuid(consultation_id, "id"),
                                          _fmt(fmt, render.PROTOCOL_FORMATS))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def bundle(self, actor: dict | None, consultation_id) -> dict:
        with self.db.transaction() as session:
            return handlers.bundle(session, _actor(actor), _uuid(consultation_id, "id"))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def stats(self, year: int) -> dict:
        counts = self.consultations.year_counts(year)
        with self.db.transaction() as session:
            return dump(handlers.stats(session, counts, year, handlers.now()))
