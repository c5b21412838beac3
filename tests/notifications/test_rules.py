"""The notification rules as plain functions (R-1.10, R-3.4, R-3.11)."""
from __future__ import annotations

import ast
import uuid
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from contracts.registry import InterestedPerson
from services.notifications import rules


def test_r_1_10_a_person_in_digest_mode_waits_for_the_digest_everyone_else_is_emailed_at_once():
    a, b, c = (uuid.uuid4() for _ in range(3))
    digest, at_once = rules.split_by_mode([
        InterestedPerson(person_id=a, full_name="А", email="a@example.org", email_mode="daily_digest"),
        InterestedPerson(person_id=b, full_name="Б", email="b@example.org", email_mode="immediate"),
        InterestedPerson(person_id=c, full_name="В", email="c@example.org")])
    assert (digest, at_once) == ([a], [b, c])


def test_r_3_4_the_digest_goes_out_at_its_hour_kyiv_time_on_the_start_day():
    at = rules.digest_send_at(date(2026, 12, 1), 18, ZoneInfo("Europe/Kyiv"))
    assert (at.date(), at.hour, at.utcoffset()) == (date(2026, 12, 1), 18, timedelta(hours=2))


def test_r_3_4_temporary_failures_back_off_exponentially_until_the_attempts_are_spent():
    delays = [rules.after_failure("451", True, n).delay for n in range(1, rules.MAX_ATTEMPTS)]
    assert delays == [timedelta(seconds=2 ** n) for n in range(1, rules.MAX_ATTEMPTS)]
    assert rules.after_failure("451", True, 10).status == "failed"  # never reached with 8, still bounded
    spent = rules.after_failure("451 busy", True, rules.MAX_ATTEMPTS)
    assert (spent.status, spent.error, spent.delay) == ("failed", "retries_spent: 451 busy", None)
    assert rules.after_failure("550 no", False, 1) == rules.AfterFailure("failed", "550 no")
    assert rules.after_failure("x" * 900, True, 1).error == "x" * 500


def test_r_3_4_failed_rows_are_counted_by_cause():
    assert rules.failure_cause("failed", rules.unbuildable_reason(ValueError("x"))) == "unbuildable"
    assert rules.failure_cause("failed", "retries_spent: 451") == "retries_spent"
    assert rules.failure_cause("failed", "550 refused") == "smtp"
    assert rules.failure_cause("skipped", "no longer in the register") == "skipped"


def test_r_3_11_cabinet_messages_name_the_status_and_the_grounds():
    assert rules.initiative_message("Сквер", "forwarded")[0] == \
        "Ваша ініціатива «Сквер»: передано до структурного підрозділу"
    title, body = rules.rejection_message(["obscene", "unknown_code"], {"obscene": "Ненормативна лексика"})
    assert body == "Підстава (п. 3.7 Положення): Ненормативна лексика; unknown_code."


def test_r_1_10_sent_marks_wait_for_a_full_group_or_half_a_second():
    commits, now = [], [0.0]
    group = rules.SentGroup(commits.append, 3, now=lambda: now[0])
    for i in (1, 2, 3, 4):
        group.add(i)
    assert commits == [[1, 2, 3]]
    now[0] = 0.4
    group.flush_if_due()
    assert commits == [[1, 2, 3]]
    now[0] = 0.5
    group.flush_if_due()
    assert commits == [[1, 2, 3], [4]]
    group.flush()
    assert commits == [[1, 2, 3], [4]]


def test_the_rules_import_no_database_bus_or_web_library():
    tree = ast.parse(Path(rules.__file__).read_text())
    imported = {(n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [n])}
    assert not imported & {"sqlalchemy", "nameko", "eventlet", "flask", "kombu", "psycopg", "services", "chassis"}


def test_r_3_11_the_inbox_handlers_write_one_message_for_the_event():
    import uuid as _uuid
    from types import SimpleNamespace

    from services.notifications import handlers

    class Tx:
        def __init__(self):
            self.messages = []

        def notify(self, *args):
            self.messages.append(args)

    tx, env = Tx(), SimpleNamespace(event_id=_uuid.uuid4())
    cid, person = _uuid.uuid4(), _uuid.uuid4()
    handlers.tell_initiator(tx, env, SimpleNamespace(initiator_id=person, title="Сквер", status="declined",
                                                     consultation_id=cid), "https://consult.example/")
    handlers.tell_author(tx, env, SimpleNamespace(author_id=person, grounds=["obscene"]),
                         {"obscene": "Ненормативна лексика"})
    assert tx.messages == [
        (person, env.event_id, "Ваша ініціатива «Сквер»: відхилено підрозділом", "Подробиці — на сторінці ініціативи.",
         f"https://consult.example/consultations/{cid}"),
        (person, env.event_id, "Ваш коментар не оприлюднено", "Підстава (п. 3.7 Положення): Ненормативна лексика.",
         None)]
