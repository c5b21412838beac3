"""Opening and closing consultations on their dates (R-1.10, R-3.4, R-3.17); safe with any number of
instances (rows locked with SKIP LOCKED)."""
from __future__ import annotations

import uuid
from datetime import date

from contracts.consultations import ConsultationClosed, Status
from services.consultations import rules
from services.consultations.rules import Rules


def open_now(store, cid: uuid.UUID, rules_: Rules) -> None:
    """Active from now; interested persons are to be told (``consultation_published``)."""
    row = store.mark_open(cid)
    store.add_history(cid, Status.scheduled.value, Status.active, None, "start date")
    store.add_event(rules.published_event(row, rules_))


def open_due(store, today: date, rules_: Rules, batch: int = 100) -> int:
    """Open scheduled consultations whose start date has come."""
    ids = store.due_to_open(today, batch)
    for cid in ids:
        open_now(store, cid, rules_)
    return len(ids)


def close_due(store, today: date, batch: int = 100) -> int:
    """Close active consultations whose last day has ended (in the city's time zone); the report is due
    15 days on, and the event carries the counts the reports service checks its read model against."""
    rows = store.due_to_close(today, batch)
    for row in rows:
        due = rules.report_due(row.ends_on)
        store.mark_closed(row.id, due)
        store.add_history(row.id, Status.active.value, Status.closed, None, "end date")
        store.add_event(ConsultationClosed(consultation_id=row.id, closed_at=rules.now(), report_due=due,
                                           **store.closing_counts(row.id)))
    return len(rows)


def move_on_dates(uow, today: date, rules_: Rules) -> tuple[int, int]:
    """Open what starts and close what ended by ``today``, in one transaction: (opened, closed)."""
    with uow.transaction() as store:
        return open_due(store, today, rules_), close_due(store, today)
