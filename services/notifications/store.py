"""The notifications service's SQL (R-1.10, R-2.4, R-3.4, R-3.11): functions over a SQLAlchemy
session, and :class:`Deliveries`, the delivery engine's reads and writes, each its own transaction.

One delivery row per person × consultation × channel × kind (unique), selected before anything is
sent; a sender claims due rows with SKIP LOCKED, marks them `sending` (committed), sends, and marks
the accepted ones `sent` in small groups. A crash between a server's 250 and that group's commit
is the only way to send twice (the deterministic Message-ID lets the receiving server drop it);
rows stuck in `sending` go back to `pending` after a while.
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Uuid, and_, bindparam, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from chassis.outbox import add_event, processed_events
from chassis.store import SqlStore
from services.notifications.models import (deliveries, digest_items, fanouts, feedback_messages, feedback_told, inbox,
                                          used_unsubscribe_tokens)
from services.notifications.rules import (CHANNEL, DIGEST, FEEDBACK, KIND, MAX_ATTEMPTS, RETRIES_SPENT, after_failure,
                                          decision_caption, decision_link, failure_cause, feedback_changes,
                                          feedback_due, feedback_item, feedback_lines, feedback_subject, report_link,
                                          told_key)
from contracts.notifications import (CommentFeedback, ConsultationFeedback, Inbox, InboxItem,
                                     NotificationBatchCompleted, Progress)
from contracts.reports import OUTCOME_LABELS, Outcome

STUCK_AFTER = timedelta(minutes=2)


def now() -> datetime:
    return datetime.now(timezone.utc)


def event_seen(session: Session, handler: str, event_id: uuid.UUID) -> bool:
    return session.execute(select(processed_events.c.event_id).where(
        processed_events.c.handler == handler, processed_events.c.event_id == event_id)).first() is not None


def start_fanout(session: Session, data) -> None:
    session.execute(insert(fanouts).values(
        consultation_id=data.consultation_id, title=data.title, question=data.question, category=data.category,
        form=data.form.value,
        url=data.url, starts_on=data.starts_on, ends_on=data.ends_on, status="selecting")
        .on_conflict_do_nothing())


def add_recipients(session: Session, consultation_id: uuid.UUID, person_ids: list[uuid.UUID]) -> int:
    """One delivery row per person (a redelivered event adds nothing); one statement, compiled once,
    whatever the number of persons."""
    if not person_ids:
        return 0
    return len(session.execute(_ADD_RECIPIENTS, {"person_ids": person_ids, "consultation_id": consultation_id}).all())


_ADD_RECIPIENTS = insert(deliveries).from_select(
    ["person_id", "consultation_id", "channel", "kind", "status"],
    select(func.unnest(bindparam("person_ids", type_=ARRAY(Uuid))), bindparam("consultation_id", type_=Uuid),
           literal(CHANNEL), literal(KIND), literal("pending"))).on_conflict_do_nothing().returning(deliveries.c.id)


def add_digest_recipients(session: Session, consultation_id: uuid.UUID, day: date, person_ids: list[uuid.UUID],
                          send_at: datetime) -> list[uuid.UUID]:
    """Put the consultation into the ``day`` digest of each person in digest mode: one digest
    delivery row per person × day (unique), and an item per consultation while that digest is still
    pending. Returns the persons whose digest of that day is already going or gone: they get the
    start-day e-mail at once instead, since it must go out on the start day (R-1.10, R-3.4)."""
    if not person_ids:
        return []
    ids = sorted(set(person_ids))
    session.execute(insert(deliveries).values([
        {"person_id": p, "consultation_id": None, "day": day, "channel": CHANNEL, "kind": DIGEST,
         "status": "pending", "next_attempt_at": send_at} for p in ids])
        .on_conflict_do_nothing(index_elements=["person_id", "day"], index_where=text(f"kind = '{DIGEST}'")))
    # locked in id order: a sender claiming the row (SKIP LOCKED) sees every item added before
    rows = session.execute(select(deliveries.c.person_id, deliveries.c.status).where(
        deliveries.c.kind == DIGEST, deliveries.c.day == day, deliveries.c.person_id.in_(ids))
        .order_by(deliveries.c.person_id).with_for_update()).all()
    still_open = [r.person_id for r in rows if r.status == "pending"]
    if still_open:
        session.execute(insert(digest_items).values([
            {"person_id": p, "day": day, "consultation_id": consultation_id} for p in still_open])
            .on_conflict_do_nothing())
    return [r.person_id for r in rows if r.status != "pending"]


def digest_consultations(session: Session, person_id: uuid.UUID, day: date) -> list:
    """The fan-outs a person's digest of ``day`` lists, by category, then title."""
    return session.execute(select(fanouts).join(digest_items, digest_items.c.consultation_id == fanouts.c.consultation_id)
                           .where(digest_items.c.person_id == person_id, digest_items.c.day == day)
                           .order_by(fanouts.c.category, fanouts.c.title)).all()


