"""After the consultation: attachments, the adopted decision (R-3.18), the deadlines officials and
moderators answer for (R-3.10, R-3.17, R-3.18), and the archive (R-1.11)."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from chassis.errors import Conflict
from contracts.consultations import (AttachmentMeta, AttachmentOut, ConsultationArchived, ConsultationOut,
                                     DeadlineList, DecisionIn, DecisionPublished, Status)
from contracts.identity import Principal
from services.consultations import rules
from services.consultations.handlers.reading import attachment_out, load, view
from services.consultations.rules import Rules


def add_attachment(uow, actor: Principal | None, cid: uuid.UUID, meta: AttachmentMeta) -> AttachmentOut:
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.require_owner(actor, row, "Файли додає посадова особа підрозділу-власника")
        if row.status == Status.archived.value:
            raise Conflict("Архівна консультація незмінна", code="archived")
        if meta.kind == "decision" and not store.has_decision(cid):
            raise Conflict("Спершу внесіть рішення", code="no_decision")
        return attachment_out(store.add_attachment(cid, actor.person_id, meta.model_dump()))


def record_decision(uow, actor: Principal | None, cid: uuid.UUID, data: DecisionIn, today: date,
                    rules_: Rules) -> ConsultationOut:
    """The owner records the adopted decision after the consultation (R-3.18); it is public at
    once, and whether it came within 5 working days of adoption is kept."""
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.require_owner(actor, row, "Рішення вносить посадова особа підрозділу-власника")
        if row.status != Status.closed.value:
            raise Conflict("Рішення вносять після завершення консультації", code="consultation_not_closed")
        rules.check_decision_dates(data.adopted_on, row.closed_at, today)
        if store.has_decision(cid):
            raise Conflict("Рішення вже внесено", code="decision_exists")
        recorded = store.add_decision(cid, actor.person_id, rules.decision_due(data.adopted_on),
                                      number=data.number, adopted_on=data.adopted_on, title=data.title,
                                      text=data.text)
        store.add_event(DecisionPublished(consultation_id=cid, number=data.number, adopted_on=data.adopted_on,
                                          title=data.title, on_time=rules.decision_out(recorded).on_time,
                                          url=rules_.page_url(cid)))
        return view(store, actor, cid)


def deadlines(uow, actor: Principal | None, at: datetime, only_overdue: bool = False) -> DeadlineList:
    """Deadlines someone answers for: moderators see the moderation clock of initiatives (R-3.10);
    officials the report (R-3.17) and decision (R-3.18) deadlines of their units; both missed
    ones marked overdue (not done in time, or done late)."""
    everything = rules.deadline_scope(actor)
    with uow.transaction() as store:
        found = store.deadline_rows(None if everything else list(actor.units()))
    items = [rules.deadline(r, "moderation", r.moderation_due,
                            None if r.status == Status.submitted.value else r.updated_at, at)
             for r in found["moderation"]]
    items += [rules.deadline(r, "report", r.report_due, r.report_published_at, at) for r in found["report"]]
    items += [rules.deadline(r, "decision", r.publication_due, r.recorded_at, at) for r in found["decision"]]
    if only_overdue:
        items = [d for d in items if d.overdue]
    return DeadlineList(items=sorted(items, key=lambda d: d.due))


def archive(uow, actor: Principal | None, cid: uuid.UUID) -> ConsultationOut:
    """Closed (normally decided) consultations go to the archive: read-only from then on (R-1.11)."""
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.check_archivable(actor, row)
        if row.status != Status.closed.value:
            raise Conflict("Архівувати можна завершену консультацію", code="consultation_not_closed")
        adopted = store.decision_adopted_on(cid)
        store.mark_archived(cid)
        store.add_history(cid, row.status, Status.archived, actor.person_id)
        store.add_event(ConsultationArchived(consultation_id=cid, archived_at=rules.now(), decision_adopted_on=adopted))
        return view(store, actor, cid)
