"""The consultations service's units of work (services/consultations/handlers/) over the in-memory store."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from chassis.events import make_envelope
from contracts.consultations import (AttachmentMeta, CommentIn, CommentPublished, CommentSubmitted,
                                     CommentWasRejected, ConsultationArchived, ConsultationClosed, ConsultationIn,
                                     ConsultationPatch, ConsultationPublished, ConsultationSubmitted, DecisionIn,
                                     DecisionPublished, InitiativeDecision, InitiativeStatusChanged, NewVersionIn,
                                     Notice, ResponseIn)
from contracts.moderation import CommentApproved
from contracts.screening import fingerprint
from services.consultations.handlers import comments, decisions, drafting, outcomes, reading, surveys, timers
from services.consultations.rules import Rules
from services.consultations.service import ConsultationsService
from tests.consultations.fakes import FakeStore
from tests.support.fakes import FakeUnitOfWork, fixtures
from tests.support.principals import principal

TODAY = date(2026, 11, 30)
UNIT = uuid.uuid4()
OFFICIAL = principal("official", unit_id=UNIT)
MODERATOR = principal("moderator")
RULES = Rules(public_url="https://e.example.org")
NOTICE = {k: "заповнено" for k in Notice.model_fields}


store, uow = fixtures(FakeStore)


def body(**extra) -> ConsultationIn:
    values = dict(form="proposal", title="Ремонт мосту через Уж", question="Який міст ремонтувати першим?",
                  category=17, notice=NOTICE, alternatives=[{"text": "Пішохідний"}, {"text": "Автомобільний"}],
                  starts_on=TODAY, ends_on=TODAY + timedelta(days=20))
    return ConsultationIn.model_validate({**values, **extra})


def active(uow) -> uuid.UUID:
    c = drafting.create(uow, OFFICIAL, body(), TODAY, RULES)
    drafting.publish(uow, OFFICIAL, c.id, TODAY, RULES)
    return c.id


def test_r_2_1_an_official_drafts_for_their_unit_and_nobody_else_sees_the_draft(uow, store):
    out = drafting.create(uow, OFFICIAL, body(), TODAY, RULES)
    assert out.status == "draft" and out.unit_id == UNIT and out.missing_for_publication == []
    assert not store.events
    with pytest.raises(NotFound):
        reading.read(uow, principal(), out.id)
    with pytest.raises(Forbidden):  # a moderator sees drafts but does not edit them
        drafting.update_draft(uow, MODERATOR, out.id, ConsultationPatch(title="Інша назва мосту"), TODAY)


def test_r_3_10_an_initiative_goes_to_moderation_with_its_mark_and_clock(uow, store):
    resident = principal()
    out = drafting.create(uow, resident, body(), TODAY, RULES)
    assert out.status == "submitted" and out.moderation_mark
    event, = store.events
    assert isinstance(event, ConsultationSubmitted) and event.initiator_id == resident.person_id
    assert store.consultations[out.id].moderation_due is not None
    with pytest.raises(InvalidInput):
        drafting.create(uow, resident, body(form="draft_act", alternatives=[], draft_text="1. Пункт."), TODAY, RULES)
    with pytest.raises(Forbidden):
        drafting.create(uow, principal(eligible=False), body(), TODAY, RULES)
    assert len(store.consultations) == 1


def test_r_3_13_publication_is_refused_until_the_notice_is_complete(uow, store):
    out = drafting.create(uow, OFFICIAL, body(notice={}), TODAY, RULES)
    with pytest.raises(InvalidInput) as exc:
        drafting.publish(uow, OFFICIAL, out.id, TODAY, RULES)
    assert exc.value.code == "notice_incomplete"
    assert store.consultations[out.id].status == "draft"


def test_r_1_10_published_on_its_start_day_it_opens_at_once_and_interested_persons_are_told(uow, store):
    cid = active(uow)
    assert store.consultations[cid].status == "active"
    event, = store.events
    assert isinstance(event, ConsultationPublished) and event.url == f"https://e.example.org/consultations/{cid}"
    with pytest.raises(Conflict):
        drafting.publish(uow, OFFICIAL, cid, TODAY, RULES)


def test_r_1_10_r_3_17_timers_open_on_the_start_date_and_close_after_the_last_day(uow, store):
    later = drafting.create(uow, OFFICIAL, body(starts_on=TODAY + timedelta(days=2),
                                                ends_on=TODAY + timedelta(days=20)), TODAY, RULES)
    drafting.publish(uow, OFFICIAL, later.id, TODAY, RULES)
    assert timers.move_on_dates(uow, TODAY + timedelta(days=1), RULES) == (0, 0)
    assert timers.move_on_dates(uow, TODAY + timedelta(days=2), RULES) == (1, 0)
    assert timers.move_on_dates(uow, TODAY + timedelta(days=20), RULES) == (0, 0)
    assert timers.move_on_dates(uow, TODAY + timedelta(days=21), RULES) == (0, 1)
    row = store.consultations[later.id]
    assert row.status == "closed" and store.events_of(ConsultationClosed)[0].report_due == row.report_due
    assert [h.to_status for h in store.history if h.consultation_id == later.id] == \
        ["draft", "scheduled", "active", "closed"]


HELD = "Прошу відремонтувати міст, деталі на www.example.com"  # a link: the screening holds it


def test_r_3_7_a_held_comment_waits_for_moderation_and_only_its_author_sees_it_meanwhile(uow, store):
    cid = active(uow)
    author = principal(name="Автор Коментаря")
    c = comments.add_comment(uow, author, cid, CommentIn(body=HELD))
    submitted, = store.events_of(CommentSubmitted)
    assert c.status == "pending" and submitted.author_name == "Автор Коментаря"
    assert submitted.screening.outcome == "hold" and submitted.screening.matches[0]["rule"] == "link"
    assert store.events_of(CommentPublished) == []
    assert comments.list_comments(uow, author, cid, 1, 20, True, None).total == 1
    assert comments.list_comments(uow, None, cid, 1, 20, True, None).total == 0
    with pytest.raises(Conflict) as exc:
        comments.add_comment(uow, author, cid, CommentIn(body=HELD.upper()))
    assert exc.value.code == "duplicate_comment"
    with pytest.raises(InvalidInput) as exc:
        comments.add_comment(uow, author, cid, CommentIn(body="Інше", alternative_id=uuid.uuid4()))
    assert exc.value.errors[0]["field"] == "alternative_id"


def test_r_3_7_a_comment_keeps_its_fingerprint_and_one_written_before_they_were_kept_still_counts(uow, store):
    """The duplicate and copy checks compare the fingerprints the author's comments keep; a row written
    before they were kept (no fingerprint) is fingerprinted from its text when read."""
    cid, other = active(uow), active(uow)
    author = principal(name="Автор Коментаря")
    first = comments.add_comment(uow, author, cid, CommentIn(body="Прошу відремонтувати міст"))
    assert store.comments[first.id]["fingerprint"] == fingerprint("прошу  ВІДРЕМОНТУВАТИ міст!")
    store.comments[first.id]["fingerprint"] = None  # as a row written before
    with pytest.raises(Conflict) as exc:
        comments.add_comment(uow, author, cid, CommentIn(body="ПРОШУ ВІДРЕМОНТУВАТИ МІСТ"))
    assert exc.value.code == "duplicate_comment"
    copied = comments.add_comment(uow, author, other, CommentIn(body="Прошу відремонтувати міст"))
    assert copied.status == "pending"  # the same text on another consultation: a copy, held


def test_r_3_7_r_3_8_a_clean_comment_is_screened_and_published_in_the_transaction_that_writes_it(uow, store):
    """R-3.7: moderation's screening rules are applied where the comment is written; a clean comment is
    public at once (R-3.8: in the proposals the unit studies), the outcome travels with comment_submitted
    for moderation's audit, and comment_published follows in the same outbox."""
    cid = active(uow)
    author = principal()
    c = comments.add_comment(uow, author, cid, CommentIn(body="Прошу відремонтувати міст"))
    assert c.status == "published"
    assert comments.list_comments(uow, None, cid, 1, 20, True, None).total == 1
    submitted, published = store.events[-2:]
    assert isinstance(submitted, CommentSubmitted) and submitted.screening.outcome == "pass"
    assert submitted.screening.matches == [] and len(submitted.screening.text_hash) == 64
    assert published == CommentPublished(comment_id=c.id, consultation_id=cid, author_id=author.person_id)


