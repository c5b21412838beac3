"""Moderation's pure rules (services/moderation/rules.py): no database, no broker."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from chassis.errors import Forbidden, InvalidInput
from chassis.workdays import local_tz
from contracts.moderation import (CaseDecision, CommentApproved, CommentRejected, InitiativeApproved,
                                  InitiativeRejected)
from services.moderation import rules
from tests.support.principals import principal

KYIV = local_tz()  # the tz setting: Europe/Kyiv


def test_r_3_10_a_case_is_due_at_the_end_of_the_second_working_day():
    friday_noon = datetime(2026, 11, 27, 12, tzinfo=KYIV)
    assert rules.due_at(friday_noon, True) == datetime(2026, 12, 2, 0, tzinfo=KYIV)  # Mon, Tue count


def test_r_3_10_holidays_count_as_working_days_when_the_setting_is_off():
    before_christmas = datetime(2020, 12, 24, 10, tzinfo=KYIV)  # Thu; 25 Dec a public holiday (before martial law)
    assert rules.due_at(before_christmas, True) == datetime(2020, 12, 30, 0, tzinfo=KYIV)  # Mon 28, Tue 29
    assert rules.due_at(before_christmas, False) == datetime(2020, 12, 29, 0, tzinfo=KYIV)  # Fri 25, Mon 28


@pytest.mark.parametrize("roles", [(), ("official",), ("admin",)])
def test_r_2_1_only_moderators_moderate(roles):
    with pytest.raises(Forbidden):
        rules.require_moderator(principal(*roles))
    with pytest.raises(Forbidden):
        rules.require_moderator(None)
    assert rules.require_moderator(principal("moderator")).has("moderator")


def test_r_1_1_a_rejection_names_a_known_ground():
    with pytest.raises(InvalidInput) as exc:
        rules.check_grounds(CaseDecision(decision="reject"))
    assert exc.value.code == "ground_required"
    with pytest.raises(InvalidInput) as exc:
        rules.check_grounds(CaseDecision(decision="approve", grounds=["made_up"]))
    assert exc.value.code == "unknown_ground" and exc.value.errors[0]["field"] == "grounds"
    rules.check_grounds(CaseDecision(decision="reject", grounds=["obscene"]))
    rules.check_grounds(CaseDecision(decision="approve"))


def test_r_3_10_an_approved_initiative_names_its_unit():
    with pytest.raises(InvalidInput) as exc:
        rules.check_unit("initiative", CaseDecision(decision="approve"), None)
    assert exc.value.errors[0]["field"] == "unit_id"
    with pytest.raises(InvalidInput):
        rules.check_unit("initiative", CaseDecision(decision="approve", unit_id=uuid.uuid4()), None)
    rules.check_unit("initiative", CaseDecision(decision="approve", unit_id=uuid.uuid4()), "Управління")
    rules.check_unit("initiative", CaseDecision(decision="reject", grounds=["off_topic"]), None)
    rules.check_unit("comment", CaseDecision(decision="approve"), None)


def test_r_3_7_a_decision_publishes_the_event_of_its_kind():
    subject, cid, moderator, unit = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    approve = CaseDecision(decision="approve", unit_id=unit)
    reject = CaseDecision(decision="reject", grounds=["off_topic"], note="н")
    assert rules.decision_event("comment", subject, cid, approve, moderator, None) == \
        CommentApproved(comment_id=subject, consultation_id=cid, moderator_id=moderator)
    assert rules.decision_event("comment", subject, cid, reject, moderator, None) == \
        CommentRejected(comment_id=subject, consultation_id=cid, grounds=["off_topic"], note="н", moderator_id=moderator)
    assert rules.decision_event("initiative", subject, subject, approve, moderator, "Відділ") == \
        InitiativeApproved(consultation_id=subject, unit_id=unit, unit_name="Відділ", moderator_id=moderator)
    assert rules.decision_event("initiative", subject, subject, reject, moderator, None) == \
        InitiativeRejected(consultation_id=subject, grounds=["off_topic"], note="н", moderator_id=moderator)


def test_r_3_7_reports_open_append_or_reopen_but_never_revive_a_rejection():
    case = lambda status, decision: SimpleNamespace(status=status, decision=decision)  # noqa: E731
    assert rules.after_report(None) == "open"
    assert rules.after_report(case("open", None)) == "append"
    assert rules.after_report(case("decided", "approved")) == "reopen"
    assert rules.after_report(case("decided", "rejected")) == "keep"
    assert rules.report_match("x" * 300) == [{"rule": "report", "text": "x" * 200}]


def test_r_3_10_an_open_case_past_its_due_time_is_overdue():
    due = datetime(2026, 11, 27, tzinfo=timezone.utc)
    row = SimpleNamespace(id=uuid.uuid4(), kind="comment", subject_id=uuid.uuid4(), consultation_id=None,
                          author_name=None, text="т", matches=[], source="screening", reports=0, priority=0,
                          submitted_at=due - timedelta(days=2), due_at=due, status="open", decision=None,
                          grounds=None, channel="web")
    assert not rules.case_out(row, due).overdue
    assert rules.case_out(row, due + timedelta(seconds=1)).overdue
    row.status = "decided"
    assert not rules.case_out(row, due + timedelta(days=1)).overdue


def test_queue_cursor_round_trips_and_a_bad_one_names_the_field():
    row = SimpleNamespace(priority=3, submitted_at=datetime(2026, 11, 27, 10, tzinfo=timezone.utc), id=uuid.uuid4())
    assert rules.parse_queue_cursor(rules.queue_cursor(row)) == (3, row.submitted_at, row.id)
    for bad in ("nonsense", "", rules.queue_cursor(row)[:-3]):
        with pytest.raises(InvalidInput) as exc:
            rules.parse_queue_cursor(bad)
        assert exc.value.errors[0]["field"] == "after"


def test_statistics_count_each_cited_ground():
    assert rules.count_grounds([["obscene", "off_topic"], ["obscene"], None, []]) == {"obscene": 2, "off_topic": 1}
