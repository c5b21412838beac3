"""The consultations service's pure rules (services/consultations/rules.py): no database, no broker.
(Date arithmetic and term limits: tests/unit/test_hardening_services.py.)"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from chassis.errors import Forbidden, InvalidInput, NotFound
from chassis.workdays import local_tz
from contracts.consultations import Notice, OptionOut, QuestionOut, ResponseIn
from services.consultations import rules
from services.consultations.rules import Rules
from tests.support.principals import principal

UNIT = uuid.uuid4()
KYIV = local_tz()  # the tz setting: Europe/Kyiv
FULL_NOTICE = {k: "заповнено" for k in Notice.model_fields}


def consultation(status="draft", form="proposal", **extra):
    values = dict(id=uuid.uuid4(), status=status, form=form, unit_id=UNIT, initiator_id=None, question="Питання?",
                  notice=FULL_NOTICE, starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 31), title="Назва",
                  category=3)
    return SimpleNamespace(**{**values, **extra})


def test_r_3_10_who_sees_a_consultation_in_each_status():
    owner, moderator, stranger = principal("official", unit_id=UNIT), principal("moderator"), principal()
    initiator = principal()
    for status in ("scheduled", "active", "closed", "archived"):
        assert rules.can_see(None, consultation(status))
    assert rules.can_see(owner, consultation("draft")) and rules.can_see(moderator, consultation("draft"))
    assert not rules.can_see(stranger, consultation("draft"))
    submitted = consultation("submitted", unit_id=None, initiator_id=initiator.person_id)
    assert rules.can_see(initiator, submitted) and rules.can_see(moderator, submitted)
    assert not rules.can_see(owner, submitted) and not rules.can_see(None, submitted)
    forwarded = consultation("forwarded", initiator_id=initiator.person_id)
    assert rules.can_see(owner, forwarded) and not rules.can_see(stranger, forwarded)
    with pytest.raises(NotFound):  # hidden objects answer 404, never 403
        rules.require_visible(stranger, consultation("draft"))
    with pytest.raises(NotFound):
        rules.require_visible(owner, None)


def test_r_1_3_only_eligible_consenting_persons_take_part():
    with pytest.raises(Forbidden) as exc:
        rules.require_participant(None)
    assert exc.value.code == "login_required"
    with pytest.raises(Forbidden) as exc:
        rules.require_participant(principal(consent=False))
    assert exc.value.code == "consent_required"
    with pytest.raises(Forbidden) as exc:
        rules.require_participant(principal(eligible=False))
    assert exc.value.code == "under_14" and exc.value.errors[0]["field"] == "person"
    assert rules.require_participant(principal())


def test_r_2_2_residents_initiate_proposals_and_surveys_not_draft_acts():
    with pytest.raises(InvalidInput) as exc:
        rules.check_initiative_form("draft_act")
    assert exc.value.errors[0]["field"] == "form"
    rules.check_initiative_form("proposal")


def test_r_3_13_what_a_publication_still_lacks():
    assert rules.missing_for_publication(consultation(), alt_count=2) == []
    bare = consultation(notice={}, question=" ", starts_on=None)
    missing = rules.missing_for_publication(bare, alt_count=0)
    assert missing[0] == "question" and {"holder", "alternatives", "starts_on"} <= set(missing)
    assert rules.missing_for_publication(consultation(form="survey"), 0, question_count=0) == ["questions"]
    assert rules.missing_for_publication(consultation(form="draft_act"), 0, paragraph_count=0) == ["draft_text"]


def test_r_3_13_r_1_12_publication_is_refused_naming_the_fields():
    today = date(2026, 11, 30)
    with pytest.raises(InvalidInput) as exc:
        rules.check_publishable(consultation(notice={}), 2, 0, 0, today, Rules())
    assert exc.value.code == "notice_incomplete" and "holder" in {e["field"] for e in exc.value.errors}
    with pytest.raises(InvalidInput) as exc:
        rules.check_publishable(consultation(starts_on=date(2026, 11, 29)), 2, 0, 0, today, Rules())
    assert exc.value.code == "start_in_past"
    with pytest.raises(InvalidInput) as exc:
        rules.check_publishable(consultation(ends_on=date(2026, 12, 14)), 2, 0, 0, today, Rules())
    assert exc.value.code == "term_too_short" and exc.value.errors[0]["field"] == "ends_on"
    rules.check_publishable(consultation(ends_on=date(2026, 12, 15)), 2, 0, 0, today, Rules())  # 15 days


def test_r_3_11_an_initiative_lasts_at_least_a_calendar_month():
    today = date(2026, 11, 30)
    initiative = consultation(initiator_id=uuid.uuid4(), starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 31))
    with pytest.raises(InvalidInput):
        rules.check_publishable(initiative, 2, 0, 0, today, Rules())
    initiative.ends_on = date(2027, 1, 1)
    rules.check_publishable(initiative, 2, 0, 0, today, Rules())


def test_r_3_4_the_start_e_mail_quotes_at_most_500_characters_and_links_the_page():
    row = consultation("active", question="П" * 600)
    event = rules.published_event(row, Rules(public_url="https://e.example.org/"))
    assert len(event.question) == 498 and event.question.endswith("…")
    assert event.url == f"https://e.example.org/consultations/{row.id}"
    assert rules.published_event(consultation("active", question="Коротке?"), Rules()).question == "Коротке?"


def test_r_3_10_r_3_17_r_3_18_the_deadlines():
    submitted = datetime(2026, 11, 27, 12, tzinfo=KYIV)  # Friday
    assert rules.moderation_due(submitted) == datetime(2026, 12, 2, tzinfo=KYIV)
    assert rules.report_due(date(2026, 12, 31)) == datetime(2027, 1, 16, tzinfo=KYIV)
    assert rules.decision_due(date(2026, 11, 27), True) == datetime(2026, 12, 5, tzinfo=KYIV)  # Fri + 5 working


def test_r_3_18_a_decision_is_adopted_after_the_consultation_and_not_in_the_future():
    closed = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput) as exc:
        rules.check_decision_dates(date(2026, 12, 1), closed, date(2026, 11, 30))
    assert exc.value.code == "adopted_in_future"
    with pytest.raises(InvalidInput) as exc:
        rules.check_decision_dates(date(2026, 11, 18), closed, date(2026, 11, 30))
    assert exc.value.code == "adopted_before_close"
    rules.check_decision_dates(date(2026, 11, 19), closed, date(2026, 11, 30))
    due = datetime(2026, 12, 5, tzinfo=timezone.utc)
    row = SimpleNamespace(number="№ 1", adopted_on=date(2026, 11, 27), title="Рішення", text="Текст рішення",
                          publication_due=due, recorded_at=due)
    assert rules.decision_out(row).on_time
    row.recorded_at = due + timedelta(seconds=1)
    assert not rules.decision_out(row).on_time


def test_r_3_9_rejection_grounds_go_to_the_author_only():
    author = principal()
    row = {"id": uuid.uuid4(), "consultation_id": uuid.uuid4(), "author_id": author.person_id, "author_name": "А",
           "alternative_id": None, "body": "Текст", "status": "rejected", "created_at": datetime.now(timezone.utc),
           "rejection_grounds": ["obscene"]}
    assert rules.comment_out(row, author).rejection_grounds == ["obscene"]
    assert rules.comment_out(row, principal()).rejection_grounds is None
    assert rules.comment_out(row, None).rejection_grounds is None


def test_a_repeated_comment_is_the_same_text_whatever_its_case_spacing_and_look_alikes():
    assert rules.same_text("Прошу  ПАНДУС!", "прошу пандус")
    assert rules.same_text("Прошу пандус", "Пpoшy пaндyc")  # Latin look-alikes
    assert not rules.same_text("Прошу пандус", "Прошу пандуси")


def test_r_1_9_r_3_12_a_survey_response_is_checked_field_by_field():
    single, text = uuid.uuid4(), uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    survey = {single: QuestionOut(id=single, position=1, text="Що?", kind="single",
                                  options=[OptionOut(id=a, text="А"), OptionOut(id=b, text="Б")]),
              text: QuestionOut(id=text, position=2, text="Чому?", kind="text", options=[])}
    ok = ResponseIn(answers=[{"question_id": single, "option_ids": [a]}, {"question_id": text, "text": "Бо"}])
    assert rules.response_errors(ok, survey, False) == []
    bad = ResponseIn(answers=[{"question_id": single, "option_ids": [a, b]}, {"question_id": text, "text": " "},
                              {"question_id": uuid.uuid4()}, {"question_id": single, "option_ids": [uuid.uuid4()]}],
                     alternative_id=uuid.uuid4())
    assert [e["field"] for e in rules.response_errors(bad, survey, False)] == [
        "answers.0.option_ids", "answers.1.text", "answers.2.question_id", "answers.3.option_ids", "answers",
        "alternative_id"]


def test_r_3_10_r_3_17_r_3_18_who_sees_which_deadlines_and_when_they_are_missed():
    with pytest.raises(Forbidden):
        rules.deadline_scope(principal())
    with pytest.raises(Forbidden):
        rules.deadline_scope(None)
    assert rules.deadline_scope(principal("moderator")) and rules.deadline_scope(principal("admin"))
    assert not rules.deadline_scope(principal("official", unit_id=UNIT))
    due = datetime(2026, 12, 1, tzinfo=timezone.utc)
    row = SimpleNamespace(id=uuid.uuid4(), title="Назва", unit_name="Відділ")
    assert not rules.deadline(row, "report", due, None, due).overdue
    assert rules.deadline(row, "report", due, None, due + timedelta(seconds=1)).overdue
    assert rules.deadline(row, "report", due, due + timedelta(hours=1), due).overdue  # done late
    assert not rules.deadline(row, "report", due, due, due + timedelta(days=9)).overdue


def test_r_1_11_the_owning_unit_or_an_administrator_archives():
    rules.check_archivable(principal("official", unit_id=UNIT), consultation("closed"))
    rules.check_archivable(principal("admin"), consultation("closed"))
    with pytest.raises(Forbidden):
        rules.check_archivable(principal("official", unit_id=uuid.uuid4()), consultation("closed"))


def official_of(unit_name: str):
    p = principal("official", unit_id=UNIT)
    return p.model_copy(update={"roles": [r.model_copy(update={"unit_name": unit_name}) if r.role == "official" else r
                                          for r in p.roles]})


def test_r_3_3_an_officials_plan_entry_is_planned_anyone_elses_is_a_proposal():
    from contracts.consultations import PlanStatus
    assert rules.new_plan_entry(official_of("Управління освіти")) == ("Управління освіти", PlanStatus.planned)
    assert rules.new_plan_entry(principal()) == (None, PlanStatus.proposed)
    for nobody in (None, principal(consent=False)):
        with pytest.raises(Forbidden):
            rules.new_plan_entry(nobody)
    with pytest.raises(Forbidden):
        rules.require_plan_official(principal("moderator"))


def test_r_3_3_an_official_takes_a_proposal_into_their_units_plan_and_a_linked_one_is_held():
    from contracts.consultations import PlanEntryPatch
    proposed = SimpleNamespace(status="proposed")
    assert rules.plan_change(proposed, PlanEntryPatch(status="planned"), "Управління освіти") == {
        "status": "planned", "unit_name": "Управління освіти"}
    linked = uuid.uuid4()
    assert rules.plan_change(SimpleNamespace(status="planned"), PlanEntryPatch(consultation_id=linked), "У") == {
        "consultation_id": linked, "status": "held"}


def test_r_3_3_who_sees_proposals_in_the_plan():
    resident = principal()
    assert rules.plan_scope(None) == (False, None)
    assert rules.plan_scope(resident) == (False, resident.person_id)
    assert rules.plan_scope(principal("moderator")) == (True, None)
    assert rules.plan_scope(official_of("У")) == (True, None)
