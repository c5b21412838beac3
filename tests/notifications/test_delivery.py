"""The senders' loop (handlers.Sender) over an in-memory store and SMTP server: who gets an e-mail,
what happens on SMTP failures, and how `sent` is committed (R-1.10, R-3.4)."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from email import message_from_bytes, policy

from contracts.registry import MailContact
from services.notifications import handlers, rules
from tests.notifications.fakes import FakeDeliveries, FakeSmtp, fanout, settings

CATEGORIES = {3: "Транспорт", 5: "Освіта"}


def world(n: int, **kw):
    cid = uuid.uuid4()
    store = FakeDeliveries()
    store.fanout_rows[cid] = fanout(cid)
    people = {uuid.uuid4(): f"p{i}@example.org" for i in range(n)}
    for person in people:
        store.add(person, cid)
    contacts = {str(p): {"full_name": f"Мешканець {e}", "email": e} for p, e in people.items()}
    return store, contacts, cid, kw


def sender(store, contacts, smtp, **kw):
    def mail_contacts(ids):  # the registry's answer, as its typed client gives it
        return {str(i): MailContact(**contacts[str(i)]) for i in ids if str(i) in contacts}

    return handlers.Sender(store, mail_contacts, smtp, settings(**kw),
                           CATEGORIES, handlers.unsubscribe_serializer("secret"))


def test_r_1_10_every_selected_person_gets_one_email_rendered_once_per_consultation():
    store, contacts, cid, _ = world(12)
    smtp = FakeSmtp()
    assert sender(store, contacts, smtp).drain() == 12
    assert sorted(to for to, _ in smtp.accepted) == sorted(c["email"] for c in contacts.values())
    assert store.statuses() == {"sent": 12}
    assert store.fanout_reads == 1, "the consultation is read and rendered once, not per batch or e-mail"
    msg = message_from_bytes(smtp.accepted[0][1], policy=policy.default)
    assert msg["Subject"] == "Розпочато консультацію: Тарифи на проїзд"
    assert msg["Message-ID"].endswith(f".{cid}@econsult>")
    assert msg["List-Unsubscribe"].startswith("<https://consult.example/api/v1/unsubscribe?token=")
    assert smtp.closed == 1


def test_r_1_10_sent_is_committed_in_groups_of_at_most_smtp_sent_group():
    """The exactly-once window: no more than SMTP_SENT_GROUP accepted e-mails wait for one commit,
    and a claimed batch is committed before the next claim."""
    store, contacts, _, _ = world(12)
    sender(store, contacts, FakeSmtp(), smtp_sent_group=3, smtp_batch=5).drain()
    assert [len(c) for c in store.sent_commits] == [3, 2, 3, 2, 2]
    assert sorted(i for c in store.sent_commits for i in c) == sorted(store.rows)


def test_r_1_10_a_person_who_left_the_register_since_selection_is_skipped():
    store, contacts, _, _ = world(4)
    gone = next(iter(contacts))
    del contacts[gone]
    smtp = FakeSmtp()
    assert sender(store, contacts, smtp).drain() == 3
    assert store.statuses() == {"sent": 3, "skipped": 1}
    assert [r.last_error for r in store.rows.values() if r.status == "skipped"] == ["no longer in the register"]


def test_r_3_4_a_temporary_failure_is_tried_again_later_and_a_permanent_one_never():
    store, contacts, _, _ = world(3)
    temporary, permanent = [c["email"] for c in contacts.values()][:2]
    smtp = FakeSmtp({temporary: ["451 4.3.0 try later"], permanent: ["550 5.1.1 no such mailbox"]})
    assert sender(store, contacts, smtp).drain() == 1
    by_email = {contacts[str(r.person_id)]["email"]: r for r in store.rows.values()}
    assert (by_email[temporary].status, by_email[temporary].next_delay) == ("pending", timedelta(seconds=2))
    assert (by_email[permanent].status, by_email[permanent].last_error) == ("failed", "550 5.1.1 no such mailbox")


def test_r_1_10_an_unbuildable_title_fails_its_rows_and_the_others_go_out():
    store, contacts, cid, _ = world(3)
    other = uuid.uuid4()
    store.fanout_rows[cid] = fanout(cid, title="Стара назва\nBcc: victim@evil.example")
    store.fanout_rows[other] = fanout(other, title="Сквер")
    store.add(uuid.UUID(next(iter(contacts))), other)
    smtp = FakeSmtp()
    assert sender(store, contacts, smtp).drain() == 1
    assert {r.last_error for r in store.rows.values() if r.status == "failed"} == {"unbuildable: ValueError"}
    assert all(b"victim" not in data for _, data in smtp.accepted)


def test_r_1_10_a_row_taken_back_by_another_sender_is_not_sent_once_the_claim_is_no_longer_fresh():
    store, contacts, _, _ = world(3)
    store.taken_back.add(2)
    smtp = FakeSmtp()
    assert sender(store, contacts, smtp, delivery_stuck_seconds=0.0).drain() == 2
    assert store.rows[2].status == "sending" and len(smtp.accepted) == 2


def test_r_1_10_a_daily_digest_lists_its_day_and_is_rendered_once_per_listing():
    store, contacts, cid, _ = world(0)
    day = date(2026, 12, 1)
    listing = [fanout(uuid.uuid4(), "Сквер", 5), fanout(cid, "Тарифи", 3)]
    people = [uuid.uuid4() for _ in range(3)]
    for i, p in enumerate(people):
        store.add(p, None, kind=rules.DIGEST, day=day)
        contacts[str(p)] = {"full_name": f"Мешканка {i}", "email": f"d{i}@example.org"}
        store.digests[(p, day)] = listing if i < 2 else []
    smtp = FakeSmtp()
    s = sender(store, contacts, smtp)
    assert s.drain() == 2
    assert store.statuses() == {"sent": 2, "skipped": 1}
    assert len([k for k in s.prepared if isinstance(k, tuple)]) == 1
    body = message_from_bytes(smtp.accepted[0][1], policy=policy.default).get_body(("plain",)).get_content()
    assert "== Освіта ==" in body and "«Тарифи»" in body
    assert message_from_bytes(smtp.accepted[0][1], policy=policy.default)["Message-ID"].endswith(
        f".digest-{day.isoformat()}@econsult>")


def test_r_1_10_an_accepted_email_is_committed_on_time_while_the_next_exchange_hangs():
    """A slow SMTP exchange must not keep the previous e-mail's row `sending` until another sender
    takes it back and sends it again."""
    import eventlet

    store, contacts, _, _ = world(2)
    committed_meanwhile = []

    class SlowSecond(FakeSmtp):
        def send_raw(self, from_addr, to_addr, data):
            if self.accepted:
                eventlet.sleep(1.0)
                committed_meanwhile.extend(i for c in store.sent_commits for i in c)
            super().send_raw(from_addr, to_addr, data)

    assert sender(store, contacts, SlowSecond(), smtp_sent_group=20).drain() == 2
    assert committed_meanwhile == [1]


def test_r_1_10_a_slow_exchange_keeps_its_row_claimed_so_no_other_sender_takes_it_back():
    """An SMTP exchange longer than the stuck limit (a slow or tarpitting server) must keep touching
    its row; otherwise another sender gives it back and the person gets the e-mail twice."""
    import eventlet

    store, contacts, _, _ = world(1)
    touched = []
    mine = store.still_mine

    def still_mine(delivery_id, token):
        touched.append(delivery_id)
        return mine(delivery_id, token)

    store.still_mine = still_mine

    class Slow(FakeSmtp):
        def send_raw(self, from_addr, to_addr, data):
            eventlet.sleep(1.0)
            super().send_raw(from_addr, to_addr, data)

    assert sender(store, contacts, Slow(), delivery_stuck_seconds=0.6).drain() == 1
    assert len(touched) >= 3 and set(touched) == {1}


def test_r_1_10_an_idle_tick_claims_nothing_and_opens_one_transaction():
    """The once-a-second send timer, with nothing due or stuck: one cheap check, no sender claims
    (their claims were most of an idle instance's CPU), finished fan-outs still completed."""
    from contextlib import contextmanager

    class Store:
        def __init__(self, due):
            self.due, self.checks, self.completions = due, 0, 0

        def anything_to_send(self, stuck_after):
            self.checks += 1
            return self.due

        def complete_finished(self):
            self.completions += 1
            return []

        @property
        def session(self):
            raise AssertionError("a sender claimed on an idle tick")

    class Uow:
        def __init__(self, store):
            self.store, self.transactions = store, 0

        @contextmanager
        def transaction(self):
            self.transactions += 1
            yield self.store

    uow = Uow(Store(due=False))
    assert handlers.send_due(uow, lambda ids: {}, settings(secret_key="s", smtp_concurrency=2, smtp_host="x",
                                                            smtp_port=1, smtp_tls=False, smtp_user=None,
                                                            smtp_password=None, smtp_rate_per_second=0),
                             CATEGORIES) == 0
    assert (uow.transactions, uow.store.checks, uow.store.completions) == (1, 1, 1)
