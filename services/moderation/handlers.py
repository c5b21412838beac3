"""Moderation's units of work (R-1.1, R-2.1, R-3.7, R-3.10): each opens a transaction on the store,
applies the rules and leaves its events in the outbox.

Every comment and initiative is screened once (``chassis.consumer.once_per_event``; the screening
handlers run in the transaction that claimed the event); a clean comment is published at once,
anything the screening finds goes to a person with what matched, and every screening and decision
is kept for the protocol and for appeals.
"""
from __future__ import annotations

import uuid

from chassis.errors import Conflict, NotFound
from contracts.consultations import signed_as
from contracts.identity import Principal
from contracts.moderation import (Audit, AuditItem, CaseDecision, CaseOut, CommentApproved, Queue, QueueQuery,
                                  Stats)
from services.moderation import rules
from contracts.screening import screen


def screen_comment(store, data, holidays_off: bool = True) -> str:
    """Record the screening of a submitted comment (R-3.7): hold → the queue with its R-3.10 clock;
    pass → nothing more when the writer already applied these rules and published it (the event
    carries the outcome), ``comment_approved`` when it did not. Returns the outcome."""
    result = data.screening
    if result is None:
        result = screen(data.body, store.previous_hashes(data.author_id))
    store.add_screening("comment", data.comment_id, data.consultation_id, data.author_id, data.body,
                        result.text_hash, result.outcome, result.matches, channel=data.channel.value,
                        entered_by=data.entered_by, received_on=data.received_on,
                        entered_at=data.submitted_at if data.entered_by else None)
    if result.held:
        store.open_case("comment", data.comment_id, data.consultation_id, data.author_id,
                        signed_as(data.author_name, data.organisation_name),
                        data.body, result.matches, data.submitted_at,
                        rules.due_at(data.submitted_at, holidays_off), "screening", data.channel.value)
    elif data.screening is None:
        store.add_event(CommentApproved(comment_id=data.comment_id, consultation_id=data.consultation_id))
    return result.outcome


def screen_initiative(store, data, holidays_off: bool = True) -> str:
    """Initiatives always go to a moderator (R-3.10); the screening's findings come with them."""
    text = rules.initiative_text(data.title, data.question)
    result = screen(text)
    store.add_screening("initiative", data.consultation_id, data.consultation_id, data.initiator_id, text,
                        result.text_hash, result.outcome, result.matches)
    store.open_case("initiative", data.consultation_id, data.consultation_id, data.initiator_id, None, text,
                    result.matches, data.submitted_at, rules.due_at(data.submitted_at, holidays_off), "screening")
    return result.outcome


def report_comment(uow, actor: Principal, comment_id: uuid.UUID, reason: str,
                   holidays_off: bool = True) -> CaseOut:
    """A resident reports a published comment; several reports raise the case's priority."""
    return _flag(uow, actor, comment_id, reason, rules.report_match(reason), holidays_off)


def disown_comment(uow, actor: Principal, comment_id: uuid.UUID, explanation: str | None,
                   holidays_off: bool = True) -> CaseOut:
    """The person a published comment is signed with says it is not theirs (R-3.5: comments are
    published with their author's name): the case goes to the top of the queue with that reason and
    is decided as any other; rejected on the ``anonymous`` ground, the comment is withdrawn."""
    matches = rules.not_mine_match(explanation)
    return _flag(uow, actor, comment_id, matches[0]["text"], matches, holidays_off, named_author_only=True)