def _status_counts(session: Session, consultation_id: uuid.UUID) -> tuple[Counter, int]:
    """Delivery states of a consultation's recipients: its own e-mails and the digests listing it
    (each digest counts once per consultation it lists). Also how many are served by a digest."""
    counts: Counter = Counter(dict(session.execute(select(deliveries.c.status, func.count()).where(
        deliveries.c.consultation_id == consultation_id, deliveries.c.kind == KIND)
        .group_by(deliveries.c.status)).all()))
    digest = Counter(dict(session.execute(
        select(deliveries.c.status, func.count())
        .select_from(digest_items.join(deliveries, and_(deliveries.c.person_id == digest_items.c.person_id,
                                                        deliveries.c.day == digest_items.c.day,
                                                        deliveries.c.kind == DIGEST)))
        .where(digest_items.c.consultation_id == consultation_id).group_by(deliveries.c.status)).all()))
    return counts + digest, sum(digest.values())


def selected(session: Session, consultation_id: uuid.UUID) -> None:
    """All recipients are queued: sending may finish the fan-out."""
    total = sum(_status_counts(session, consultation_id)[0].values())
    session.execute(update(fanouts).where(fanouts.c.consultation_id == consultation_id,
                                          fanouts.c.status == "selecting")
                    .values(status="sending", recipients=total))


def claim(session: Session, limit: int, stuck_after: timedelta = STUCK_AFTER,
          token: uuid.UUID | None = None) -> list:
    """Due pending deliveries, claimed for this sender under ``token`` (and `sending` ones whose
    sender has not touched them for ``stuck_after`` given back)."""
    stuck = and_(deliveries.c.status == "sending", deliveries.c.claimed_at < now() - stuck_after)
    session.execute(update(deliveries).where(stuck, deliveries.c.attempts >= MAX_ATTEMPTS)
                    .values(status="failed", last_error=f"{RETRIES_SPENT}: stuck in sending"))
    session.execute(update(deliveries).where(stuck).values(status="pending"))
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


def anything_to_send(session: Session, stuck_after: timedelta = STUCK_AFTER) -> bool:
    """Whether a sender's claim would find work: a due pending delivery, or a `sending` one to give back."""
    due = select(deliveries.c.id).where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= func.now())
    stuck = select(deliveries.c.id).where(deliveries.c.status == "sending",
                                          deliveries.c.claimed_at < now() - stuck_after)
    return session.execute(select(due.exists() | stuck.exists())).scalar_one()


def still_mine(session: Session, delivery_id: int, token: uuid.UUID) -> bool:
    """Just before sending: the row is still ours (not given back as stuck and claimed by another
    sender); touching it keeps it ours for another `stuck_after`."""
    return session.execute(update(deliveries).where(
        deliveries.c.id == delivery_id, deliveries.c.status == "sending", deliveries.c.claim_token == token)
        .values(claimed_at=func.now()).returning(deliveries.c.id)).first() is not None


