"""Offline and assisted participation: a submission received on paper, by e-mail, at a hearing or at an
administrative service centre, registered by an official of the owning unit into the same comments as
the web's (R-3.5, R-3.7, R-3.14, R-3.16); the rules directly and the unit of work over the in-memory store."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from contracts.consultations import (AttachmentMeta, Channel, CommentPublished, CommentSubmitted, CommentWasRejected,
                                     OfflineCommentIn)
from chassis.events import every_version
from services.consultations import rules
from services.consultations.handlers import comments, decisions, drafting, outcomes, reading, timers
from tests.consultations.fakes import FakeStore
from tests.consultations.test_handlers import OFFICIAL, MODERATOR, RULES, TODAY, UNIT, active, body
from tests.support.fakes import fixtures
from tests.support.principals import principal

store, uow = fixtures(FakeStore)

LETTER = dict(channel="paper", received_on=TODAY, author_name="Іваненко  Марія Петрівна",
              body="Прошу спершу відремонтувати пішохідний міст")


def offline(**extra) -> OfflineCommentIn:
    return OfflineCommentIn.model_validate({**LETTER, **extra})


# ---- the rules -------------------------------------------------------------------------------------

def test_r_3_5_received_on_is_not_in_the_future_not_before_the_start_and_not_after_the_last_day():
    start, end = date(2026, 11, 10), date(2026, 11, 30)
    ok = rules.received_on_errors(Channel.paper, date(2026, 11, 20), start, end, date(2026, 11, 25))
    assert ok == []
    assert rules.received_on_errors(Channel.paper, start, start, end, start) == []  # the first day counts
    future = rules.received_on_errors(Channel.email, date(2026, 11, 26), start, end, date(2026, 11, 25))
    assert [(e["field"], e["type"]) for e in future] == [("received_on", "received_in_future")]
    early = rules.received_on_errors(Channel.hearing, date(2026, 11, 9), start, end, date(2026, 11, 25))
    assert [e["type"] for e in early] == ["received_before_start"]
    # after closing, until the report: a letter received on the last day still counts, the next day's not
    late = rules.received_on_errors(Channel.service_centre, date(2026, 12, 1), start, end, date(2026, 12, 3))
    assert [e["type"] for e in late] == ["received_after_end"]
    assert rules.received_on_errors(Channel.paper, end, start, end, date(2026, 12, 3)) == []
    web = rules.received_on_errors(Channel.web, date(2026, 11, 20), start, end, date(2026, 11, 25))
    assert [(e["field"], e["type"]) for e in web] == [("channel", "channel_web")]


def test_r_3_16_offline_registration_runs_while_active_and_after_closing_until_the_report():
    assert rules.offline_status_problem("active", False) is None
    assert rules.offline_status_problem("closed", False) is None
    assert "Звіт" in rules.offline_status_problem("closed", True)
    for status in ("draft", "scheduled", "archived", "submitted"):
        assert rules.offline_status_problem(status, False) is not None


def test_r_3_5_the_name_as_written_is_published_with_its_spaces_made_one():
    assert rules.name_as_published("  Іваненко   Марія\tПетрівна ") == "Іваненко Марія Петрівна"


# ---- registering, screening, moderation ------------------------------------------------------------

def test_r_3_5_r_3_7_an_official_of_the_owning_unit_registers_a_letter_which_is_screened_and_published(uow, store):
    cid = active(uow)
    c = comments.add_offline_comment(uow, OFFICIAL, cid, offline(), TODAY)
    assert c.status == "published" and c.channel == Channel.paper and c.received_on == TODAY
    assert c.author_name == "Іваненко Марія Петрівна"
    row = store.comments[c.id]
    assert row["author_id"] is None and row["entered_by"] == OFFICIAL.person_id
    assert row["author_name_as_written"] == "Іваненко  Марія Петрівна"
    submitted, published = store.events[-2:]
    assert isinstance(submitted, CommentSubmitted) and submitted.channel == Channel.paper
    assert submitted.author_id is None and submitted.entered_by == OFFICIAL.person_id
    assert submitted.screening.outcome == "pass" and published == CommentPublished(
        comment_id=c.id, consultation_id=cid, author_id=None)
    # version 1 of the comment events requires an account: an offline one goes out in version 2 only
    assert every_version(submitted) == [submitted] and every_version(published) == [published]
    public = comments.list_comments(uow, None, cid, 1, 20, True, None).items
    assert [(p.id, p.channel) for p in public] == [(c.id, Channel.paper)]


def test_r_3_7_a_held_offline_submission_waits_for_a_moderator_and_its_registrar_sees_it_meanwhile(uow, store):
    cid = active(uow)
    c = comments.add_offline_comment(uow, OFFICIAL, cid, offline(body="Деталі на https://example.org/x"), TODAY)
    assert c.status == "pending" and store.events_of(CommentPublished) == []
    assert comments.list_comments(uow, None, cid, 1, 20, True, None).total == 0
    assert comments.list_comments(uow, OFFICIAL, cid, 1, 20, True, None).total == 1
    assert outcomes.comment_rejected(store, c.id, ["not_on_topic"], None)
    rejected = store.events_of(CommentWasRejected)[-1]
    assert rejected.author_id is None and every_version(rejected) == [rejected]
    mine = comments.list_comments(uow, OFFICIAL, cid, 1, 20, True, None).items[0]
    assert mine.status == "rejected" and mine.rejection_grounds == ["not_on_topic"]


def test_r_3_5_the_same_letter_registered_twice_is_refused(uow, store):
    cid = active(uow)
    comments.add_offline_comment(uow, OFFICIAL, cid, offline(), TODAY)
    with pytest.raises(Conflict) as exc:
        comments.add_offline_comment(uow, OFFICIAL, cid, offline(author_name="іваненко марія петрівна",
                                                                 body=LETTER["body"].upper()), TODAY)
    assert exc.value.code == "duplicate_comment" and exc.value.errors[0]["field"] == "body"
    # another writer may send the same words: a campaign of letters is still each person's proposal
    other = comments.add_offline_comment(uow, OFFICIAL, cid, offline(author_name="Петренко Олег"), TODAY)
    assert other.status == "published"


def test_r_2_1_only_officials_of_the_owning_unit_register_and_a_hidden_consultation_answers_404(uow, store):
    cid = active(uow)
    for outsider in (principal(), principal("official", unit_id=uuid.uuid4()), MODERATOR):
        with pytest.raises(Forbidden):
            comments.add_offline_comment(uow, outsider, cid, offline(), TODAY)
    draft = drafting.create(uow, OFFICIAL, body(), TODAY, RULES)
    with pytest.raises(NotFound):
        comments.add_offline_comment(uow, principal("official", unit_id=uuid.uuid4()), draft.id, offline(), TODAY)
    with pytest.raises(NotFound):
        comments.add_offline_comment(uow, None, draft.id, offline(), TODAY)
    with pytest.raises(Conflict) as exc:  # its own unit's draft: not running yet
        comments.add_offline_comment(uow, OFFICIAL, draft.id, offline(), TODAY)
    assert exc.value.code == "consultation_not_active"
    assert store.events_of(CommentSubmitted) == []


def test_r_3_5_dates_and_targets_of_an_offline_submission_are_checked_and_nothing_is_written(uow, store):
    cid = active(uow)
    with pytest.raises(InvalidInput) as exc:
        comments.add_offline_comment(uow, OFFICIAL, cid, offline(received_on=TODAY + timedelta(days=1)), TODAY)
    assert exc.value.errors[0]["field"] == "received_on"
    with pytest.raises(InvalidInput) as exc:
        comments.add_offline_comment(uow, OFFICIAL, cid, offline(received_on=TODAY - timedelta(days=1)), TODAY)
    assert exc.value.code == "received_before_start"
    with pytest.raises(InvalidInput) as exc:
        comments.add_offline_comment(uow, OFFICIAL, cid, offline(channel="web"), TODAY)
    assert exc.value.errors[0]["field"] == "channel"
    with pytest.raises(InvalidInput) as exc:
        comments.add_offline_comment(uow, OFFICIAL, cid, offline(alternative_id=uuid.uuid4()), TODAY)
    assert exc.value.errors[0]["field"] == "alternative_id"
    with pytest.raises(InvalidInput) as exc:
        comments.add_offline_comment(uow, OFFICIAL, cid, offline(scan_id=uuid.uuid4()), TODAY)
    assert exc.value.errors[0]["field"] == "scan_id"
    assert store.comments == {} and store.events_of(CommentSubmitted) == []


def test_r_3_16_a_letter_received_on_the_last_day_is_registered_after_closing(uow, store):
    cid = active(uow)
    end = store.consultation(cid).ends_on
    timers.move_on_dates(uow, end + timedelta(days=1), RULES)
    c = comments.add_offline_comment(uow, OFFICIAL, cid, offline(received_on=end), end + timedelta(days=2))
    assert c.status == "published"


def test_r_2_4_a_scan_is_seen_by_the_owning_unit_and_moderators_only(uow, store):
    cid = active(uow)
    meta = AttachmentMeta(kind="scan", title="Лист", filename="lyst.pdf", content_type="application/pdf", size=10,
                          sha256="a" * 64)
    scan = decisions.add_attachment(uow, OFFICIAL, cid, meta)
    c = comments.add_offline_comment(uow, OFFICIAL, cid, offline(scan_id=scan.id), TODAY)
    assert c.scan_id == scan.id
    assert reading.read(uow, None, cid).attachments == []  # not among the public materials
    assert reading.get_attachment(uow, MODERATOR, cid, scan.id).id == scan.id
    assert reading.get_attachment(uow, OFFICIAL, cid, scan.id).id == scan.id
    for reader in (None, principal()):
        with pytest.raises(NotFound):
            reading.get_attachment(uow, reader, cid, scan.id)
        assert comments.list_comments(uow, reader, cid, 1, 20, True, None).items[0].scan_id is None
    assert comments.list_comments(uow, OFFICIAL, cid, 1, 20, True, None).items[0].scan_id == scan.id