def _flag(uow, actor: Principal, comment_id: uuid.UUID, reason: str, matches: list[dict], holidays_off: bool,
          named_author_only: bool = False) -> CaseOut:
    with uow.transaction() as store:
        seen = store.last_comment_screening(comment_id)
        if named_author_only:
            rules.require_named_author(seen, actor)
        # pending and rejected comments are not public: reporting them answers as for no comment at all
        if seen is None or not rules.comment_is_public(store.comment_case(comment_id)):
            raise NotFound("Коментар не знайдено", code="comment_not_found")
        if not store.add_flag(comment_id, actor.person_id, reason):
            raise Conflict("Ви вже поскаржилися на цей коментар", code="already_reported")
        count = store.count_flags(comment_id)
        existing = store.comment_case(comment_id, lock=True)
        action = rules.after_report(existing)
        if action == "open":
            at = rules.now()
            store.open_case("comment", comment_id, seen.consultation_id, seen.author_id, None, seen.text,
                            matches, at, rules.due_at(at, holidays_off), "report", seen.channel)
        elif action == "append":
            matches = existing.matches + matches
            store.set_matches(existing.id, matches)
        elif action == "reopen":  # published before: reports reopen it for a fresh look
            at = rules.now()
            store.reopen_case(existing.id, matches, at, rules.due_at(at, holidays_off))
        else:
            matches = existing.matches
        store.set_reports(comment_id, count, rules.priority(count, matches))
        return rules.case_out(store.comment_case(comment_id))


def queue(uow, actor: Principal | None, query: QueueQuery = QueueQuery()) -> Queue:
    """Open cases, a page at a time (keyset: most reported first, then oldest first), filtered by
    consultation, kind and matched rule, with due times and overdue marks."""
    rules.require_moderator(actor)
    after = rules.parse_queue_cursor(query.after) if query.after else None
    with uow.transaction() as store:
        total, rows = store.open_cases(query.consultation_id, query.kind, query.rule, after, query.limit)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return Queue(items=[rules.case_out(r) for r in rows], total=total,
                 next_after=rules.queue_cursor(rows[-1]) if more else None)


def decide(uow, actor: Principal | None, case_id: uuid.UUID, body: CaseDecision,
           unit_name: str | None = None) -> CaseOut:
    """Record a decision once: of two moderators deciding at once, exactly one wins (409 for the other)."""
    moderator = rules.require_moderator(actor)
    rules.check_grounds(body)
    with uow.transaction() as store:
        row = store.case(case_id)
        if row is None:
            raise NotFound("Справу не знайдено", code="case_not_found")
        rules.check_unit(row.kind, body, unit_name)
        decision = rules.decision_of(body)
        won = store.close_case(case_id, decision, body.grounds, body.note, moderator.person_id)
        if won is None:
            raise Conflict("Рішення у цій справі вже ухвалено", code="already_decided")
        store.add_decision(case_id, row.consultation_id, moderator.person_id, decision, body.grounds, body.note)
        store.add_event(rules.decision_event(row.kind, row.subject_id, row.consultation_id, body,
                                             moderator.person_id, unit_name))
        return rules.case_out(won)


def audit(uow, actor: Principal | None, consultation_id: uuid.UUID | None,
          moderator_id: uuid.UUID | None, limit: int = 1000) -> Audit:
    rules.require_moderator(actor)
    items: list[AuditItem] = []
    with uow.transaction() as store:
        if moderator_id is None:
            items += [AuditItem(at=r.at, kind="screening", subject_id=r.subject_id,
                                consultation_id=r.consultation_id, outcome=r.outcome, matches=r.matches,
                                channel=r.channel, entered_by=r.entered_by, entered_at=r.entered_at,
                                received_on=r.received_on)
                      for r in store.recent_screenings(consultation_id, limit)]
        items += [AuditItem(at=r.at, kind="decision", subject_id=r.subject_id, consultation_id=r.consultation_id,
                            outcome=r.decision, grounds=r.grounds, moderator_id=r.moderator_id, note=r.note)
                  for r in store.recent_decisions(consultation_id, moderator_id, limit)]
    return Audit(items=sorted(items, key=lambda i: i.at, reverse=True))


def stats(uow, actor: Principal | None) -> Stats:
    rules.require_moderator(actor)
    with uow.transaction() as store:
        c = store.counts()
    return Stats(open=c["open"], overdue=c["overdue"], decided=sum(c["by_moderator"].values()),
                 by_moderator={str(k): v for k, v in c["by_moderator"].items()},
                 by_ground=rules.count_grounds(c["grounds"]), screened=c["screened"], held_by_screening=c["held"])
