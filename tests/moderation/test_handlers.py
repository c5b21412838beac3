"""Moderation's units of work (services/moderation/handlers.py) over the in-memory store."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from chassis.errors import Conflict, InvalidInput, NotFound
from contracts.consultations import CommentSubmitted, ConsultationSubmitted
from contracts.moderation import (NOT_MINE_REASON, CaseDecision, CommentApproved, CommentRejected,
                                  InitiativeApproved)
from contracts.screening import screen
from services.moderation import handlers, rules
from tests.moderation.fakes import FakeStore
from tests.support.fakes import fixtures
from tests.support.principals import principal

AT = datetime(2026, 11, 27, 9, tzinfo=timezone.utc)
MODERATOR = principal("moderator")


store, uow = fixtures(FakeStore)


def comment(body: str, author=None) -> CommentSubmitted:
    return CommentSubmitted(comment_id=uuid.uuid4(), consultation_id=uuid.uuid4(), author_id=author or uuid.uuid4(),
                            author_name="Автор", body=body, submitted_at=AT)


def test_r_3_7_a_comment_the_writer_screened_and_published_is_audited_without_an_approval(store):
    """R-3.7: the outcome comment_submitted carries is recorded as the screening (audit, statistics);
    the comment is already public, so no comment_approved follows and no case opens."""
    c = comment("Прошу відремонтувати міст до осені.")
    c = c.model_copy(update={"screening": screen(c.body)})
    assert handlers.screen_comment(store, c) == "pass"
    assert store.events == [] and not store.cases
    assert store.screenings[0].outcome == "pass" and store.screenings[0].text_hash == c.screening.text_hash


def test_r_3_7_r_3_10_a_comment_the_writer_held_waits_in_the_queue_with_what_it_matched(store):
    """R-3.7, R-3.10: a held outcome opens the case with the writer's matches and the two-working-day clock."""
    c = comment("Прошу відремонтувати міст до осені.")
    held = screen("Дзвоніть 067 123 45 67")
    c = c.model_copy(update={"screening": held})
    assert handlers.screen_comment(store, c, holidays_off=True) == "hold"
    case, = store.cases.values()
    assert case.source == "screening" and case.due_at == rules.due_at(AT, True)
    assert case.matches == held.matches and not store.events


def test_r_3_7_a_clean_comment_without_an_outcome_is_screened_here_and_approved_at_once(store):
    c = comment("Прошу відремонтувати міст до осені.")
    assert handlers.screen_comment(store, c) == "pass"
    assert store.events == [CommentApproved(comment_id=c.comment_id, consultation_id=c.consultation_id)]
    assert not store.cases and store.screenings[0].outcome == "pass"


def test_r_3_7_r_3_10_a_held_comment_waits_in_the_queue_with_its_due_time(store):
    c = comment("Дзвоніть 067 123 45 67")
    assert handlers.screen_comment(store, c, holidays_off=True) == "hold"
    case, = store.cases.values()
    assert case.status == "open" and case.source == "screening" and case.due_at == rules.due_at(AT, True)
    assert {m["rule"] for m in case.matches} == {"phone"} and not store.events


def test_r_3_7_the_same_text_twice_from_one_author_is_held_as_a_duplicate(store):
    author = uuid.uuid4()
    handlers.screen_comment(store, comment("Прошу відремонтувати міст до осені.", author))
    assert handlers.screen_comment(store, comment("Прошу відремонтувати міст до осені.", author)) == "hold"
    case, = store.cases.values()
    assert {m["rule"] for m in case.matches} == {"duplicate"}


def test_r_3_10_every_initiative_goes_to_a_moderator(store):
    data = ConsultationSubmitted(consultation_id=uuid.uuid4(), title="Перехід біля школи", question="Чи потрібен?",
                                 category=3, initiator_id=uuid.uuid4(), submitted_at=AT)
    assert handlers.screen_initiative(store, data) == "pass"
    case, = store.cases.values()
    assert case.kind == "initiative" and case.subject_id == data.consultation_id and not store.events


def test_r_1_1_a_rejection_without_grounds_is_refused_before_the_case_is_read(uow):
    with pytest.raises(InvalidInput):
        handlers.decide(uow, MODERATOR, uuid.uuid4(), CaseDecision(decision="reject"))


def test_r_3_7_a_rejected_comment_is_decided_once_and_its_ground_published(store, uow):
    c = comment("Дзвоніть 067 123 45 67")
    handlers.screen_comment(store, c)
    case_id, = store.cases
    out = handlers.decide(uow, MODERATOR, case_id, CaseDecision(decision="reject", grounds=["off_topic"]))
    assert out.decision == "rejected" and out.status == "decided"
    assert store.events_of(CommentRejected)[0].grounds == ["off_topic"]
    with pytest.raises(Conflict):  # the other moderator of two
        handlers.decide(uow, principal("moderator"), case_id, CaseDecision(decision="approve"))
    assert len(store.decisions) == 1 and len(store.events) == 1
    with pytest.raises(NotFound):
        handlers.decide(uow, MODERATOR, uuid.uuid4(), CaseDecision(decision="approve"))


