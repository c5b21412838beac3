"""The nameko entrypoints of webhooks and the public event feed, mixed into the notifications
service (docs/webhooks.md): one subscription per public event type writes the feed and queues
deliveries; a timer keeps a pool of senders busy; RPCs for administrators and the feed (entrypoints
only: the work in webhook_handlers.py, the SQL in webhook_store.py, the rules in webhook_domain.py)."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer

from chassis.consumer import subscribe
from chassis.errors import InvalidInput, NotFound, ServiceError
from chassis.events import Envelope
from chassis.faults import fault_point
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from contracts import public_events
from contracts.notifications import Notifications
from contracts.webhooks import FeedQuery, ReplayIn, SubscriptionIn
from services.notifications import webhook_domain as wd, webhook_handlers as wh, webhook_http
from services.notifications.webhook_store import WebhookStore

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0
USER_AGENT = "econsult-webhooks/1"


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
        wh.FEED_WRITER.write(row, self.webhook_uow)

    handler.__name__ = f"feed_{source}_{event_type}"
    handler.__doc__ = f"{source}.{event_type} into the public feed and the webhook queue"
    return subscribe(source, event_type, version=None)(handler)  # the feed keeps every version


def _uuid_or_404(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} не знайдено") from None


class WebhookEntrypoints:
    webhook_guard = WebhookSettingsGuard()

    @property
    def webhook_uow(self) -> UnitOfWork[WebhookStore]:
        return UnitOfWork(self.db, WebhookStore)

    locals().update({f"feed_{s}_{t}": _feed_handler(s, t) for s, t in public_events.PUBLIC})

    # ---- sending --------------------------------------------------------------------------------
    @timer(interval=get_settings().webhook_poll_seconds)
    def send_webhooks(self):
        """Keep the process's senders busy for a while: claim due deliveries in batches as senders
        come free (none of a paused subscription, one of a probed one), and sleep until an event is
        queued here, a sender comes free or the poll interval passes; never wait for a receiver here."""
        s = get_settings()
        pool, until = wh.pool(), time.monotonic() + DRAIN_SECONDS
        token = uuid.uuid4()
        wh.give_back_stuck(self.webhook_uow, s)
        batch = max(1, s.webhook_concurrency // 4)  # claims in batches: one query per few free senders
        while time.monotonic() < until:
            wh.WAKE.clear()
            free = pool.free()
            jobs = []
            if free >= batch or (free and pool.running() == 0):
                jobs = wh.claim(self.webhook_uow, free, s.webhook_per_subscription, token)
                for job in jobs:
                    pool.spawn_n(self._deliver, job)
                wh.WAKE.saturated = len(jobs) == free
            if len(jobs) < free or not free:  # nothing more due now, or no sender free: wait for news
                wh.WAKE.wait(min(s.webhook_poll_seconds, until - time.monotonic()))
                eventlet.sleep(0.005)  # let a burst of events land before the next claim

    @timer(interval=60)
    def expire_webhook_deliveries(self):
        """Deliveries past the retry window fail, even those of a paused subscription."""
        s = get_settings()
        flipped = wh.expire(self.webhook_uow, s.webhook_retry_window_seconds)
        for sub_id, contact in flipped:
            self._tell_owner(sub_id, None, contact)

    def _deliver(self, job: wd.Job) -> None:
        s = get_settings()
        try:
            stamp = int(time.time())
            headers = {"Content-Type": public_events.CONTENT_TYPE, "User-Agent": USER_AGENT,
                       **wh.webhook_sign_headers(job, stamp)}
            answer = webhook_http.post(job.url, job.body, headers, s)
            ok = answer.status is not None and 200 <= answer.status < 300
            if ok:
                fault_point("notifications.webhook_after_response")
            wh.CIRCUITS.record(job.subscription_id, ok or answer.status == 410, s)
            recorded = wh.RECORDER.add(wd.Result(job, answer.status, answer.latency_ms, answer.excerpt, answer.error),
                                       self.webhook_uow)
            for result, outcome in recorded:
                if outcome.state not in ("delivered", "lost"):
                    log.info("webhook delivery %s to subscription %s: %s (%s)", result.job.delivery_id,
                             result.job.subscription_id, outcome.state, result.error or result.status)
                if outcome.newly_failing:
                    self._tell_owner(result.job.subscription_id, result.job.event_id, outcome.owner_contact)
        except Exception:  # the row stays `sending` and is retried after WEBHOOK_STUCK_SECONDS
            log.exception("webhook delivery %s crashed", job.delivery_id)
        finally:
            if wh.WAKE.saturated:
                wh.WAKE.set()

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
        gone = wh.purge(self.webhook_uow, get_settings().event_feed_retention_days)
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
        sub, secret = wh.create_subscription(self.webhook_uow, body.url, body.event_types, body.description,
                                             body.owner_contact, admin_id)
        log.info("webhook subscription %s created", sub["id"])
        return _json({**sub, "secret": secret})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_list(self) -> dict:
        return _json({"items": wh.list_subscriptions(self.webhook_uow)})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_get(self, sub_id: str) -> dict:
        return _json(wh.get_subscription(self.webhook_uow, _uuid_or_404(sub_id, "Підписку")))

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_rotate_secret(self, sub_id: str) -> dict:
        grace = timedelta(hours=get_settings().webhook_secret_grace_hours)
        secret, sub = wh.rotate_secret(self.webhook_uow, _uuid_or_404(sub_id, "Підписку"), grace)
        log.info("webhook subscription %s: secret rotated", sub_id)
        return _json({"secret": secret, "previous_secret_until": sub["previous_secret_until"]})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_disable(self, sub_id: str) -> dict:
        return _json(wh.disable(self.webhook_uow, _uuid_or_404(sub_id, "Підписку")))

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_deliveries(self, sub_id: str, limit: int = 50, before: int | None = None) -> dict:
        sid = _uuid_or_404(sub_id, "Підписку")
        items = wh.deliveries(self.webhook_uow, sid, limit, before)
        return _json({"items": items, "next_before": items[-1]["id"] if len(items) == limit else None})

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_resend(self, sub_id: str, delivery_id: int) -> dict:
        wh.resend(self.webhook_uow, _uuid_or_404(sub_id, "Підписку"), delivery_id)
        return {"queued": 1}

    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def webhook_replay(self, sub_id: str, body: ReplayIn) -> dict:
        if body.until <= body.since:
            raise InvalidInput("Кінець проміжку має бути пізніше за початок",
                               errors=[{"field": "until", "message": "має бути пізніше за since"}])
        sid = _uuid_or_404(sub_id, "Підписку")
        return {"queued": wh.replay(self.webhook_uow, sid, body.since, body.until)}

    # ---- the public feed ------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Notifications.serves
    def event_feed(self, query: FeedQuery) -> dict:
        items, next_after = wh.feed(self.webhook_uow, query.after, query.type_list(), query.limit)
        return _json({"items": items, "next_after": next_after})


def _json(value):
    """Plain JSON types for the RPC reply (kombu would wrap datetimes and UUIDs)."""
    import json

    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
