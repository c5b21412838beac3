"""chassis.consumer.once_per_event: each event applied once, under a key that does not move.

The keys are the dedupe history in ``processed_events`` of every deployed database: a changed key
would apply every event still in flight (or replayed from a dead-letter queue) a second time. The
pinned table below is the list of keys in use; a renamed handler keeps its row by passing
``key=`` with the old value."""
from __future__ import annotations

import uuid

import pytest

from chassis.consumer import handler_key, once_keys, once_per_event
from chassis.errors import InvalidEvent
from chassis.events import make_envelope
from contracts.consultations import CommentSubmitted
from services.consultations.service import ConsultationsService
from services.moderation.service import ModerationService
from services.notifications.service import NotificationsService
from services.reports.service import ReportsService
from tests.support.fakes import FakeUnitOfWork, MemoryStore

PINNED = {
    ConsultationsService: {m: f"consultations.{m}" for m in (
        "on_comment_approved", "on_comment_rejected", "on_initiative_approved", "on_initiative_rejected",
        "on_report_published")},
    ModerationService: {"on_comment_submitted": "moderation.on_comment_submitted",
                        "on_consultation_submitted": "moderation.on_consultation_submitted"},
    NotificationsService: {"on_comment_rejected": "notifications.on_comment_rejected",
                           "on_initiative_status_changed": "notifications.on_initiative_status_changed"},
    ReportsService: {m: f"reports.{m}" for m in (
        "on_comment_published", "on_comment_rejected", "on_comment_submitted", "on_decision_published",
        "on_survey_answered")},
}


@pytest.mark.parametrize("service", list(PINNED), ids=lambda s: s.name)
def test_dedupe_keys_are_the_ones_deployed_databases_hold(service):
    assert once_keys(service) == PINNED[service]


def submitted() -> CommentSubmitted:
    return CommentSubmitted(comment_id=uuid.uuid4(), consultation_id=uuid.uuid4(), author_id=uuid.uuid4(),
                            author_name="А", body="Текст", submitted_at="2026-11-27T10:00:00+00:00")


class Service:
    name = "demo"

    def __init__(self):
        self.store = MemoryStore()
        self.uow = FakeUnitOfWork(self.store)
        self.seen = []

    @once_per_event(CommentSubmitted)
    def on_comment(self, store, data):
        self.seen.append(data.comment_id)

    @once_per_event(CommentSubmitted, key="demo.on_comment")
    def on_comment_renamed(self, store, data, env):
        self.seen.append(env.event_id)

    @once_per_event(CommentSubmitted)
    def on_failing(self, store, data):
        store.add_event("half-done")
        raise RuntimeError("boom")


def test_a_redelivered_event_is_applied_once_under_the_derived_key():
    service, env = Service(), make_envelope(submitted())
    payload = env.model_dump(mode="json")
    service.on_comment(payload)
    service.on_comment(payload)
    assert service.seen == [uuid.UUID(payload["data"]["comment_id"])]
    assert service.store.claims == {(handler_key("demo", "on_comment"), env.event_id)}


def test_a_renamed_handler_with_its_old_key_keeps_its_history_and_may_take_the_envelope():
    service, env = Service(), make_envelope(submitted())
    service.on_comment(env.model_dump(mode="json"))
    service.on_comment_renamed(env.model_dump(mode="json"))
    assert len(service.seen) == 1
    assert once_keys(type("S", (Service,), {"name": "demo"}))["on_comment_renamed"] == "demo.on_comment"


def test_a_failing_handler_leaves_no_claim_so_the_retry_applies_it():
    service, payload = Service(), make_envelope(submitted()).model_dump(mode="json")
    with pytest.raises(RuntimeError):
        service.on_failing(payload)
    assert not service.store.claims and not service.store.events


def test_an_event_that_does_not_fit_its_contract_is_refused_before_any_claim():
    service = Service()
    payload = make_envelope(submitted()).model_dump(mode="json")
    del payload["data"]["body"]
    with pytest.raises(InvalidEvent):
        service.on_comment(payload)
    assert not service.store.claims


class Batched:
    """Handlers that only record events (R-3.16's read model, R-3.7's screening record)."""

    name = "demo-batched"

    def __init__(self):
        self.store = MemoryStore()
        self.uow = FakeUnitOfWork(self.store)
        self.seen = []

    @once_per_event(CommentSubmitted, batch=True)
    def on_comment(self, store, data):
        if data.body == "погано":
            raise RuntimeError("boom")
        store.add_event(data.comment_id)
        self.seen.append(data.comment_id)


