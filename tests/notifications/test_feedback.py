""""You said, we did" (R-3.16, R-3.18): what a later report version tells a contributor (only what
changed since they were last told), what the message says, and how its e-mail goes through the same
senders as every other (own Message-ID, unsubscribe link, skipped without a contact)."""
from __future__ import annotations

import uuid
from datetime import date
from email import message_from_bytes, policy
from types import SimpleNamespace

from contracts.registry import MailContact
from contracts.reports import Contribution, DecisionRef, Outcome
from services.notifications import handlers, rules
from services.reports import rules as report_rules
from tests.notifications.fakes import FakeDeliveries, FakeSmtp, settings

CID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def comment(n: int, outcome: Outcome, justification: str | None = None) -> Contribution:
    return Contribution(comment_id=uuid.UUID(int=n), number=n, target="загалом", excerpt=f"Пропозиція {n}",
                        outcome=outcome, justification=justification)


def told_of(comments: list[Contribution]) -> dict:
    return {c.comment_id: rules.told_key(c.outcome.value, c.justification) for c in comments}


def message(items, first=True, version=1, decision=None) -> SimpleNamespace:
    return SimpleNamespace(title="Тарифи на проїзд", report_version=version, first=first, items=items,
                           report_url=rules.report_link("https://consult.example", CID),
                           decision_title=rules.decision_caption(decision),
                           decision_url=rules.decision_link("https://consult.example", CID) if decision else None)


def test_R_3_16_the_first_version_tells_every_comment():
    """Clause R-3.16."""
    mine = [comment(1, Outcome.accepted), comment(2, Outcome.not_accepted, "Суперечить закону")]
    assert rules.feedback_changes({}, mine) == mine
    assert rules.feedback_due(mine, None, None)


def test_R_3_16_a_later_version_tells_only_the_comments_whose_consideration_or_justification_changed():
    """Clause R-3.16."""
    before = [comment(1, Outcome.accepted), comment(2, Outcome.not_accepted, "Суперечить закону"),
              comment(3, Outcome.partly_accepted, "Частково")]
    now = [comment(1, Outcome.accepted), comment(2, Outcome.not_accepted, "Суперечить закону № 5"),
           comment(3, Outcome.accepted)]
    assert [c.number for c in rules.feedback_changes(told_of(before), now)] == [2, 3]
    assert rules.feedback_changes(told_of(before), before) == []


def test_R_3_16_whitespace_round_a_justification_is_no_change():
    """Clause R-3.16."""
    before = [comment(1, Outcome.not_accepted, "Суперечить закону")]
    assert rules.feedback_changes(told_of(before), [comment(1, Outcome.not_accepted, "  Суперечить закону\n")]) == []
    assert rules.feedback_changes(told_of([comment(2, Outcome.accepted, "")]), [comment(2, Outcome.accepted)]) == []


def test_R_3_18_a_version_that_only_records_the_decision_sends_the_decision_link_once():
    """Clause R-3.18."""
    link = rules.decision_link("https://consult.example", CID)
    assert rules.feedback_due([], link, None), "the decision is new to the person"
    assert not rules.feedback_due([], link, link), "told already"
    assert not rules.feedback_due([], None, None), "nothing changed: no message"


def test_R_3_16_the_message_lists_each_comment_with_its_label_justification_and_the_links():
    """Clause R-3.16."""
    decision = DecisionRef(number="№ 415", adopted_on=date(2026, 12, 10), title="Про тарифи")
    items = [rules.feedback_item(comment(4, Outcome.not_accepted, " Бюджет не дозволяє ")),
             rules.feedback_item(comment(7, Outcome.partly_accepted, "Лише для пільговиків")),
             rules.feedback_item(comment(9, Outcome.accepted))]
    text = "\n".join(rules.feedback_lines(message(items, decision=decision)))
    assert "№ 4 (загалом): «Пропозиція 4» — не враховано. Обґрунтування: Бюджет не дозволяє" in text
    assert "№ 7 (загалом): «Пропозиція 7» — враховано частково. Обґрунтування: Лише для пільговиків" in text
    assert "№ 9 (загалом): «Пропозиція 9» — враховано" in text and "Пропозиція 9» — враховано." not in text
    assert f"Звіт: https://consult.example/consultations/{CID}#report" in text
    assert f"Ухвалено рішення № 415 від 10.12.2026: Про тарифи: https://consult.example/consultations/{CID}#decision" in text
    assert "ваші пропозиції (3)" in text