def test_r_3_7_the_authors_text_copied_to_another_consultation_is_held_as_a_duplicate(uow, store):
    """R-3.7: the same text in another consultation is not refused (409 is for the same consultation)
    but held for a moderator, as moderation's screening always did."""
    first, second = active(uow), active(uow)
    author = principal()
    comments.add_comment(uow, author, first, CommentIn(body="Прошу відремонтувати міст"))
    copy = comments.add_comment(uow, author, second, CommentIn(body="прошу  відремонтувати МІСТ"))
    assert copy.status == "pending"
    assert store.events_of(CommentSubmitted)[-1].screening.matches[0]["rule"] == "duplicate"
    assert len(store.events_of(CommentPublished)) == 1


def test_owasp_api4_a_comment_over_the_write_limit_is_429_and_not_written_and_refused_ones_count(uow, store):
    """The gateway's write limits counted in the transaction that writes the comment: within the
    limit the comment is written and counted; over it, 429 ``rate_limited`` with Retry-After until
    the window ends and nothing is written (no row, no event); a comment refused for another reason
    (409 duplicate) counts too, and over the limit its answer is the 429."""
    from datetime import datetime, timezone

    from chassis.errors import TooManyRequests
    from contracts.common import Bucket

    cid, author = active(uow), principal()
    limits = [Bucket(key=f"write:person:{author.person_id}", limit=2, window=60),
              Bucket(key="write:addr:192.0.2.1", limit=100, window=60)]
    at = datetime(2026, 11, 30, 12, 0, 15, tzinfo=timezone.utc)
    first = comments.add_comment(uow, author, cid, CommentIn(body="Перша пропозиція"), limits, at)
    with pytest.raises(Conflict):  # the same text again: refused, and counted
        comments.add_comment(uow, author, cid, CommentIn(body="Перша пропозиція"), limits, at)
    events = len(store.events)
    with pytest.raises(TooManyRequests) as exc:
        comments.add_comment(uow, author, cid, CommentIn(body="Третя пропозиція"), limits, at)
    assert exc.value.status == 429 and exc.value.code == "rate_limited" and exc.value.retry_after == 46
    assert "спробуйте через 46 с" in exc.value.detail
    assert [c["body"] for c in store.comments.values()] == ["Перша пропозиція"] and len(store.events) == events
    with pytest.raises(TooManyRequests):  # over the limit, a refusal of its own answers 429 too
        comments.add_comment(uow, author, cid, CommentIn(body="Перша пропозиція"), limits, at)
    later = comments.add_comment(uow, author, cid, CommentIn(body="Третя пропозиція"), limits,
                                 datetime(2026, 11, 30, 12, 1, 1, tzinfo=timezone.utc))  # the next window
    assert first.status == later.status == "published"
    # counted: the first, the duplicate and the refusal over the limit; the 429 comment rolled back
    assert store.hits[limits[1].key, datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)] == 3