def fanout_for(session: Session, consultation_id: uuid.UUID):
    return session.execute(select(fanouts).where(fanouts.c.consultation_id == consultation_id)).first()


def mark_sent(session: Session, delivery_ids: list[int]) -> None:
    session.execute(update(deliveries).where(deliveries.c.id.in_(delivery_ids))
                    .values(status="sent", sent_at=func.now(), last_error=None))


def mark_skipped(session: Session, delivery_id: int, why: str) -> None:
    session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(status="skipped", last_error=why))


def mark_failed(session: Session, delivery_id: int, error: str, temporary: bool, attempts: int) -> None:
    outcome = after_failure(error, temporary, attempts)
    values = {"status": outcome.status, "last_error": outcome.error}
    if outcome.delay is not None:
        values["next_attempt_at"] = now() + outcome.delay
    session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


def progress(session: Session, consultation_id: uuid.UUID) -> Progress | None:
    f = fanout_for(session, consultation_id)
    if f is None:
        return None
    counts, in_digest = _status_counts(session, consultation_id)
    reasons: Counter = Counter()
    for status, error, n in session.execute(select(deliveries.c.status, deliveries.c.last_error, func.count()).where(
            deliveries.c.consultation_id == consultation_id, deliveries.c.kind == KIND,
            deliveries.c.status.in_(("failed", "skipped"))).group_by(deliveries.c.status, deliveries.c.last_error)):
        reasons[failure_cause(status, error)] += n
    return Progress(consultation_id=consultation_id, status=f.status, recipients=sum(counts.values()),
                    queued=counts["pending"] + counts["sending"], sent=counts["sent"],
                    failed=counts["failed"] + counts["skipped"], in_digest=in_digest, failed_reasons=dict(reasons))


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




# ---- "you said, we did" (R-3.16, R-3.18) -----------------------------------------------------------

