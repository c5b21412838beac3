"""The nameko entrypoints of webhooks and the public event feed, mixed into the notifications
service (docs/webhooks.md): one subscription per public event type writes the feed and queues
deliveries; a timer keeps a pool of senders busy; RPCs for administrators and the feed."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage

import eventlet
import eventlet.event
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer

from chassis.consumer import subscribe
from chassis.errors import InvalidInput, NotFound, ServiceError
from chassis.events import Envelope
from chassis.faults import fault_point
from chassis.settings import get_settings
from contracts import public_events
from contracts.notifications import Notifications
from contracts.webhooks import FeedQuery, ReplayIn, SubscriptionIn
from services.notifications import webhook_domain as wd, webhook_http

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0
USER_AGENT = "econsult-webhooks/1"
_POOL: dict[str, eventlet.GreenPool] = {}


class WebhookSettingsGuard(DependencyProvider):
    """Refuses to start with the test-only loopback allowance in production."""

    def setup(self):
        webhook_http.refuse_in_production(get_settings())


def _feed_handler(source: str, event_type: str):
    def handler(self, payload):
        env = Envelope.model_validate(payload)
        row = public_events.from_envelope(source, env)
        if row is None:
            return
        FEED_WRITER.write(row, self.db)

    handler.__name__ = f"feed_{source}_{event_type}"
    handler.__doc__ = f"{source}.{event_type} into the public feed and the webhook queue"
    return subscribe(source, event_type, version=None)(handler)  # the feed keeps every version


def _pool() -> eventlet.GreenPool:
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
    """Group commit of the feed: an event handler that finds no write under way writes every event
    that has arrived meanwhile in one transaction (one feed lock, one statement); the others wait
    for the commit that carries theirs, so each message is still acknowledged only after it."""

    BATCH = 500

    def __init__(self):
        self.pending: list[tuple[dict, eventlet.event.Event]] = []
        self.busy = False

    def write(self, row: dict, db) -> None:
        done = eventlet.event.Event()
        self.pending.append((row, done))
        if not self.busy:
            self.busy = True
            try:
                while self.pending:
                    batch, self.pending = self.pending[:self.BATCH], self.pending[self.BATCH:]
                    try:
                        with db.transaction() as session:
                            new = wd.record_public_events(session, [r for r, _ in batch])
                    except Exception as exc:
                        for _, waiter in batch:
                            waiter.send_exception(exc)
                        continue
                    for _, waiter in batch:
                        waiter.send(None)
                    if new:
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

    def add(self, result: wd.Result, db) -> list[tuple[wd.Result, wd.Outcome]]:
        self.pending.append(result)
        if self.busy:
            return []
        self.busy, done = True, []
        try:
            while self.pending:
                batch, self.pending = self.pending[:self.BATCH], self.pending[self.BATCH:]
                try:
                    with db.transaction() as session:
                        done += zip(batch, wd.finish_many(session, batch, get_settings()))
                    WAKE.set()  # their subscriptions may take more now
                except Exception:
                    log.exception("could not record %d webhook attempts; they are retried once stuck", len(batch))
        finally:
            self.busy = False
        return done


RECORDER = Recorder()


def _uuid_or_404(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} не знайдено") from None


class WebhookEntrypoints:
    webhook_guard = WebhookSettingsGuard()

    locals().update({f"feed_{s}_{t}": _feed_handler(s, t) for s, t in public_events.PUBLIC})

    # ---- sending --------------------------------------------------------------------------------
    @timer(interval=get_settings().webhook_poll_seconds)
    def send_webhooks(self):
        """Keep the process's senders busy for a while: claim due deliveries in batches as senders
        come free (none of a paused subscription, one of a probed one), and sleep until an event is
        queued here, a sender comes free or the poll interval passes; never wait for a receiver here."""
        s = get_settings()
        pool, until = _pool(), time.monotonic() + DRAIN_SECONDS
        token = uuid.uuid4()
        with self.db.transaction() as session:
            wd.give_back_stuck(session, stuck_after(s))
        batch = max(1, s.webhook_concurrency // 4)  # claims in batches: one query per few free senders
        while time.monotonic() < until:
            WAKE.clear()
            free = pool.free()
            jobs = []
            if free >= batch or (free and pool.running() == 0):
                with self.db.transaction() as session:
                    jobs = wd.claim(session, free, s.webhook_per_subscription, token, CIRCUITS.paused(),
                                    CIRCUITS.probing())
                for job in jobs:
                    pool.spawn_n(self._deliver, job)
                WAKE.saturated = len(jobs) == free
            if len(jobs) < free or not free:  # nothing more due now, or no sender free: wait for news
                WAKE.wait(min(s.webhook_poll_seconds, until - time.monotonic()))
                eventlet.sleep(0.005)  # let a burst of events land before the next claim

    @timer(interval=60)
    def expire_webhook_deliveries(self):
        """Deliveries past the retry window fail, even those of a paused subscription."""
        s = get_settings()
        with self.db.transaction() as session:
            flipped = wd.expire(session, s.webhook_retry_window_seconds)
        for sub_id, contact in flipped:
            self._tell_owner(sub_id, None, contact)

    def _deliver(self, job: wd.Job) -> None:
        s = get_settings()
        try:
            stamp = int(time.time())
            headers = {"Content-Type": public_events.CONTENT_TYPE, "User-Agent": USER_AGENT,
                       **webhook_sign_headers(job, stamp)}
            answer = webhook_http.post(job.url, job.body, headers, s)
            ok = answer.status is not None and 200 <= answer.status < 300
            if ok:
                fault_point("notifications.webhook_after_response")
            CIRCUITS.record(job.subscription_id, ok or answer.status == 410, s)
            recorded = RECORDER.add(wd.Result(job, answer.status, answer.latency_ms, answer.excerpt, answer.error),
                                    self.db)
            for result, outcome in recorded:
                if outcome.state not in ("delivered", "lost"):
                    log.info("webhook delivery %s to subscription %s: %s (%s)", result.job.delivery_id,
                             result.job.subscription_id, outcome.state, result.error or result.status)
                if outcome.newly_failing:
                    self._tell_owner(result.job.subscription_id, result.job.event_id, outcome.owner_contact)
        except Exception:  # the row stays `sending` and is retried after WEBHOOK_STUCK_SECONDS
            log.exception("webhook delivery %s crashed", job.delivery_id)
        finally:
            if WAKE.saturated:
                WAKE.set()

    def _tell_owner(self, sub_id, event_id, contact: str | None) -> None:
        from services.notifications import mailer

        s = get_settings()
        msg = EmailMessage(policy=mailer.POLICY)
        msg["From"], msg["To"] = s.smtp_from, contact
        msg["Subject"] = "Вебхук електронних консультацій не доставляється"
        what = f"доставка події {event_id}" if event_id else "доставка подій"
        msg.set_content(f"Підписка {sub_id} позначена як несправна: {what} "
                        f"не вдалася протягом {s.webhook_retry_window_seconds / 3600:g} год.\n"
                        "Нові події надсилатимуться й далі; журнал спроб бачать адміністратори платформи.\n")
        try:
            sender = mailer.SmtpSender(s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.smtp_password,
                                       s.smtp_rate_per_second)
            try:
                sender.send(msg)
            finally:
                sender.close()
        except Exception as exc:
            log.warning("could not tell the owner of subscription %s: %s", sub_id, exc)
        log.warning("webhook subscription %s is failing; its owner was told", sub_id)

    @timer(interval=3600)
    def purge_event_feed(self):
        with self.db.transaction() as session:
            gone = wd.purge(session, get_settings().event_feed_retention_days)
        if gone:
            log.info("event feed: %d events past the retention removed", gone)

    # ---- administrators -------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_create(self, admin_id: uuid.UUID, body: SubscriptionIn) -> dict:
        try:
            webhook_http.check_url(body.url, get_settings())
        except webhook_http.Refused as exc:
            raise InvalidInput("Цю адресу не можна використати для вебхука", code="webhook_url_refused",
                               errors=[{"field": "url", "message": str(exc)}]) from None
        with self.db.transaction() as session:
            sub, secret = wd.create_subscription(session, body.url, body.event_types, body.description,
                                                 body.owner_contact, admin_id)
        log.info("webhook subscription %s created", sub["id"])
        return _json({**sub, "secret": secret})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_list(self) -> dict:
        with self.db.transaction() as session:
            return _json({"items": wd.list_subscriptions(session)})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_get(self, sub_id: str) -> dict:
        with self.db.transaction() as session:
            sub = wd.get_subscription(session, _uuid_or_404(sub_id, "Підписку"))
        if sub is None:
            raise NotFound("Підписку не знайдено", code="webhook_not_found")
        return _json(sub)

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_rotate_secret(self, sub_id: str) -> dict:
        grace = timedelta(hours=get_settings().webhook_secret_grace_hours)
        with self.db.transaction() as session:
            secret = wd.rotate_secret(session, _uuid_or_404(sub_id, "Підписку"), grace)
            sub = wd.get_subscription(session, _uuid_or_404(sub_id, "Підписку"))
        if secret is None:
            raise NotFound("Підписку не знайдено", code="webhook_not_found")
        log.info("webhook subscription %s: secret rotated", sub_id)
        return _json({"secret": secret, "previous_secret_until": sub["previous_secret_until"]})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_disable(self, sub_id: str) -> dict:
        with self.db.transaction() as session:
            if not wd.disable(session, _uuid_or_404(sub_id, "Підписку"), "disabled by an administrator"):
                raise NotFound("Підписку не знайдено", code="webhook_not_found")
            return _json(wd.get_subscription(session, _uuid_or_404(sub_id, "Підписку")))

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_deliveries(self, sub_id: str, limit: int = 50, before: int | None = None) -> dict:
        sid = _uuid_or_404(sub_id, "Підписку")
        with self.db.transaction() as session:
            if wd.get_subscription(session, sid) is None:
                raise NotFound("Підписку не знайдено", code="webhook_not_found")
            items = wd.deliveries(session, sid, limit, before)
        return _json({"items": items, "next_before": items[-1]["id"] if len(items) == limit else None})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_resend(self, sub_id: str, delivery_id: int) -> dict:
        with self.db.transaction() as session:
            if not wd.resend(session, _uuid_or_404(sub_id, "Підписку"), delivery_id):
                raise NotFound("Доставку не знайдено (або вона саме надсилається)", code="delivery_not_found")
        return {"queued": 1}

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_replay(self, sub_id: str, body: ReplayIn) -> dict:
        if body.until <= body.since:
            raise InvalidInput("Кінець проміжку має бути пізніше за початок",
                               errors=[{"field": "until", "message": "має бути пізніше за since"}])
        sid = _uuid_or_404(sub_id, "Підписку")
        with self.db.transaction() as session:
            if wd.get_subscription(session, sid) is None:
                raise NotFound("Підписку не знайдено", code="webhook_not_found")
            return {"queued": wd.replay(session, sid, body.since, body.until)}

    # ---- the public feed ------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def event_feed(self, query: FeedQuery) -> dict:
        with self.db.transaction() as session:
            items, next_after = wd.feed(session, query.after, query.type_list(), query.limit)
        return _json({"items": items, "next_after": next_after})


def stuck_after(s) -> timedelta:
    """A claimed delivery is given back only once no sender can still be waiting for its answer."""
    return timedelta(seconds=max(s.webhook_stuck_seconds, s.webhook_connect_timeout + s.webhook_timeout + 5))


def webhook_sign_headers(job: wd.Job, stamp: int) -> dict[str, str]:
    from services.notifications.webhook_signing import headers

    return headers(job.secrets, str(job.event_id), stamp, job.body)


def _json(value):
    """Plain JSON types for the RPC reply (kombu would wrap datetimes and UUIDs)."""
    import json

    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