def test_comments_only_while_active(uow, store):
    draft = drafting.create(uow, OFFICIAL, body(), TODAY, RULES)
    with pytest.raises(NotFound):  # a draft is not even visible to a resident
        comments.add_comment(uow, principal(), draft.id, CommentIn(body="Текст"))
    closed = active(uow)
    timers.move_on_dates(uow, TODAY + timedelta(days=21), RULES)
    with pytest.raises(Conflict):
        comments.add_comment(uow, principal(), closed, CommentIn(body="Запізно"))


def test_r_3_7_r_3_9_moderation_outcomes_apply_once_and_a_late_approval_never_republishes(uow, store):
    cid = active(uow)
    author = principal()
    c = comments.add_comment(uow, author, cid, CommentIn(body=HELD))
    with uow.transaction() as s:
        assert outcomes.comment_rejected(s, c.id, ["obscene"], "Лайка")
        assert not outcomes.comment_approved(s, c.id)
        assert not outcomes.comment_rejected(s, c.id, ["obscene"], None)
    assert [type(e) for e in store.events[-1:]] == [CommentWasRejected]
    mine, = comments.my_comments(uow, author)
    assert mine.status == "rejected" and mine.rejection_grounds == ["obscene"]
    other = comments.add_comment(uow, author, cid, CommentIn(body="Зовсім інший коментар, див. www.example.org"))
    with uow.transaction() as s:
        assert outcomes.comment_approved(s, other.id)
    assert store.events_of(CommentPublished)[0].comment_id == other.id
    assert comments.list_comments(uow, None, cid, 1, 20, True, None).total == 1


