"""reports: the R-3.16 report, the R-3.14 protocol, the R-1.11 archive bundle, statistics
(entrypoints only: the use cases are in handlers.py, SQL in store.py, rules in rules.py)."""
from __future__ import annotations

import json
import logging
from functools import lru_cache

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from chassis.consumer import handler_key, once_per_event, subscribe
from chassis.errors import InvalidInput, ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.files import store_from
from chassis.rpc_contract import Method, over_proxy
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from chassis.workdays import local_today
from contracts.consultations import (CommentPublished, CommentSubmitted, CommentWasRejected, ConsultationArchived,
                                     ConsultationClosed, Consultations, DecisionPublished, SurveyAnswered)
from contracts.identity import principal_from as _actor
from contracts.registry import Registry
from contracts.reports import BulkConsiderationIn, ConclusionIn, Consideration, ConsiderationIn, Reports, SplitIn
from services.reports import grouping, handlers, render
from services.reports.models import PERSONAL
from services.reports.store import Store

log = logging.getLogger(__name__)
PERSONS_A_CALL = 5000  # what consultations' and the registry's person lookups take at once
_ENGINE = grouping.Engine()  # this process's LSH indexes (a cache of the database's rows)


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
                                returning=returning, profiles=profiles, year_counts=c.year_counts,
                                breakdown=c.respondent_breakdown)

    @property
    def uow(self) -> UnitOfWork[Store]:
        return UnitOfWork(self.db, Store)

    # ---- the read model: consultations' events as they happen ----------------------------------------
    @subscribe("consultations", "comment_submitted", version=2)
    @once_per_event(CommentSubmitted, batch=True)
    def on_comment_submitted(self, store, data, env):
        handlers.comment_submitted(store, data, env.occurred_at)

    @subscribe("consultations", "comment_published", version=2)
    @once_per_event(CommentPublished, batch=True)
    def on_comment_published(self, store, data, env):
        handlers.comment_published(store, data, env.occurred_at)

    @subscribe("consultations", "comment_rejected", version=2)
    @once_per_event(CommentWasRejected, batch=True)
    def on_comment_rejected(self, store, data, env):
        handlers.comment_rejected(store, data, env.occurred_at)

    @subscribe("consultations", "survey_answered")
    @once_per_event(SurveyAnswered, batch=True)
    def on_survey_answered(self, store, data):
        handlers.survey_answered(store, data)

    # ---- closing, decision, archive -------------------------------------------------------------------
    @subscribe("consultations", "consultation_closed")
    def on_consultation_closed(self, payload):
        # claimed in the handler's last transaction (other services are asked between two of ours),
        # so not @once_per_event; the key is the one it would derive
        env, data = open_envelope(payload, ConsultationClosed)
        handlers.consultation_closed(self.uow, self._sources(), handler_key(self.name, "on_consultation_closed"),
                                     env.event_id, data.consultation_id,
                                     {"comments": data.comments, "respondents": data.respondents})

    @subscribe("consultations", "decision_published")
    @once_per_event(DecisionPublished)
    def on_decision_published(self, store, data):
        handlers.on_decision(store, data.consultation_id)

    @subscribe("consultations", "consultation_archived")
    def on_consultation_archived(self, payload):
        # claimed across transactions like on_consultation_closed
        env, data = open_envelope(payload, ConsultationArchived)
        handlers.consultation_archived(self.uow, self._sources(), _files(),
                                       handler_key(self.name, "on_consultation_archived"), env.event_id,
                                       data.consultation_id, data.archived_at, data.decision_adopted_on)

    # ---- the report -------------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def get_report(self, actor: dict | None, consultation_id) -> dict:
        return dump(handlers.report_view(self.uow, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def list_versions(self, actor: dict | None, consultation_id) -> dict:
        return dump(handlers.versions(self.uow, _actor(actor), _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def report_file(self, actor: dict | None, consultation_id, fmt: str, version: int | None = None) -> dict:
        if version is not None and (not isinstance(version, int) or version < 1):
            raise InvalidInput("Номер версії — ціле від 1", errors=[{"field": "version", "message": "≥ 1"}])
        return handlers.file_of(self.uow, _actor(actor), _uuid(consultation_id, "id"),
                                _fmt(fmt, render.REPORT_FORMATS), version)

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def take_snapshot(self, actor: dict, consultation_id) -> dict:
        return dump(handlers.snapshot_on_demand(self.uow, self._sources(), _actor(actor),
                                                _uuid(consultation_id, "id")))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def proposals(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 50,
                  missing_only: bool = False) -> dict:
        return dump(handlers.proposals(self.uow, _actor(actor), _uuid(consultation_id, "id"), page, per_page,
                                       bool(missing_only)))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def consider(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ConsiderationIn, body)
        n = handlers.consider(self.uow, _actor(actor), _uuid(consultation_id, "id"), [data.comment_id], data)
        return {"updated": n}

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def consider_bulk(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(BulkConsiderationIn, body)
        n = handlers.consider(self.uow, _actor(actor), _uuid(consultation_id, "id"), data.comment_ids, data)
        return {"updated": n}

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def groups(self, actor: dict | None, consultation_id, page: int = 1, per_page: int = 20,
               min_size: int = 2) -> dict:
        return dump(handlers.groups(self.uow, _actor(actor), _uuid(consultation_id, "id"), page, per_page, min_size))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def group(self, actor: dict | None, consultation_id, group_id, page: int = 1, per_page: int = 50) -> dict:
        return dump(handlers.group(self.uow, _actor(actor), _uuid(consultation_id, "id"), _uuid(group_id, "group_id"),
                                   page, per_page))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def consider_group(self, actor: dict, consultation_id, group_id, body: dict) -> dict:
        data = parse(Consideration, body)
        return {"updated": handlers.consider_group(self.uow, _actor(actor), _uuid(consultation_id, "id"),
                                                   _uuid(group_id, "group_id"), data)}

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def split_group(self, actor: dict, consultation_id, group_id, body: dict) -> dict:
        data = parse(SplitIn, body)
        return {"updated": handlers.split_group(self.uow, _actor(actor), _uuid(consultation_id, "id"),
                                                _uuid(group_id, "group_id"), data.comment_id)}

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def set_conclusion(self, actor: dict, consultation_id, body: dict) -> dict:
        data = parse(ConclusionIn, body)
        return dump(handlers.set_conclusion(self.uow, _actor(actor), _uuid(consultation_id, "id"), data.conclusion))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def publish(self, actor: dict, consultation_id) -> dict:
        return handlers.publish(self.uow, self._sources(), _actor(actor), _uuid(consultation_id, "id"))

    @timer(interval=get_settings().timer_interval_seconds)
    def publish_queued(self):
        """Render and store the versions asked for (R-3.16); the request returned at once."""
        made = handlers.publish_due(self.uow, self._sources(), _files(), get_settings().public_url)
        if made:
            log.info("published %d report versions", made)

    @timer(interval=get_settings().grouping_interval_seconds)
    def group_comments(self):
        """Newly published comments into their groups of near-identical ones (R-3.16), off the
        request path; the index lives in this process and is caught up from the database."""
        handlers.group_pending(self.uow, _ENGINE)

    @timer(interval=get_settings().timer_interval_seconds)
    def render_protocols(self):
        """The protocol's files of each new snapshot (R-3.14)."""
        handlers.render_protocols(self.uow, _files())

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def delete_report(self, actor: dict, consultation_id) -> None:
        handlers.delete_report(self.uow, _actor(actor), _uuid(consultation_id, "id"), local_today())

    # ---- protocol, archive, statistics -----------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def protocol_file(self, actor: dict | None, consultation_id, fmt: str) -> dict:
        return handlers.protocol_file(self.uow, _actor(actor), _files(), _uuid(consultation_id, "id"),
                                      _fmt(fmt, render.PROTOCOL_FORMATS))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def bundle(self, actor: dict | None, consultation_id) -> dict:
        return handlers.bundle(self.uow, _actor(actor), _uuid(consultation_id, "id"))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def participation(self, actor: dict | None, consultation_id) -> dict:
        settings = get_settings()
        return dump(handlers.participation(self.uow, self._sources(), _actor(actor), _uuid(consultation_id, "id"),
                                           local_today(), json.loads(settings.community_shares),
                                           settings.participation_min_cell))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def consultation_pack(self, actor: dict | None, consultation_id) -> dict:
        # the consultations service decides who may see the consultation (NotFound crosses intact)
        page = Consultations(over_proxy(self.consultations)).get(_actor(actor), _uuid(consultation_id, "id"))
        return handlers.consultation_pack(_files(), page.model_dump(mode="json"))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def contributions(self, consultation_id, after=None, limit: int = 1000) -> dict:
        return dump(handlers.contributions(self.uow, consultation_id, after, limit))

    @rpc(expected_exceptions=ServiceError)
    @Reports.serves
    def stats(self, year: int) -> dict:
        counts = self.consultations.year_counts(year)
        return dump(handlers.stats(self.uow, counts, year, handlers.now()))