def test_r_3_10_an_approved_initiative_goes_to_the_named_unit(store, uow):
    data = ConsultationSubmitted(consultation_id=uuid.uuid4(), title="Перехід", question="Чи потрібен?",
                                 category=3, initiator_id=uuid.uuid4(), submitted_at=AT)
    handlers.screen_initiative(store, data)
    case_id, = store.cases
    with pytest.raises(InvalidInput):
        handlers.decide(uow, MODERATOR, case_id, CaseDecision(decision="approve"))
    assert store.cases[case_id].status == "open"
    unit = uuid.uuid4()
    handlers.decide(uow, MODERATOR, case_id, CaseDecision(decision="approve", unit_id=unit), "Відділ освіти")
    assert store.events == [InitiativeApproved(consultation_id=data.consultation_id, unit_id=unit,
                                               unit_name="Відділ освіти", moderator_id=MODERATOR.person_id)]


def test_r_3_7_reports_of_a_public_comment_raise_its_priority_once_per_resident(store, uow):
    c = comment("Голосуйте за нашу партію, вона відремонтує міст")
    handlers.screen_comment(store, c)  # screening cannot see campaigning: public
    for i in range(3):
        out = handlers.report_comment(uow, principal(), c.comment_id, f"Агітація {i}")
    assert out.reports == out.priority == 3 and out.source == "report" and out.status == "open"
    assert [m["rule"] for m in out.matches] == ["report"] * 3
    reporter = principal()
    handlers.report_comment(uow, reporter, c.comment_id, "Агітація")
    with pytest.raises(Conflict):
        handlers.report_comment(uow, reporter, c.comment_id, "Ще раз")
    assert store.count_flags(c.comment_id) == 4  # the refused report left nothing behind


def test_r_3_7_a_report_reopens_an_approved_comment_but_held_and_rejected_ones_are_not_found(store, uow):
    held = comment("Дзвоніть 067 123 45 67")
    handlers.screen_comment(store, held)
    with pytest.raises(NotFound):  # pending: not public
        handlers.report_comment(uow, principal(), held.comment_id, "Скарга")
    case_id, = store.cases
    handlers.decide(uow, MODERATOR, case_id, CaseDecision(decision="approve"))
    out = handlers.report_comment(uow, principal(), held.comment_id, "Скарга")
    assert out.status == "open" and out.source == "report" and out.decision is None
    handlers.decide(uow, MODERATOR, case_id, CaseDecision(decision="reject", grounds=["political_campaigning"]))
    with pytest.raises(NotFound):
        handlers.report_comment(uow, principal(), held.comment_id, "Скарга")
    with pytest.raises(NotFound):
        handlers.report_comment(uow, principal(), uuid.uuid4(), "Скарга")


def test_r_3_5_the_person_a_comment_is_signed_with_disowns_it_and_it_tops_the_queue_with_the_reason(store, uow):
    """Clause R-3.5."""
    named = principal()
    other = comment("Прошу побудувати зупинку")
    handlers.screen_comment(store, other)
    for i in range(3):
        handlers.report_comment(uow, principal(), other.comment_id, f"Скарга {i}")
    c = comment("Підтримую забудову скверу", author=named.person_id)
    handlers.screen_comment(store, c)
    for stranger in (principal(), MODERATOR):  # only the named author: anyone else, as if no such comment
        with pytest.raises(NotFound):
            handlers.disown_comment(uow, stranger, c.comment_id, None)
    out = handlers.disown_comment(uow, named, c.comment_id, "Я цього не писав")
    assert out.status == "open" and out.matches == [{"rule": "not_mine", "text": NOT_MINE_REASON + ": Я цього не писав"}]
    reported = store.comment_case(other.comment_id)
    assert out.priority > reported.priority == 3  # the queue is ordered by priority: it comes first
    with pytest.raises(Conflict):
        handlers.disown_comment(uow, named, c.comment_id, None)
    decided = handlers.decide(uow, MODERATOR, out.id, CaseDecision(decision="reject", grounds=["anonymous"]))
    assert decided.decision == "rejected"
    assert store.events_of(CommentRejected)[-1].comment_id == c.comment_id
    with pytest.raises(NotFound):  # withdrawn: no longer public
        handlers.disown_comment(uow, named, c.comment_id, None)


def test_r_3_5_a_held_comment_cannot_be_disowned_before_it_is_public(store, uow):
    """Clause R-3.5."""
    named = principal()
    held = comment("Дзвоніть 067 123 45 67", author=named.person_id)
    handlers.screen_comment(store, held)
    with pytest.raises(NotFound):
        handlers.disown_comment(uow, named, held.comment_id, None)


def test_r_1_1_a_submission_received_offline_is_screened_queued_with_its_channel_and_its_registrar_audited(store, uow):
    """R-1.1, R-3.7: a submission received offline (no account) is screened and queued like any
    comment; the queue shows its channel and the audit who registered it, when, and the day received."""
    official, received = uuid.uuid4(), datetime(2026, 11, 26).date()
    c = CommentSubmitted(comment_id=uuid.uuid4(), consultation_id=uuid.uuid4(), author_id=None,
                         author_name="Іваненко Марія", body="Дзвоніть 067 123 45 67", submitted_at=AT,
                         channel="paper", received_on=received, entered_by=official,
                         screening=screen("Дзвоніть 067 123 45 67"))
    assert handlers.screen_comment(store, c) == "hold"
    case, = store.cases.values()
    assert case.channel == "paper" and case.author_id is None
    assert rules.case_out(case).channel == "paper"
    item, = handlers.audit(uow, MODERATOR, c.consultation_id, None).items
    assert (item.kind, item.channel, item.entered_by, item.entered_at, item.received_on) == (
        "screening", "paper", official, AT, received)