def test_a_redelivered_moderation_event_is_applied_once_through_the_service(store):
    class Service(ConsultationsService):
        uow = None

    service = Service.__new__(Service)
    service.uow = FakeUnitOfWork(store)
    cid = active(service.uow)
    c = comments.add_comment(service.uow, principal(), cid, CommentIn(body=HELD))
    payload = make_envelope(CommentApproved(comment_id=c.id, consultation_id=cid)).model_dump(mode="json")
    service.on_comment_approved(payload)
    service.on_comment_approved(payload)
    assert len(store.events_of(CommentPublished)) == 1
    assert {k for k, _ in store.claims} == {"consultations.on_comment_approved"}


def test_r_3_10_an_approved_initiative_goes_to_the_unit_which_accepts_it_as_its_draft(uow, store):
    initiator = principal()
    init = drafting.create(uow, initiator, body(), TODAY, RULES)
    with uow.transaction() as s:
        assert outcomes.initiative_approved(s, init.id, UNIT, "Відділ мостів", MODERATOR.person_id)
        assert not outcomes.initiative_approved(s, init.id, UNIT, "Відділ мостів", MODERATOR.person_id)
    assert store.events_of(InitiativeStatusChanged)[-1].status == "forwarded"
    with pytest.raises(Forbidden):  # the initiator sees it but the unit decides
        outcomes.decide_initiative(uow, initiator, init.id, InitiativeDecision(accept=True, conclusion="Приймаємо"))
    out = outcomes.decide_initiative(uow, OFFICIAL, init.id, InitiativeDecision(accept=True, conclusion="Приймаємо"))
    assert out.status == "draft" and out.initiator_name is not None
    mine, = comments.my_initiatives(uow, initiator)
    assert mine.outcome == {"accepted": True, "conclusion": "Приймаємо"}
    with pytest.raises(Conflict):
        outcomes.decide_initiative(uow, OFFICIAL, init.id, InitiativeDecision(accept=False, conclusion="Ні, дякуємо"))


def test_r_1_9_r_3_12_one_answer_and_one_supported_alternative_per_person_replaced_on_resending(uow, store):
    c = drafting.create(uow, OFFICIAL, body(questions=[{"text": "Коли?", "kind": "single", "options": ["Влітку", "Взимку"]}]),
                        TODAY, RULES)
    drafting.publish(uow, OFFICIAL, c.id, TODAY, RULES)
    q = reading.read(uow, None, c.id).questions[0]
    alt = reading.read(uow, None, c.id).alternatives
    person = principal()
    surveys.respond(uow, person, c.id, ResponseIn(answers=[{"question_id": q.id, "option_ids": [q.options[0].id]}],
                                                  alternative_id=alt[0].id))
    out = surveys.respond(uow, person, c.id, ResponseIn(answers=[{"question_id": q.id, "option_ids": [q.options[1].id]}],
                                                        alternative_id=alt[1].id))
    assert out.participants == 1 and [a.supporters for a in out.alternatives] == [0, 1]
    assert [o.count for o in out.questions[0].options] == [0, 1]
    with pytest.raises(InvalidInput) as exc:
        surveys.respond(uow, person, c.id, ResponseIn(answers=[{"question_id": q.id, "option_ids": []}]))
    assert exc.value.code == "invalid_response"
    with pytest.raises(InvalidInput):
        surveys.respond(uow, person, c.id, ResponseIn())
    assert surveys.results(uow, None, c.id).participants == 1  # the refused answers changed nothing


