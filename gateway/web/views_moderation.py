"""Moderators' pages: the queue oldest first with due times and overdue marks, what the screening
matched, decisions with grounds, reported comments, statistics (R-1.1, R-1.5, R-3.7, R-3.10)."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from flask import redirect, request

from contracts.moderation import GROUNDS, QUEUE_RULES, CaseDecision, QueueQuery
from gateway import auth, routes_moderation as moderation
from gateway.clients import registry
from gateway.web import forms, notify, page, web

RULES_UK = {"obscene": "ненормативна лексика", "link": "посилання", "email": "адреса e-mail",
            "phone": "номер телефону", "messenger": "контакт у месенджері", "empty": "порожній текст",
            "duplicate": "повтор попереднього коментаря", "only_punctuation": "лише розділові знаки",
            "report": "скарга мешканця"}


def _queue(status: int = 200, failed_case: str | None = None):
    auth.require_role(*moderation.MODERATOR)
    try:
        query = forms.parse(QueueQuery, {k: v for k, v in request.args.items() if v and k in QueueQuery.model_fields})
        queue = forms.attempt(lambda: moderation.queue_page(query))  # a stale or made-up cursor: 422
    except forms.Invalid as exc:
        forms.keep(exc)
        query, status = QueueQuery(), 422
        queue = moderation.queue_page(query)
    filters = query.model_dump(mode="json", exclude_defaults=True, exclude={"after"})
    links = {"next": f"/moderation?{urlencode({**filters, 'after': queue.next_after})}" if queue.next_after else None,
             "first": f"/moderation?{urlencode(filters)}" if query.after else None}
    units = registry.list_units()
    return page("moderation.html", status, queue=queue, GROUNDS=GROUNDS, units=units, RULES_UK=RULES_UK,
                failed_case=failed_case, filters=filters, links=links, QUEUE_RULES=QUEUE_RULES)


@web.route("/moderation")
def moderation_queue():
    return _queue()


@web.route("/moderation/cases/<uuid:case_id>", methods=["POST"])
def moderation_decide(case_id: uuid.UUID):
    auth.require_role(*moderation.MODERATOR)
    data = {"decision": request.form.get("decision", ""), "grounds": request.form.getlist("grounds"),
            "note": forms.text("note"), "unit_id": forms.text("unit_id")}
    try:
        body = forms.parse(CaseDecision, data)
        forms.attempt(lambda: moderation.decide(case_id, body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return _queue(422, failed_case=str(case_id))
    notify("Рішення записано: " + ("оприлюднено." if body.decision == "approve" else "відхилено з підставами."))
    return redirect("/moderation", 303)


@web.route("/moderation/stats")
def moderation_stats():
    auth.require_role(*moderation.MODERATOR)
    stats = moderation.svc.stats(moderation.actor())
    return page("moderation_stats.html", stats=stats, GROUNDS=GROUNDS)