def lock_feedback(session: Session, consultation_id: uuid.UUID) -> None:
    """One selection at a time per consultation (two versions' events handled at once would both
    compare with the same "last told")."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                    {"k": f"feedback:{consultation_id}"})


def told(session: Session, consultation_id: uuid.UUID, person_ids: list[uuid.UUID]) -> dict:
    """person → comment → rules.told_key, of what each was last told about this consultation."""
    out: dict = {}
    for r in session.execute(select(feedback_told).where(feedback_told.c.consultation_id == consultation_id,
                                                         feedback_told.c.person_id.in_(person_ids))):
        out.setdefault(r.person_id, {})[r.comment_id] = told_key(r.outcome, r.justification)
    return out


def decisions_told(session: Session, consultation_id: uuid.UUID, person_ids: list[uuid.UUID]) -> dict:
    """person → the decision link of their newest message about this consultation (None: none yet);
    a person missing from the answer has had no message."""
    return dict(session.execute(
        select(feedback_messages.c.person_id, feedback_messages.c.decision_url)
        .where(feedback_messages.c.consultation_id == consultation_id, feedback_messages.c.person_id.in_(person_ids))
        .distinct(feedback_messages.c.person_id)
        .order_by(feedback_messages.c.person_id, feedback_messages.c.report_version.desc())).all())


def add_feedback(session: Session, event_id: uuid.UUID, page, public_url: str) -> int:
    """One page of a published report's contributors (``contracts.reports.ContributionPage``): for
    each person a version changed something for, one message (what changed), its cabinet copy and
    its e-mail delivery, and the new "last told". Idempotent: run again, it finds nothing changed."""
    people = [a.author_id for a in page.items]
    if not people:
        return 0
    cid, version = page.consultation_id, page.report_version
    was_told, decision_was = told(session, cid, people), decisions_told(session, cid, people)
    report_url = report_link(public_url, cid)
    decision_url = decision_link(public_url, cid) if page.decision else None
    messages, told_rows = [], []
    for a in page.items:
        changed = feedback_changes(was_told.get(a.author_id, {}), a.comments)
        if not feedback_due(changed, decision_url, decision_was.get(a.author_id)):
            continue
        messages.append({"person_id": a.author_id, "consultation_id": cid, "report_version": version,
                         "title": page.title, "report_url": report_url, "decision_url": decision_url,
                         "decision_title": decision_caption(page.decision), "first": a.author_id not in decision_was,
                         "items": [feedback_item(c) for c in changed]})
        told_rows += [{"person_id": a.author_id, "consultation_id": cid, "comment_id": c.comment_id,
                       "number": c.number, "target": c.target, "excerpt": c.excerpt, "outcome": c.outcome.value,
                       "justification": (c.justification or "").strip() or None, "report_version": version}
                      for c in changed]
    if not messages:
        return 0
    made = session.execute(insert(feedback_messages).values(messages).on_conflict_do_nothing()
                           .returning(feedback_messages)).all()
    if not made:
        return 0
    session.execute(insert(inbox).values([
        {"person_id": m.person_id, "source_event_id": event_id, "title": feedback_subject(m.title, m.first)[:500],
         "body": "\n".join(feedback_lines(m)), "link": m.report_url} for m in made]).on_conflict_do_nothing())
    session.execute(insert(deliveries).values([
        {"person_id": m.person_id, "consultation_id": None, "channel": CHANNEL, "kind": FEEDBACK, "status": "pending",
         "feedback_id": m.id} for m in made]).on_conflict_do_nothing())
    if told_rows:
        stmt = insert(feedback_told).values(told_rows)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[feedback_told.c.person_id, feedback_told.c.consultation_id, feedback_told.c.comment_id],
            set_={k: stmt.excluded[k] for k in ("number", "target", "excerpt", "outcome", "justification",
                                                 "report_version")}))
    return len(made)


def feedback_message(session: Session, feedback_id: int):
    return session.execute(select(feedback_messages).where(feedback_messages.c.id == feedback_id)).first()


def feedback(session: Session, person_id: uuid.UUID, consultation_id: uuid.UUID | None = None) -> list[ConsultationFeedback]:
    """What a person was last told, per consultation (newest message first): every comment of theirs
    with its consideration, the report and, once recorded, the decision."""
    cond = [feedback_messages.c.person_id == person_id]
    if consultation_id is not None:
        cond.append(feedback_messages.c.consultation_id == consultation_id)
    newest = session.execute(select(feedback_messages).where(*cond)
                             .distinct(feedback_messages.c.consultation_id)
                             .order_by(feedback_messages.c.consultation_id, feedback_messages.c.report_version.desc())
                             ).all()
    if not newest:
        return []
    comments: dict = {}
    for r in session.execute(select(feedback_told).where(
            feedback_told.c.person_id == person_id,
            feedback_told.c.consultation_id.in_([m.consultation_id for m in newest]))
            .order_by(feedback_told.c.consultation_id, feedback_told.c.number)):
        comments.setdefault(r.consultation_id, []).append(CommentFeedback(
            comment_id=r.comment_id, number=r.number, target=r.target, excerpt=r.excerpt, outcome=Outcome(r.outcome),
            outcome_label=OUTCOME_LABELS[Outcome(r.outcome)], justification=r.justification,
            report_version=r.report_version))
    out = [ConsultationFeedback(consultation_id=m.consultation_id, title=m.title, report_version=m.report_version,
                                report_url=m.report_url, decision_title=m.decision_title, decision_url=m.decision_url,
                                told_at=m.created_at, comments=comments.get(m.consultation_id, [])) for m in newest]
    return sorted(out, key=lambda f: f.told_at, reverse=True)


def use_unsubscribe_token(session: Session, token_id: str) -> bool:
    """True the first time an unsubscribe link is used."""
    return session.execute(insert(used_unsubscribe_tokens).values(token_id=token_id).on_conflict_do_nothing()
                           .returning(used_unsubscribe_tokens.c.token_id)).first() is not None


class Store(SqlStore):
    """The service's reads and writes in one unit of work's transaction (``chassis.store``)."""

    def notify(self, person_id: uuid.UUID, event_id: uuid.UUID, title: str, body: str,
               link: str | None = None) -> None:
        notify(self.session, person_id, event_id, title, body, link)

    def event_seen(self, handler: str, event_id: uuid.UUID) -> bool:
        return event_seen(self.session, handler, event_id)

    def start_fanout(self, data) -> None:
        start_fanout(self.session, data)

    def add_recipients(self, consultation_id: uuid.UUID, person_ids: list[uuid.UUID]) -> int:
        return add_recipients(self.session, consultation_id, person_ids)

    def add_digest_recipients(self, consultation_id: uuid.UUID, day: date, person_ids: list[uuid.UUID],
                              send_at: datetime) -> list[uuid.UUID]:
        return add_digest_recipients(self.session, consultation_id, day, person_ids, send_at)

    def selected(self, consultation_id: uuid.UUID) -> None:
        selected(self.session, consultation_id)

    def complete_finished(self) -> list[Progress]:
        return complete_finished(self.session)

    def anything_to_send(self, stuck_after: timedelta) -> bool:
        return anything_to_send(self.session, stuck_after)

    def progress(self, consultation_id: uuid.UUID) -> Progress | None:
        return progress(self.session, consultation_id)

    def read_inbox(self, person_id: uuid.UUID) -> Inbox:
        return read_inbox(self.session, person_id)

    def mark_read(self, person_id: uuid.UUID, item_id: int | None) -> int:
        return mark_read(self.session, person_id, item_id)

    def use_unsubscribe_token(self, token_id: str) -> bool:
        return use_unsubscribe_token(self.session, token_id)

    def add_feedback(self, event_id: uuid.UUID, page, public_url: str) -> int:
        lock_feedback(self.session, page.consultation_id)
        return add_feedback(self.session, event_id, page, public_url)

    def feedback(self, person_id: uuid.UUID, consultation_id: uuid.UUID | None = None) -> list[ConsultationFeedback]:
        return feedback(self.session, person_id, consultation_id)


class Deliveries:
    """What the senders read and write, each call its own transaction of ``uow`` (the engine in
    handlers.py takes this or, in tests, an in-memory fake with the same methods)."""

    def __init__(self, uow):
        self.uow = uow

    def claim(self, limit: int, stuck_after: timedelta, token: uuid.UUID) -> list:
        with self.uow.transaction() as store:
            return claim(store.session, limit, stuck_after, token)

    def fanouts(self, consultation_ids: set[uuid.UUID]) -> dict:
        with self.uow.transaction() as store:
            return {c: fanout_for(store.session, c) for c in consultation_ids}

    def still_mine(self, delivery_id: int, token: uuid.UUID) -> bool:
        with self.uow.transaction() as store:
            return still_mine(store.session, delivery_id, token)

    def digest_listing(self, person_id: uuid.UUID, day: date) -> list:
        with self.uow.transaction() as store:
            return digest_consultations(store.session, person_id, day)

    def feedback_message(self, feedback_id: int):
        with self.uow.transaction() as store:
            return feedback_message(store.session, feedback_id)

    def skip(self, delivery_id: int, why: str) -> None:
        with self.uow.transaction() as store:
            mark_skipped(store.session, delivery_id, why)

    def mark_sent(self, delivery_ids: list[int]) -> None:
        with self.uow.transaction() as store:
            mark_sent(store.session, delivery_ids)

    def mark_failed(self, delivery_id: int, error: str, temporary: bool, attempts: int) -> None:
        with self.uow.transaction() as store:
            mark_failed(store.session, delivery_id, error, temporary, attempts)