def _concurrently(service, payloads):
    import eventlet

    def one(payload):
        try:
            service.on_comment(payload)
            return "ok", service.uow.commits
        except RuntimeError:
            return "failed", None

    return list(eventlet.GreenPool(len(payloads)).imap(one, payloads))


def test_r_3_16_events_that_arrive_together_share_one_transaction_and_return_after_its_commit():
    service = Batched()
    payloads = [make_envelope(submitted()).model_dump(mode="json") for _ in range(5)]
    results = _concurrently(service, payloads)
    assert service.uow.commits == 1  # one transaction for the five
    assert results == [("ok", 1)] * 5  # each handler returned (its message is acked) after that commit
    assert len(service.store.claims) == 5 and len(service.seen) == 5


def test_r_3_16_a_bad_event_in_a_batch_fails_alone_and_a_redelivery_in_a_batch_is_a_no_op():
    service = Batched()
    good = [make_envelope(submitted()).model_dump(mode="json") for _ in range(3)]
    bad = make_envelope(submitted().model_copy(update={"body": "погано"})).model_dump(mode="json")
    results = _concurrently(service, [*good, bad, good[0]])
    assert [r for r, _ in results] == ["ok", "ok", "ok", "failed", "ok"]
    assert {e for e in service.store.events} == {uuid.UUID(p["data"]["comment_id"]) for p in good}
    assert bad["event_id"] not in {str(e) for _, e in service.store.claims}  # retried later, applied then
    assert len(service.store.claims) == 3 and service.uow.commits == 4  # after the batch failed: each alone


def test_r_3_16_a_batch_closes_early_once_half_the_workers_wait_so_consuming_never_stops(monkeypatch):
    """The batch window is a bound, not a wait to serve in full: once half the service's workers hold
    an event of it, it commits, so a busy queue keeps flowing (each event holds a worker until then)."""
    import time

    from chassis.settings import get_settings

    monkeypatch.setenv("EVENT_BATCH_SECONDS", "5")
    monkeypatch.setenv("MAX_WORKERS", "8")
    get_settings.cache_clear()
    try:
        service = Batched()
        started = time.monotonic()
        results = _concurrently(service, [make_envelope(submitted()).model_dump(mode="json") for _ in range(4)])
        took = time.monotonic() - started
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert results == [("ok", 1)] * 4 and service.uow.commits == 1
    assert took < 1.0, f"the batch waited {took:.1f} s with half the workers in it"


def test_the_public_feed_writer_closes_its_window_once_half_the_workers_wait(monkeypatch):
    """The partners' feed commits its events the same way (one transaction for those that arrived
    together), and never holds its workers for the whole window."""
    import time

    import eventlet

    from chassis.settings import get_settings
    from services.notifications.webhook_handlers import FeedWriter

    class Store:
        def record_public_events(self, rows):
            written.append(list(rows))
            return len(rows)

    class Uow:
        from contextlib import contextmanager

        @contextmanager
        def transaction(self):
            yield Store()

    written: list = []
    monkeypatch.setenv("EVENT_BATCH_SECONDS", "5")
    monkeypatch.setenv("MAX_WORKERS", "8")
    get_settings.cache_clear()
    try:
        writer, started = FeedWriter(), time.monotonic()
        list(eventlet.GreenPool(4).imap(lambda n: writer.write({"n": n}, Uow()), range(4)))
        took = time.monotonic() - started
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert [len(rows) for rows in written] == [4]
    assert took < 1.0, f"the feed waited {took:.1f} s with half the workers in it"


def test_the_feed_writer_wakes_the_webhook_senders_only_when_a_subscription_wants_the_events():
    """Events no subscription wants queue no delivery: the senders are not woken to claim nothing
    (a claim query per public event, when no partner subscribed)."""
    from contextlib import contextmanager

    from services.notifications import webhook_handlers as wh

    queued = []

    class Store:
        def record_public_events(self, rows):
            return queued.pop(0)

    class Uow:
        @contextmanager
        def transaction(self):
            yield Store()

    writer = wh.FeedWriter()
    for deliveries, woken in ((0, False), (2, True)):
        wh.WAKE.clear()
        queued.append(deliveries)
        writer.write({"event_id": "e"}, Uow())
        assert wh.WAKE._event.ready() is woken, f"{deliveries} deliveries queued"
    wh.WAKE.clear()