def test_r_3_18_the_decision_is_recorded_once_after_closing_and_its_deadline_kept(uow, store):
    cid = active(uow)
    decision = DecisionIn(number="№ 415", adopted_on=TODAY + timedelta(days=22), title="Про ремонт мосту",
                          text="Вирішили відремонтувати міст.")
    with pytest.raises(Conflict):
        decisions.record_decision(uow, OFFICIAL, cid, decision, TODAY + timedelta(days=22), RULES)
    timers.move_on_dates(uow, TODAY + timedelta(days=21), RULES)
    out = decisions.record_decision(uow, OFFICIAL, cid, decision, TODAY + timedelta(days=22), RULES)
    assert out.decision.on_time and out.timeline[-1].status == "decision"
    assert store.events_of(DecisionPublished)[0].url == f"https://e.example.org/consultations/{cid}"
    with pytest.raises(Conflict):
        decisions.record_decision(uow, OFFICIAL, cid, decision, TODAY + timedelta(days=22), RULES)
    kinds = {d.kind for d in decisions.deadlines(uow, OFFICIAL, store.consultations[cid].report_due).items}
    assert kinds == {"report", "decision"}
    assert decisions.deadlines(uow, principal("official", unit_id=uuid.uuid4()), TODAY).items == []


def test_r_1_11_an_archived_consultation_is_read_only(uow, store):
    cid = active(uow)
    with pytest.raises(Conflict):
        decisions.archive(uow, OFFICIAL, cid)
    timers.move_on_dates(uow, TODAY + timedelta(days=21), RULES)
    assert decisions.archive(uow, OFFICIAL, cid).status == "archived"
    assert store.events_of(ConsultationArchived)[0].decision_adopted_on is None
    with pytest.raises(Conflict) as exc:
        decisions.add_attachment(uow, OFFICIAL, cid, AttachmentMeta(title="Матеріали", filename="m.pdf",
                                                                     content_type="application/pdf", size=10,
                                                                     sha256="0" * 64))
    assert exc.value.code == "archived"


def test_a_draft_act_keeps_its_versions_and_paragraph_ids(uow, store):
    act = drafting.create(uow, OFFICIAL, body(form="draft_act", alternatives=[],
                                              draft_text="1. Загальні положення.\n\n2. Утримання."), TODAY, RULES)
    drafting.publish(uow, OFFICIAL, act.id, TODAY, RULES)
    first = reading.read(uow, None, act.id)
    out = drafting.new_version(uow, OFFICIAL, act.id, NewVersionIn(draft_text="1. Загальні положення.\n\n2. Нове."))
    assert out.draft_version == 2 and out.paragraphs[0].id == first.paragraphs[0].id
    diff = drafting.version_diff(uow, None, act.id, 1, 2)
    assert [p.change for p in diff.paragraphs] != []
    with pytest.raises(NotFound):
        drafting.version_diff(uow, None, act.id, 1, 3)


def test_r_3_3_a_proposal_is_seen_by_its_proposer_and_officials_until_an_official_plans_it(uow, store):
    from contracts.consultations import PlanEntryIn, PlanEntryPatch
    from services.consultations.handlers import plan
    official = OFFICIAL.model_copy(update={"roles": [
        r.model_copy(update={"unit_name": "Управління транспорту"}) if r.role == "official" else r
        for r in OFFICIAL.roles]})
    resident, stranger = principal(), principal()
    proposal = plan.add(uow, resident, 2027, PlanEntryIn(title="Освітлення вулиць", category=15))
    assert proposal.status == "proposed" and proposal.unit_name is None
    assert [e.id for e in plan.for_year(uow, resident, 2027).items] == [proposal.id]
    assert [e.id for e in plan.for_year(uow, official, 2027).items] == [proposal.id]
    assert plan.for_year(uow, stranger, 2027).items == [] and plan.for_year(uow, None, 2027).items == []
    with pytest.raises(Forbidden):
        plan.change(uow, resident, proposal.id, PlanEntryPatch(status="planned"))
    with pytest.raises(InvalidInput):  # a consultation the official cannot see is unknown
        plan.change(uow, official, proposal.id, PlanEntryPatch(consultation_id=uuid.uuid4()))
    planned = plan.change(uow, official, proposal.id, PlanEntryPatch(status="planned"))
    assert planned.status == "planned" and planned.unit_name == "Управління транспорту"
    assert [e.id for e in plan.for_year(uow, None, 2027).items] == [proposal.id]
    with pytest.raises(NotFound):
        plan.change(uow, official, uuid.uuid4(), PlanEntryPatch(status="held"))



