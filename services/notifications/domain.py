"""Notification rules as plain functions over a SQLAlchemy session (R-1.10, R-2.4, R-3.4, R-3.11).

One delivery row per person × consultation × channel × kind (unique), selected before anything is
sent; a sender claims due rows with SKIP LOCKED, marks them `sending` (committed), sends, and marks
each `sent` right after the server's 250. A crash between the 250 and that commit is the only way to
send twice (the deterministic Message-ID lets the receiving server drop it); rows stuck in
`sending` go back to `pending` after a while.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis.outbox import add_event
from services.notifications.models import deliveries, fanouts, inbox
from services.notifications.schemas import Inbox, InboxItem, NotificationBatchCompleted, Progress

KIND = "consultation_started"
CHANNEL = "email"
STUCK_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 8


def now() -> datetime:
    return datetime.now(timezone.utc)


def start_fanout(session: Session, data) -> None:
    session.execute(insert(fanouts).values(
        consultation_id=data.consultation_id, title=data.title, question=data.question, category=data.category,
        form=data.form.value,
        url=data.url, starts_on=data.starts_on, ends_on=data.ends_on, status="selecting")
        .on_conflict_do_nothing())


def add_recipients(session: Session, consultation_id: uuid.UUID, person_ids: list[uuid.UUID]) -> int:
    if not person_ids:
        return 0
    rows = session.execute(insert(deliveries).values([
        {"person_id": p, "consultation_id": consultation_id, "channel": CHANNEL, "kind": KIND, "status": "pending"}
        for p in person_ids]).on_conflict_do_nothing().returning(deliveries.c.id)).all()
    return len(rows)


def selected(session: Session, consultation_id: uuid.UUID) -> None:
    """All recipients are queued: sending may finish the fan-out."""
    total = session.execute(select(func.count()).select_from(deliveries).where(
        deliveries.c.consultation_id == consultation_id, deliveries.c.kind == KIND)).scalar_one()
    session.execute(update(fanouts).where(fanouts.c.consultation_id == consultation_id,
                                          fanouts.c.status == "selecting")
                    .values(status="sending", recipients=total))


def claim(session: Session, limit: int, stuck_after: timedelta = STUCK_AFTER,
          token: uuid.UUID | None = None) -> list:
    """Due pending deliveries, claimed for this sender under ``token`` (and `sending` ones whose
    sender has not touched them for ``stuck_after`` given back)."""
    session.execute(update(deliveries).where(deliveries.c.status == "sending",
                                             deliveries.c.claimed_at < now() - stuck_after)
                    .values(status="pending"))
    ids = session.execute(select(deliveries.c.id).where(
        deliveries.c.status == "pending", deliveries.c.next_attempt_at <= func.now())
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(limit)
        .with_for_update(skip_locked=True)).scalars().all()
    if not ids:
        return []
    return session.execute(update(deliveries).where(deliveries.c.id.in_(ids))
                           .values(status="sending", claimed_at=func.now(), claim_token=token,
                                   attempts=deliveries.c.attempts + 1)
                           .returning(deliveries)).all()


def still_mine(session: Session, delivery_id: int, token: uuid.UUID) -> bool:
    """Just before sending: the row is still ours (not given back as stuck and claimed by another
    sender); touching it keeps it ours for another `stuck_after`."""
    return session.execute(update(deliveries).where(
        deliveries.c.id == delivery_id, deliveries.c.status == "sending", deliveries.c.claim_token == token)
        .values(claimed_at=func.now()).returning(deliveries.c.id)).first() is not None


def fanout_for(session: Session, consultation_id: uuid.UUID):
    return session.execute(select(fanouts).where(fanouts.c.consultation_id == consultation_id)).first()


def mark_sent(session: Session, delivery_id: int) -> None:
    session.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                    .values(status="sent", sent_at=func.now(), last_error=None))


def mark_skipped(session: Session, delivery_id: int, why: str) -> None:
    session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(status="skipped", last_error=why))


def mark_failed(session: Session, delivery_id: int, error: str, temporary: bool, attempts: int) -> None:
    if temporary and attempts < MAX_ATTEMPTS:
        delay = timedelta(seconds=min(2 ** attempts, 600))
        session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
            status="pending", last_error=error[:500], next_attempt_at=now() + delay))
    else:
        session.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                        .values(status="failed", last_error=error[:500]))


def progress(session: Session, consultation_id: uuid.UUID) -> Progress | None:
    f = fanout_for(session, consultation_id)
    if f is None:
        return None
    counts = dict(session.execute(select(deliveries.c.status, func.count()).where(
        deliveries.c.consultation_id == consultation_id, deliveries.c.kind == KIND)
        .group_by(deliveries.c.status)).all())
    return Progress(consultation_id=consultation_id, status=f.status, recipients=sum(counts.values()),
                    queued=counts.get("pending", 0) + counts.get("sending", 0), sent=counts.get("sent", 0),
                    failed=counts.get("failed", 0) + counts.get("skipped", 0))


def complete_finished(session: Session) -> list[Progress]:
    """Fan-outs with nothing left to send are done: `notification_batch_completed`, once each."""
    done = []
    for f in session.execute(select(fanouts.c.consultation_id).where(fanouts.c.status == "sending")
                             .with_for_update(skip_locked=True)).scalars().all():
        p = progress(session, f)
        if p.queued == 0:
            session.execute(update(fanouts).where(fanouts.c.consultation_id == f)
                            .values(status="done", completed_at=func.now()))
            add_event(session, NotificationBatchCompleted(consultation_id=f, recipients=p.recipients, sent=p.sent,
                                                          failed=p.failed, completed_at=now()))
            done.append(p)
    return done


# ---- the cabinet inbox (R-3.11) ---------------------------------------------------------------------

def notify(session: Session, person_id: uuid.UUID, event_id: uuid.UUID, title: str, body: str,
           link: str | None = None) -> None:
    session.execute(insert(inbox).values(person_id=person_id, source_event_id=event_id, title=title, body=body,
                                         link=link).on_conflict_do_nothing())


def read_inbox(session: Session, person_id: uuid.UUID, limit: int = 100) -> Inbox:
    rows = session.execute(select(inbox).where(inbox.c.person_id == person_id)
                           .order_by(inbox.c.id.desc()).limit(limit)).all()
    unread = session.execute(select(func.count()).select_from(inbox).where(
        inbox.c.person_id == person_id, inbox.c.read_at.is_(None))).scalar_one()
    return Inbox(items=[InboxItem(id=r.id, title=r.title, body=r.body, link=r.link, created_at=r.created_at,
                                  read=r.read_at is not None) for r in rows], unread=unread)


def mark_read(session: Session, person_id: uuid.UUID, item_id: int | None) -> int:
    cond = [inbox.c.person_id == person_id, inbox.c.read_at.is_(None)]
    if item_id is not None:
        cond.append(inbox.c.id == item_id)
    return session.execute(update(inbox).where(and_(*cond)).values(read_at=func.now())).rowcount