def test_R_3_18_a_later_message_says_what_changed_or_only_that_the_decision_is_recorded():
    """Clause R-3.18."""
    decision = DecisionRef(number="№ 415", adopted_on=date(2026, 12, 10), title="Про тарифи")
    only_decision = rules.feedback_lines(message([], first=False, version=2, decision=decision))
    assert only_decision[0] == "Оприлюднено нову версію звіту консультації «Тарифи на проїзд» (версія 2)."
    assert any(line.startswith("Ухвалено рішення № 415") for line in only_decision)
    changed = rules.feedback_lines(message([rules.feedback_item(comment(1, Outcome.accepted))], first=False, version=3))
    assert "Змінився розгляд ваших пропозицій (1)" in changed[0]
    assert rules.feedback_subject("Т", True) != rules.feedback_subject("Т", False)


def test_R_3_16_the_comment_excerpt_is_cut_at_a_word():
    """Clause R-3.16."""
    assert report_rules.excerpt("  коротко \n і ясно ") == "коротко і ясно"
    long = "слово " * 100
    cut = report_rules.excerpt(long, 50)
    assert cut.endswith("…") and len(cut) <= 51 and not cut[:-1].endswith(" ")
    assert report_rules.excerpt("х" * 400, 300) == "х" * 300 + "…"


def test_R_3_16_contributions_are_grouped_by_author_in_order():
    """Clause R-3.16."""
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    rows = [SimpleNamespace(author_id=a, n=1), SimpleNamespace(author_id=a, n=2), SimpleNamespace(author_id=b, n=3)]
    assert [(who, [r.n for r in rs]) for who, rs in report_rules.group_by_author(rows)] == [(a, [1, 2]), (b, [3])]


def feedback_world(people: int):
    store, contacts = FakeDeliveries(), {}
    for i in range(people):
        person = uuid.uuid4()
        fid = 100 + i
        store.feedback_rows[fid] = message([rules.feedback_item(comment(i + 1, Outcome.not_accepted, f"Причина {i}"))])
        store.add(person, None, kind=rules.FEEDBACK, feedback_id=fid)
        contacts[str(person)] = {"full_name": f"Автор {i}", "email": f"a{i}@example.org"}
    return store, contacts


def run_sender(store, contacts, smtp):
    def mail_contacts(ids):
        return {str(i): MailContact(**contacts[str(i)]) for i in ids if str(i) in contacts}

    return handlers.Sender(store, mail_contacts, smtp, settings(), {}, handlers.unsubscribe_serializer("secret")).drain()


def test_R_3_16_each_contributor_gets_their_own_email_with_its_own_message_id_and_unsubscribe_link():
    """Clause R-3.16."""
    store, contacts = feedback_world(3)
    smtp = FakeSmtp()
    assert run_sender(store, contacts, smtp) == 3
    assert store.statuses() == {"sent": 3}
    bodies = {}
    for to, raw in smtp.accepted:
        msg = message_from_bytes(raw, policy=policy.default)
        bodies[to] = msg.get_body(("plain",)).get_content()
        assert msg["Subject"] == "Що сталося з вашими пропозиціями: «Тарифи на проїзд»"
        assert msg["Message-ID"].startswith("<delivery-") and ".feedback-10" in msg["Message-ID"]
        assert msg["List-Unsubscribe"].startswith("<https://consult.example/api/v1/unsubscribe?token=")
    assert "Обґрунтування: Причина 0" in bodies["a0@example.org"] and "Причина 1" not in bodies["a0@example.org"]
    assert "Результат розгляду: не враховано" in bodies["a2@example.org"]
    assert len({m for m in (message_from_bytes(r)["Message-ID"] for _, r in smtp.accepted)}) == 3


def test_R_3_16_a_contributor_who_did_not_choose_email_is_skipped_and_the_html_is_escaped():
    """Clause R-3.16."""
    store, contacts = feedback_world(2)
    gone = next(iter(contacts))
    del contacts[gone]
    store.feedback_rows[101].items[0]["justification"] = "<script>x</script>"
    smtp = FakeSmtp()
    assert run_sender(store, contacts, smtp) == 1
    assert store.statuses() == {"sent": 1, "skipped": 1}
    html = message_from_bytes(smtp.accepted[0][1], policy=policy.default).get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
