"""Webhooks and the public event feed behind their entrypoints (``webhook_service.py``): the group
commits of the feed and of the attempts, the per-subscription circuits, the senders' wake-up, and the
administrators' and the feed's use cases, each over the unit of work of ``WebhookStore``."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

import eventlet
import eventlet.event

from chassis.consumer import BatchWindow
from chassis.errors import NotFound
from chassis.settings import get_settings
from services.notifications import webhook_domain as wd

log = logging.getLogger(__name__)
_POOL: dict[str, eventlet.GreenPool] = {}


def pool() -> eventlet.GreenPool:
    if "senders" not in _POOL:
        _POOL["senders"] = eventlet.GreenPool(get_settings().webhook_concurrency)
    return _POOL["senders"]


class Wakeup:
    """Wakes the sending loop early: a new event was queued here, or a sender came free while more
    deliveries were due than senders were free (``saturated``)."""

    def __init__(self):
        self._event = eventlet.event.Event()
        self.saturated = False

    def set(self) -> None:
        if not self._event.ready():
            self._event.send(True)

    def clear(self) -> None:
        if self._event.ready():
            self._event = eventlet.event.Event()

    def wait(self, seconds: float) -> None:
        with eventlet.Timeout(max(0.0, seconds), False):
            self._event.wait()


WAKE = Wakeup()


class Circuits:
    """Per subscription, in this process: after ``THRESHOLD`` failed attempts in a row its deliveries
    are not claimed for a while (growing like the retries, at most ``MAX_PAUSE`` s), then one probe at
    a time until one succeeds. A receiver that is down costs a few attempts a minute instead of a
    sender busy with it all the time; each delivery keeps its own retry schedule and window."""

    THRESHOLD = 5
    MAX_PAUSE = 60.0

    def __init__(self):
        self.failures: dict[uuid.UUID, int] = {}
        self.opened: dict[uuid.UUID, int] = {}
        self.until: dict[uuid.UUID, float] = {}

    def record(self, sub: uuid.UUID, ok: bool, settings, clock=time.monotonic) -> None:
        if ok:
            for d in (self.failures, self.opened, self.until):
                d.pop(sub, None)
            return
        self.failures[sub] = self.failures.get(sub, 0) + 1
        if self.failures[sub] >= self.THRESHOLD and self.until.get(sub, 0) <= clock():
            self.opened[sub] = self.opened.get(sub, 0) + 1
            self.until[sub] = clock() + wd.backoff(self.opened[sub], settings.webhook_retry_base_seconds,
                                                   min(self.MAX_PAUSE, settings.webhook_retry_cap_seconds))
            log.info("webhook subscription %s: %d failed attempts in a row, paused", sub, self.failures[sub])

    def paused(self, clock=time.monotonic) -> list[uuid.UUID]:
        return [s for s, u in self.until.items() if u > clock()]

    def probing(self, clock=time.monotonic) -> list[uuid.UUID]:
        return [s for s, u in self.until.items() if u <= clock()]


CIRCUITS = Circuits()


class FeedWriter:
    """Group commit of the feed: an event handler that finds no write under way waits
    (:class:`chassis.consumer.BatchWindow`: ``EVENT_BATCH_SECONDS`` at most), then writes every
    event that has arrived meanwhile in one transaction
    (one feed lock, one statement); the others wait for the commit that carries theirs, so each
    message is still acknowledged only after it."""

    BATCH = 500

    def __init__(self):
        self.pending: list[tuple[dict, eventlet.event.Event]] = []
        self.busy = False
        self.window = BatchWindow()

    def write(self, row: dict, uow) -> None:
        done = eventlet.event.Event()
        self.pending.append((row, done))
        if self.busy:
            self.window.arrived(len(self.pending))
        else:
            self.busy = True
            try:
                self.window.wait(get_settings().event_batch_seconds)  # let the events arriving meanwhile join
                while self.pending:
                    batch, self.pending = self.pending[:self.BATCH], self.pending[self.BATCH:]
                    try:
                        with uow.transaction() as store:
                            queued = store.record_public_events([r for r, _ in batch])
                    except Exception as exc:
                        for _, waiter in batch:
                            waiter.send_exception(exc)
                        continue
                    for _, waiter in batch:
                        waiter.send(None)
                    if queued:  # no subscription wants them: the senders have nothing new to claim
                        WAKE.set()
            finally:
                self.busy = False
        done.wait()


FEED_WRITER = FeedWriter()


class Recorder:
    """Group commit of attempts: a sender that finds no write under way records every answer that
    has arrived meanwhile in one transaction (the others just leave theirs). A crash before the write
    leaves the rows ``sending``; they are sent again (same ``webhook-id``) once stuck."""

    BATCH = 500

    def __init__(self):
        self.pending: list[wd.Result] = []
        self.busy = False

    def add(self, result: wd.Result, uow) -> list[tuple[wd.Result, wd.Outcome]]:
        self.pending.append(result)
        if self.busy:
            return []
        self.busy, done = True, []
        try:
            while self.pending:
                batch, self.pending = self.pending[:self.BATCH], self.pending[self.BATCH:]
                try:
                    with uow.transaction() as store:
                        done += zip(batch, store.finish_many(batch, get_settings()))
                    WAKE.set()  # their subscriptions may take more now
                except Exception:
                    log.exception("could not record %d webhook attempts; they are retried once stuck", len(batch))
        finally:
            self.busy = False
        return done


RECORDER = Recorder()


def stuck_after(s) -> timedelta:
    """A claimed delivery is given back only once no sender can still be waiting for its answer."""
    return timedelta(seconds=max(s.webhook_stuck_seconds, s.webhook_connect_timeout + s.webhook_timeout + 5))


def webhook_sign_headers(job: wd.Job, stamp: int) -> dict[str, str]:
    from services.notifications.webhook_signing import headers

    return headers(job.secrets, str(job.event_id), stamp, job.body)




# ---- the use cases of the entrypoints ---------------------------------------------------------------

def give_back_stuck(uow, settings) -> int:
    with uow.transaction() as store:
        return store.give_back_stuck(stuck_after(settings))


def claim(uow, free: int, per_subscription: int, token: uuid.UUID) -> list[wd.Job]:
    with uow.transaction() as store:
        return store.claim(free, per_subscription, token, CIRCUITS.paused(), CIRCUITS.probing())


def expire(uow, window_seconds: float) -> list[tuple[uuid.UUID, str]]:
    with uow.transaction() as store:
        return store.expire(window_seconds)


def purge(uow, retention_days: int) -> int:
    with uow.transaction() as store:
        return store.purge(retention_days)


def create_subscription(uow, url: str, event_types: list[str], description: str, owner_contact: str,
                        created_by: uuid.UUID | None) -> tuple[dict, str]:
    with uow.transaction() as store:
        return store.create_subscription(url, event_types, description, owner_contact, created_by)


def list_subscriptions(uow) -> list[dict]:
    with uow.transaction() as store:
        return store.list_subscriptions()


def _found(sub: dict | None) -> dict:
    if sub is None:
        raise NotFound("Підписку не знайдено", code="webhook_not_found")
    return sub


def get_subscription(uow, sub_id: uuid.UUID) -> dict:
    with uow.transaction() as store:
        sub = store.get_subscription(sub_id)
    return _found(sub)


def rotate_secret(uow, sub_id: uuid.UUID, grace: timedelta) -> tuple[str, dict]:
    """A new secret and the subscription as it is now."""
    with uow.transaction() as store:
        secret = store.rotate_secret(sub_id, grace)
        sub = store.get_subscription(sub_id)
    if secret is None:
        raise NotFound("Підписку не знайдено", code="webhook_not_found")
    return secret, sub


def disable(uow, sub_id: uuid.UUID) -> dict:
    with uow.transaction() as store:
        if not store.disable(sub_id, "disabled by an administrator"):
            raise NotFound("Підписку не знайдено", code="webhook_not_found")
        return store.get_subscription(sub_id)


def deliveries(uow, sub_id: uuid.UUID, limit: int, before: int | None) -> list[dict]:
    with uow.transaction() as store:
        _found(store.get_subscription(sub_id))
        return store.deliveries(sub_id, limit, before)


def resend(uow, sub_id: uuid.UUID, delivery_id: int) -> None:
    with uow.transaction() as store:
        if not store.resend(sub_id, delivery_id):
            raise NotFound("Доставку не знайдено (або вона саме надсилається)", code="delivery_not_found")


def replay(uow, sub_id: uuid.UUID, since: datetime, until: datetime) -> int:
    with uow.transaction() as store:
        _found(store.get_subscription(sub_id))
        return store.replay(sub_id, since, until)


def feed(uow, after: int, types: list[str], limit: int) -> tuple[list[dict], int]:
    with uow.transaction() as store:
        return store.feed(after, types, limit)