# ---- institutions as commenters (R-2.2, R-3.5) ----------------------------------------------------

def test_r_2_2_a_confirmed_head_comments_for_the_institution_signed_with_its_name(uow, store):
    """Clause R-2.2."""
    from services.consultations.handlers.report_feed import respondent_breakdown
    from tests.support.principals import head_of
    cid, org = active(uow), uuid.uuid4()
    head = head_of(org, "ГО «Зелене місто»", "ngo", name="Іваненко Марія")
    c = comments.add_comment(uow, head, cid, CommentIn(body="Пропонуємо велодоріжку", on_behalf_of=org))
    assert c.signed_as == "ГО «Зелене місто» (від імені: Іваненко Марія)"
    assert (c.organisation_id, c.organisation_kind) == (org, "ngo")
    event = store.events_of(CommentSubmitted)[-1]
    assert (event.organisation_id, event.organisation_name, event.author_name) == (org, "ГО «Зелене місто»",
                                                                                   "Іваненко Марія")
    listed = comments.list_comments(uow, None, cid, 1, 20, True, None).items[0]
    assert listed.signed_as == c.signed_as
    own = comments.add_comment(uow, head, cid, CommentIn(body="А від себе: лавки"))
    assert own.signed_as == "Іваненко Марія" and own.organisation_id is None
    assert respondent_breakdown(uow, cid).by_type == {"ngo": 1, "private": 1}


def test_r_2_2_only_a_confirmed_head_of_that_institution_acts_for_it(uow, store):
    """Clause R-2.2."""
    from tests.support.principals import head_of
    cid = active(uow)
    stranger = head_of(uuid.uuid4(), "ОСББ «Світанок»", "condominium")
    for who in (principal(), stranger):
        with pytest.raises(Forbidden) as refused:
            comments.add_comment(uow, who, cid, CommentIn(body="Від імені чужої установи", on_behalf_of=uuid.uuid4()))
        assert refused.value.code == "not_institution_head" and refused.value.errors[0]["field"] == "on_behalf_of"
        with pytest.raises(Forbidden):
            surveys.respond(uow, who, cid, ResponseIn(alternative_id=None, on_behalf_of=uuid.uuid4(),
                                                      answers=[]))
    assert store.comments == {} and store.supports == {}


def test_r_2_2_r_3_12_a_head_answers_for_the_institution_and_respondents_are_counted_by_type(uow, store):
    """Clauses R-2.2, R-3.12."""
    from services.consultations.handlers.report_feed import respondent_breakdown
    from tests.support.principals import head_of
    cid = active(uow)
    alt = store.alts[0].id
    org = uuid.uuid4()
    heads = [head_of(org, "Профспілка медиків", "trade_union", name=f"Голова {i}") for i in range(2)]
    for h in heads:  # two heads of one institution: one respondent
        surveys.respond(uow, h, cid, ResponseIn(alternative_id=alt, on_behalf_of=org))
    for _ in range(3):
        surveys.respond(uow, principal(), cid, ResponseIn(alternative_id=alt))
    got = respondent_breakdown(uow, cid)
    assert got.by_type == {"trade_union": 1, "private": 3} and got.by_channel == {"web": 4}
    surveys.respond(uow, heads[0], cid, ResponseIn(alternative_id=alt))  # now in their own name
    assert respondent_breakdown(uow, cid).by_type == {"trade_union": 1, "private": 4}
